"""`--ray` on a real local Ray cluster (ray.init() on this machine): the collector once per alive node."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import ray  # a test dependency (pyproject [test]); never skipped

from imagelock import lockfile
from imagelock.drift.compare import LockIndex
from imagelock.drift.fleet_ray import audit_cluster
from .test_local import local_lock


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
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
    assert machine["findings"] == [{"layer": "image", "kind": "missing", "subject": "fingerprint",
                                    "expected": lock.image_name(),
                                    "detail": "no /etc/imagelock/lock.digest: not built from an imagelock lock"}]
    assert run.code == 1


def test_a_node_that_does_not_answer_in_time_is_unreachable(cluster, tmp_path: Path) -> None:
    lock = local_lock(tmp_path)
    (audit,) = audit_cluster(LockIndex(lock), "auto", timeout=0.001)
    assert audit.error == "no answer within 0.001s (per-node timeout)"
