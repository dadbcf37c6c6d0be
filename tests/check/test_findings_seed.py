"""`lock check` on the shipped example: fresh, and it says what the seed does not pin or prove."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from imagelock_testing import ROOT, tree_digest, with_seed_keys

SEED_INTENT = ROOT / "locks" / "seed.toml"
SEED_LOCK = ROOT / "locks" / "seed.lock"
PREFIX = f"{SEED_LOCK}: "


def _findings(out: str) -> dict[str, str]:
    """Finding lines by `kind: subject`, the seed lock's prefix taken off."""
    found = {}
    for line in out.splitlines()[1:]:
        assert line.startswith(PREFIX), line
        kind, subject, _ = line[len(PREFIX) :].split(": ", 2)
        if kind != "not checked":
            found[f"{kind}: {subject}"] = line
    return found


def test_seed_is_fresh_and_lists_its_findings(lock_cli) -> None:
    run = lock_cli("check", str(SEED_INTENT))
    assert run.code == 0, run.out + run.err
    assert run.out.splitlines()[0].startswith(f"{SEED_LOCK}: fresh (image seed-")
    found = _findings(run.out)
    assert sorted(found) == [
        "not reproducible: apt http://archive.ubuntu.com/ubuntu",
        "not reproducible: apt jammy-security",
        "not reproducible: apt jammy-updates",
        "not verified: base ami-0f244b28200b93640 (eu-west-2)",
        "not verified: model files without a hash",
        "pre-release: apt python3.11 3.11.0~rc1-1~22.04.1",
    ]
    live = found["not reproducible: apt http://archive.ubuntu.com/ubuntu"]
    assert "read live, not from a snapshot" in live
    assert "jammy 2022-04-21T17:16:08Z, jammy-security 2026-11-20T01:31:16Z, jammy-updates 2026-11-20T02:30:05Z" in live
    assert "fix: name the archive's snapshot service in [apt] (`snapshot-service = " in live and "`lock mirror`" in live
    updates = found["not reproducible: apt jammy-updates"]
    assert "dated 2026-11-20T02:30:05Z, after universe.cutoff 2025-05-01T00:00:00Z" in updates
    assert "(130 locked packages come from this suite)" in updates
    kernel = found["not verified: base ami-0f244b28200b93640 (eu-west-2)"]
    assert "nothing proves it boots the locked kernel 5.15.0-105-generic" in kernel
    assert "Canonical's EC2 images boot the linux-aws flavour" in kernel and "fix: record the base image's" in kernel
    python = found["pre-release: apt python3.11 3.11.0~rc1-1~22.04.1"]
    assert "a release candidate of Python 3.11" in python
    assert "the [python] venv at /opt/venvs/ai runs on it" in python and "; fix: " in python


def test_strict_fails_the_seed_on_its_findings_and_writes_nothing(tmp_path: Path, lock_cli) -> None:
    shutil.copy(SEED_INTENT, with_seed_keys(tmp_path) / "seed.toml")
    shutil.copy(SEED_LOCK, tmp_path / "seed.lock")
    before = tree_digest(tmp_path)
    plain = lock_cli("check", str(tmp_path / "seed.toml"))
    strict = lock_cli("check", "--strict", str(tmp_path / "seed.toml"))
    assert (plain.code, strict.code) == (0, 1)
    assert strict.out == plain.out  # the same answer; only the exit code says the findings fail
    assert tree_digest(tmp_path) == before


def test_json_carries_the_findings_and_the_verdict(lock_cli) -> None:
    for flags, ok in (((), True), (("--strict",), False)):
        run = lock_cli("check", str(SEED_INTENT), "--json", *flags)
        data = json.loads(run.out)
        assert (run.code, data["ok"], data["strict"], data["problems"]) == (0 if ok else 1, ok, not ok, [])
        kinds = sorted((f["kind"], f["subject"]) for f in data["findings"])
        assert kinds == [
            ("not reproducible", "apt http://archive.ubuntu.com/ubuntu"),
            ("not reproducible", "apt jammy-security"),
            ("not reproducible", "apt jammy-updates"),
            ("not verified", "base ami-0f244b28200b93640 (eu-west-2)"),
            ("not verified", "model files without a hash"),
            ("pre-release", "apt python3.11 3.11.0~rc1-1~22.04.1"),
        ]
        assert all(f["what"] and f["fix"] for f in data["findings"])
