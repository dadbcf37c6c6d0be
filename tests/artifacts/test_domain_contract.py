"""A new domain is one module and one line in DOMAINS: every command handles it without naming it.

The toy domain (toyfiles.py: plain files by URL + sha256) is added to the domain
list, and `lock update`, `check`, `mirror`, `generate` and `drift` each handle it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import boto3
import pytest

from imagelock import domains
from imagelock.commands.mirror import run_mirror

from . import toyfiles
from .conftest import FileServer, MotoServer

TOOL = b"#!/bin/sh\necho a toy tool\n" * 40
BUCKET = "toy-mirror"


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one line a new domain takes."""
    monkeypatch.setattr(domains, "DOMAINS", (*domains.DOMAINS, toyfiles.DOMAIN))


@pytest.fixture
def intent(tmp_path: Path, file_server: FileServer, toy: None) -> Path:
    file_server.state.files["/tools/tool.sh"] = TOOL
    path = tmp_path / "toy.toml"
    path.write_text(
        f'name = "toy"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n\n[[toyfiles]]\n'
        f'url = "{file_server.base_url}/tools/tool.sh"\ndest = "/opt/toy/tool.sh"\n'
    )
    return path


def _locked(lock_cli, intent: Path) -> Path:
    run = lock_cli("update", str(intent))
    assert run.code == 0, run.err
    assert "1 toy files" in run.out
    return intent.with_suffix(".lock")


def test_update_locks_the_new_domain_and_check_finds_it_fresh(intent: Path, lock_cli) -> None:
    lock_path = _locked(lock_cli, intent)
    lock, _ = domains.read_lock(lock_path)
    [entry] = lock.layers["toyfiles"]
    assert (entry.sha256, entry.size, entry.dest) == (hashlib.sha256(TOOL).hexdigest(), len(TOOL), "/opt/toy/tool.sh")
    assert "[[toyfiles]]" in lock_path.read_text()
    run = lock_cli("check", str(intent))
    assert run.code == 0 and run.out.startswith(f"{lock_path}: fresh"), run.out
    # a second update resolves nothing again and writes nothing
    assert "unchanged" in lock_cli("update", str(intent)).out


def test_the_validator_refuses_a_malformed_hash_of_the_new_domain(intent: Path, lock_cli) -> None:
    """The lock validator walks a new domain's entries by their field names: no line for it anywhere."""
    lock_path = _locked(lock_cli, intent)
    lock_path.write_text(lock_path.read_text().replace(hashlib.sha256(TOOL).hexdigest(), "not-a-hash"))
    run = lock_cli("check", str(intent))
    assert run.code == 2
    assert run.err.splitlines() == [
        f"lock: error: {lock_path}: toyfiles[0].sha256: expected a sha256 (64 lowercase hex digits), found 'not-a-hash'"
    ]


def test_check_says_stale_when_the_intent_drops_the_domain(intent: Path, lock_cli) -> None:
    lock_path = _locked(lock_cli, intent)
    intent.write_text(intent.read_text().split("[[toyfiles]]")[0])
    run = lock_cli("check", str(intent), "--lock", str(lock_path))
    assert run.code == 1 and "stale: the lock has a toyfiles layer the intent no longer asks for" in run.out


def test_diff_shows_the_new_domain(intent: Path, lock_cli, file_server: FileServer, tmp_path: Path) -> None:
    lock_path = _locked(lock_cli, intent)
    old = tmp_path / "old.lock"
    old.write_bytes(lock_path.read_bytes())
    file_server.state.files["/tools/tool.sh"] = TOOL + b"# v2\n"
    assert lock_cli("update", str(intent), "--refresh", "toyfiles").code == 0
    run = lock_cli("diff", str(old), str(lock_path), "--json")
    assert run.code == 1
    [change] = json.loads(run.out)["layers"]["toyfiles"]
    assert (change["key"], change["kind"]) == ("/opt/toy/tool.sh", "changed")


def test_mirror_copies_the_new_domains_files_by_sha256(intent: Path, lock_cli, moto_server: MotoServer) -> None:
    lock_path = _locked(lock_cli, intent)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    summary = run_mirror(lock_path, f"s3://{BUCKET}/m", jobs=2)
    assert summary.exit_code == 0 and [a.kind for a in summary.uploaded] == ["file"]
    body = s3.get_object(Bucket=BUCKET, Key=f"m/sha256/{hashlib.sha256(TOOL).hexdigest()}")["Body"].read()
    assert body == TOOL


def test_generate_places_the_new_domains_files(intent: Path, lock_cli, tmp_path: Path) -> None:
    lock_path = _locked(lock_cli, intent)
    out = tmp_path / "gen"
    assert lock_cli("generate", str(lock_path), "-o", str(out)).code == 0
    script = (out / "bootstrap.sh").read_text()
    sha = hashlib.sha256(TOOL).hexdigest()
    data = script.split("readonly -a PLACED_FILES=(", 1)[1].split(")", 1)[0].split()
    assert data[:4] == ["/opt/toy/tool.sh", sha, str(len(TOOL)), "0644"] and data[4].endswith("/tools/tool.sh")
    checked = subprocess.run(["shellcheck", str(out / "bootstrap.sh")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout
    assert lock_cli("check", str(intent), "--generated", str(out)).code == 0


def test_drift_finds_the_new_domains_files_changed_or_missing(intent: Path, lock_cli, tmp_path: Path) -> None:
    lock_path = _locked(lock_cli, intent)
    root = tmp_path / "root"
    placed = root / "opt/toy/tool.sh"
    placed.parent.mkdir(parents=True)
    placed.write_bytes(TOOL)
    # the fingerprint bootstrap.sh leaves: the lock, its digest, and the files it placed
    fingerprint = root / "etc/imagelock"
    fingerprint.mkdir(parents=True)
    (fingerprint / "lock.toml").write_bytes(lock_path.read_bytes())
    (fingerprint / "lock.digest").write_text(domains.read_lock(lock_path)[0].digest() + "\n")
    (fingerprint / "files").write_text("/opt/toy/tool.sh\n")
    run = lock_cli("drift", str(lock_path), "--root", str(root), "--format", "json")
    assert run.code == 0, run.out
    placed.write_bytes(TOOL[:-1] + b"!")
    run = lock_cli("drift", str(lock_path), "--root", str(root), "--format", "json")
    assert run.code == 1
    [finding] = json.loads(run.out)["machines"][0]["findings"]
    assert (finding["layer"], finding["kind"], finding["subject"]) == ("toyfiles", "changed-hash", "/opt/toy/tool.sh")
    placed.unlink()
    run = lock_cli("drift", str(lock_path), "--root", str(root), "--format", "json")
    assert run.code == 1
    [finding] = json.loads(run.out)["machines"][0]["findings"]
    assert (finding["layer"], finding["kind"]) == ("toyfiles", "missing")
