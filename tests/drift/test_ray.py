"""`--ray` on a real local Ray cluster (ray.init() on this machine): the collector once per alive node."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import ray  # a test dependency (pyproject [test]); never skipped

from imagelock.drift.compare import LockIndex
from imagelock.drift.fleet_ray import audit_cluster
from imagelock.lock import codec as lockfile

from .test_local import local_lock


@pytest.fixture
def head(tmp_path: Path):
    """A separate Ray head (`ray start --head --block`), as on a real cluster; stopped by its own pid."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    short = tempfile.mkdtemp(prefix="ilray-", dir="/tmp")  # unix socket paths must stay under 108 bytes
    log = (tmp_path / "head.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ray.scripts.scripts",
            "start",
            "--head",
            "--block",
            "--node-ip-address",
            "127.0.0.1",
            "--port",
            str(port),
            "--num-cpus",
            "1",
            "--include-dashboard",
            "false",
            "--temp-dir",
            short,
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while "will now block forever" not in (tmp_path / "head.log").read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"ray head did not start: {(tmp_path / 'head.log').read_text()[-800:]}")
        time.sleep(0.2)
    yield f"127.0.0.1:{port}"
    proc.terminate()  # `ray start --block` stops the processes it started
    proc.wait(timeout=60)
    log.close()
    shutil.rmtree(short, ignore_errors=True)


def test_a_cluster_by_address(head, lock_cli, tmp_path: Path, monkeypatch) -> None:
    assert not ray.is_initialized()  # this test connects by address, as `lock drift --ray HOST:PORT` does
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "w.bin").write_bytes(b"12345")
    lock = local_lock(tmp_path / "models")
    lock.models[0].files[0].size = 6  # a planted difference the node must see
    path = tmp_path / "l.lock"
    path.write_text(lockfile.dumps(lock))
    run = lock_cli("drift", str(path), "--ray", head, "--format", "json", "--timeout", "60")
    data = json.loads(run.out)
    assert data["summary"] == {"machines": 1, "clean": 0, "drifted": 1, "unreachable": 0}
    assert [(f["layer"], f["kind"], f.get("detail")) for f in data["machines"][0]["findings"]] == [
        ("image", "missing", "no /etc/imagelock/lock.digest: not built from an imagelock lock"),
        ("models", "changed-hash", "size differs"),
    ]
    assert not ray.is_initialized()  # the connection lock drift opened is closed again


@pytest.fixture(scope="module")
def cluster():
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield ray.nodes()
    ray.shutdown()


def test_every_alive_node_is_audited(cluster, lock_cli, tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "w.bin").write_bytes(b"12345")
    lock = local_lock(tmp_path / "models")
    lock.python.venv = sys.prefix  # the node's Python is this interpreter: its venv is the locked one
    path = tmp_path / "l.lock"
    path.write_text(lockfile.dumps(lock))
    run = lock_cli("drift", str(path), "--ray", "auto", "--format", "json")
    data = json.loads(run.out)
    alive = [n for n in cluster if n["Alive"]]
    assert data["summary"]["machines"] == len(alive) == 1
    (machine,) = data["machines"]
    assert machine["target"].endswith("/" + alive[0]["NodeID"][:12])
    assert machine["findings"] == [
        {
            "layer": "image",
            "kind": "missing",
            "subject": "fingerprint",
            "expected": lock.image_name(),
            "detail": "no /etc/imagelock/lock.digest: not built from an imagelock lock",
        }
    ]
    assert run.code == 1


def test_a_node_that_does_not_answer_in_time_is_unreachable(cluster, tmp_path: Path) -> None:
    lock = local_lock(tmp_path)
    (audit,) = audit_cluster(LockIndex(lock), "auto", timeout=0.001)
    assert audit.error == "no answer within 0.001s (per-node timeout)"
