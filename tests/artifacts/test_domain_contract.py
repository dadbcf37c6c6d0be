"""A new domain is one module and one line in DOMAINS: every command handles it without naming it.

The toy domain (toyfiles.py: plain files by URL + sha256) is added to the domain
list, and `lock update`, `check`, `mirror`, `generate` and `drift` each handle it.
"""

from __future__ import annotations

import hashlib
import json
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
    path.write_text(f'name = "toy"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n\n[[toyfiles]]\n'
                    f'url = "{file_server.base_url}/tools/tool.sh"\ndest = "/opt/toy/tool.sh"\n')
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


def test_check_names_an_unhashed_file_of_the_new_domain(intent: Path, lock_cli) -> None:
    lock_path = _locked(lock_cli, intent)
    lock_path.write_text(lock_path.read_text().replace(hashlib.sha256(TOOL).hexdigest(), "not-a-hash"))
    run = lock_cli("check", str(intent))
    assert run.code == 1
    assert f"{lock_path}: unhashed: file tool.sh has no valid sha256" in run.out.splitlines()


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
