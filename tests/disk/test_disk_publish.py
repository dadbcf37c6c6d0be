"""`lock publish` against the real distribution registry on loopback, skopeo as the oracle: the raw image
made by the generated pipeline goes up as an OCI artifact (artifactType, one titled layer, the lock's
digest and version as annotations), skopeo reads back the manifest digest the release record holds and the
layer's bytes; then `lock drift --cache` verifies a copy, finds it changed after one flipped byte and
missing after deletion. Bad input: one line, exit 2, no record written."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagelock.disk import artifact, cache
from imagelock.disk.record import Release
from imagelock.domains.containers import auth
from tests.containers.registry import Registry, registry, token_server, tool
from tests.disk.diskhelpers import intent, tiny_qcow2
from tests.drift.test_ssh import sshd  # noqa: F401  (the real sshd fixture)


@pytest.fixture(scope="module")
def reg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with registry(tmp_path_factory.mktemp("registry")) as served:
        yield served


@pytest.fixture
def built(tmp_path: Path, lock_cli) -> tuple[Path, Path]:
    """(lock, raw): a lock with [output], and the raw image its disk-image.sh built from a tiny qcow2."""
    base_sha = tiny_qcow2(tmp_path / "noble.img")
    path = intent(tmp_path, "https://cloud-images.example/noble.img", base_sha)
    assert lock_cli("update", str(path)).code == 0
    assert lock_cli("generate", str(path.with_suffix(".lock")), "-o", str(tmp_path / "gen")).code == 0
    env = {**os.environ, "IMAGELOCK_DISK_CUSTOMIZE": "skip", "IMAGELOCK_DISK_BASE": str(tmp_path / "noble.img")}
    done = subprocess.run(
        ["bash", str(tmp_path / "gen" / "disk-image.sh"), str(tmp_path / "work")], env=env, capture_output=True
    )
    assert done.returncode == 0, done.stderr
    return path.with_suffix(".lock"), tmp_path / "work" / "slice.raw"


def _skopeo_raw(reference: str) -> bytes:
    argv = [tool("skopeo"), "inspect", "--tls-verify=false", "--raw", f"docker://{reference}"]
    return subprocess.run(argv, capture_output=True, check=True).stdout


def test_publish_pushes_an_oci_artifact_that_skopeo_reads_back_and_records_its_digest(
    tmp_path: Path, reg: Registry, built: tuple[Path, Path], lock_cli
) -> None:
    lock, raw = built
    run = lock_cli("publish", str(lock), str(raw), "--to", f"{reg.host}/slice-images/noble:1.0.0", "--json")
    assert run.code == 0, run.err
    record = json.loads(lock.with_name("slice.lock.release.json").read_text())
    assert json.loads(run.out) == record
    raw_sha = hashlib.sha256(raw.read_bytes()).hexdigest()
    assert (record["sha256"], record["size"], record["kind"]) == (raw_sha, raw.stat().st_size, "raw")
    assert record["reference"] == f"{reg.host}/slice-images/noble:1.0.0"
    # skopeo, the oracle: the manifest it reads hashes to the recorded digest
    body = _skopeo_raw(record["reference"])
    assert "sha256:" + hashlib.sha256(body).hexdigest() == record["digest"]
    manifest = json.loads(body)
    assert manifest["artifactType"] == artifact.ARTIFACT_TYPE
    assert manifest["config"]["mediaType"] == "application/vnd.oci.empty.v1+json"
    [layer] = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.imagelock.disk.raw"
    assert (layer["digest"], layer["size"]) == (f"sha256:{raw_sha}", raw.stat().st_size)
    assert layer["annotations"] == {"org.opencontainers.image.title": "slice.raw"}
    notes = manifest["annotations"]
    assert notes["dev.imagelock.lock.digest"] == record["lock-digest"]
    assert notes["org.opencontainers.image.version"] == record["version"] == "1.0.0"
    assert f'digest = "{record["lock-digest"]}"' in lock.read_text()
    # and by digest, skopeo copies the layer's bytes back out: the raw file itself
    pulled = tmp_path / "pulled"
    subprocess.run(
        [
            tool("skopeo"),
            "copy",
            "-q",
            "--src-tls-verify=false",
            f"docker://{reg.host}/slice-images/noble@{record['digest']}",
            f"dir:{pulled}",
        ],
        check=True,
        capture_output=True,
    )
    assert (pulled / raw_sha).read_bytes() == raw.read_bytes()
    # the manifest carries no time: publishing the same file again is the same digest
    again = lock_cli("publish", str(lock), str(raw), "--to", f"{reg.host}/slice-images/noble:again", "--json")
    assert json.loads(again.out)["digest"] == record["digest"]


def test_oras_pulls_the_artifact_under_its_title_with_the_same_bytes(
    tmp_path: Path, reg: Registry, built: tuple[Path, Path], lock_cli
) -> None:
    """ORAS (its Python SDK, `oras` on PyPI; Debian packages no ORAS CLI) as the second oracle."""
    oras_client = pytest.importorskip("oras.client")
    lock, raw = built
    run = lock_cli("publish", str(lock), str(raw), "--to", f"{reg.host}/slice-images/oras:1", "--json")
    assert run.code == 0, run.err
    record = json.loads(run.out)
    client = oras_client.OrasClient(insecure=True)
    pulled = client.pull(target=f"{reg.host}/slice-images/oras@{record['digest']}", outdir=str(tmp_path / "oras"))
    assert [Path(p).name for p in pulled] == ["slice.raw"]
    assert hashlib.sha256(Path(pulled[0]).read_bytes()).hexdigest() == record["sha256"]
    assert client.get_manifest(f"{reg.host}/slice-images/oras:1")["artifactType"] == artifact.ARTIFACT_TYPE


def test_drift_cache_verified_then_changed_then_missing(
    tmp_path: Path, reg: Registry, built: tuple[Path, Path], lock_cli
) -> None:
    lock, raw = built
    assert lock_cli("publish", str(lock), str(raw), "--to", f"{reg.host}/slice-images/noble:1").code == 0
    record = lock.with_name("slice.lock.release.json")
    node = tmp_path / "node" / "ubuntu-24.04-h200-cuda.raw"
    node.parent.mkdir()
    subprocess.run(["cp", "--sparse=always", str(raw), str(node)], check=True)
    digest = json.loads(record.read_text())["digest"]

    run = lock_cli("drift", "--cache", str(node), "--release", str(record))
    assert run.code == 0 and run.out.startswith(f"verified {node}: sha256 ") and digest in run.out
    assert len(run.out.strip().splitlines()) == 1 and run.err == ""
    as_json = json.loads(lock_cli("drift", str(lock), "--cache", str(node), "--json").out)  # record beside the lock
    assert (as_json["status"], as_json["digest"], as_json["sha256"]) == (
        "verified",
        digest,
        as_json["expected"]["sha256"],
    )

    with open(node, "r+b") as handle:  # one flipped byte
        handle.seek(1 << 20)
        byte = handle.read(1)
        handle.seek(1 << 20)
        handle.write(bytes([byte[0] ^ 0xFF]))
    run = lock_cli("drift", "--cache", str(node), "--release", str(record))
    assert run.code == 1 and run.out.startswith(f"changed {node}: sha256 ")
    changed = json.loads(lock_cli("drift", "--cache", str(node), "--release", str(record), "--json").out)
    assert changed["status"] == "changed" and changed["sha256"] == hashlib.sha256(node.read_bytes()).hexdigest()

    node.write_bytes(b"truncated")
    run = lock_cli("drift", "--cache", str(node), "--release", str(record))
    assert run.code == 1 and run.out.startswith(f"changed {node}: 9 bytes, released ")

    node.unlink()
    run = lock_cli("drift", "--cache", str(node), "--release", str(record))
    assert run.code == 1 and run.out.startswith(f"missing {node}: no such file")
    assert json.loads(lock_cli("drift", "--cache", str(node), "--release", str(record), "--json").out)["status"] == (
        "missing"
    )


def test_publish_through_token_auth_with_push_credentials(
    tmp_path: Path, built: tuple[Path, Path], lock_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock, raw = built
    with token_server(tmp_path) as tokens, registry(tmp_path / "registry", tokens) as reg:
        variable = auth.env_name(reg.host)
        run = lock_cli("publish", str(lock), str(raw), "--to", f"{reg.host}/slice/noble:1")
        assert run.code == 2, run.err  # anonymous may pull, not push
        assert "authentication failed for http://" in run.err and "/blobs/uploads/ (HTTP 401" in run.err
        assert not lock.with_name("slice.lock.release.json").exists()
        monkeypatch.setenv(variable, "pusher:s3cret-push")
        run = lock_cli("publish", str(lock), str(raw), "--to", f"{reg.host}/slice/noble:1")
        assert run.code == 0, run.err
        assert "s3cret" not in lock.with_name("slice.lock.release.json").read_text()
        assert any("push" in r.get("scope", "") for r in tokens.requests)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("{", "not JSON"),
        ("[]", "expected a JSON object"),
        ('{"schema": 2}', "schema: expected 1"),
        ('{"schema": 1, "size": -1}', "size: expected the file's size"),
        ('{"schema": 1, "size": 1, "file": "x.raw", "kind": "raw", "sha256": "abc"}', "sha256: expected 64"),
    ],
)
def test_a_bad_release_record_is_one_line_exit_2(tmp_path: Path, lock_cli, text: str, key: str) -> None:
    record = tmp_path / "slice.lock.release.json"
    record.write_text(text)
    run = lock_cli("drift", "--cache", str(tmp_path / "x.raw"), "--release", str(record))
    assert run.code == 2 and run.out == ""
    assert run.err.startswith(f"lock: error: {record}: ") and key in run.err
    assert len(run.err.strip().splitlines()) == 1


def test_drift_cache_flags_that_do_not_go_together_are_exit_2(tmp_path: Path, lock_cli) -> None:
    run = lock_cli("drift", "--cache", str(tmp_path / "x.raw"))
    assert run.code == 2 and "--cache: name the release record with --release RECORD" in run.err
    run = lock_cli("drift", "--release", str(tmp_path / "r.json"))
    assert run.code == 2 and "--release: goes with --cache PATH" in run.err
    run = lock_cli("drift", "--cache", "x.raw", "--release", "r.json", "--root", str(tmp_path))
    assert run.code == 2 and "not with --root" in run.err
    run = lock_cli("drift", "--cache", "x.raw", "--release", str(tmp_path / "none.json"))
    assert run.code == 2 and "no such release record" in run.err
    run = lock_cli("drift")
    assert run.code == 2 and "name the lock" in run.err


def test_publish_refuses_bad_input_and_writes_no_record(
    tmp_path: Path, reg: Registry, built: tuple[Path, Path], lock_cli
) -> None:
    lock, raw = built
    record = lock.with_name("slice.lock.release.json")
    cases = [
        (("--to", "noble:1"), "--to: 'noble:1': "),
        (("--to", f"{reg.host}/slice/noble@sha256:" + "0" * 64), "expected registry/repository:tag"),
    ]
    for extra, message in cases:
        run = lock_cli("publish", str(lock), str(raw), *extra)
        assert run.code == 2 and message in run.err, run.err
    run = lock_cli("publish", str(lock), str(tmp_path / "none.raw"), "--to", f"{reg.host}/slice/noble:1")
    assert run.code == 2 and "no such disk image" in run.err
    iso = tmp_path / "slice.iso"
    iso.write_bytes(b"not a disk image")
    run = lock_cli("publish", str(lock), str(iso), "--to", f"{reg.host}/slice/noble:1")
    assert run.code == 2 and run.err.strip() == f"lock: error: {iso}: expected a .raw or .qcow2 disk image", run.err
    run = lock_cli("publish", str(lock), str(raw), "--to", "127.0.0.1:1/slice/noble:1")
    assert run.code == 2 and "unreachable" in run.err
    # the file changed since disk-image.sh recorded it
    with open(raw, "r+b") as handle:
        handle.write(b"\x01")
    run = lock_cli("publish", str(lock), str(raw), "--to", f"{reg.host}/slice/noble:1")
    assert run.code == 2
    assert run.err.startswith(f"lock: error: {raw}.build.json: sha256: slice.raw is no longer the file that was built")
    assert not record.exists()


def test_a_hosts_cache_over_real_ssh_is_hashed_there(tmp_path: Path, sshd: tuple[str, list[str]]) -> None:
    """`--cache PATH --ssh HOST`: the host's own sha256sum reads the file (a real sshd on loopback)."""
    host, options = sshd
    node = tmp_path / "slice images" / "noble.raw"  # a space: the path reaches the remote shell as one word
    node.parent.mkdir()
    node.write_bytes(b"raw image bytes")
    sha = hashlib.sha256(node.read_bytes()).hexdigest()
    release = Release("noble.raw", "raw", sha, node.stat().st_size, "0" * 64, "slice-000000000000", "1.0.0")
    assert cache.verify_ssh(host, str(node), release, 60, options).status == "verified"
    node.write_bytes(b"raw image bytez")
    state = cache.verify_ssh(host, str(node), release, 60, options)
    assert (state.status, state.host, state.sha256) == ("changed", host, hashlib.sha256(b"raw image bytez").hexdigest())
    node.unlink()
    assert cache.verify_ssh(host, str(node), release, 60, options).line().startswith(f"missing {host}:{node}: ")
