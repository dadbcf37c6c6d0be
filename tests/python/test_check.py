"""`lock check`: 0 fresh, 1 stale or tampered, 2 missing or malformed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from imagelock_testing import ROOT, with_seed_keys

SEED_INTENT = ROOT / "locks" / "seed.toml"
SEED_LOCK = ROOT / "locks" / "seed.lock"


@pytest.fixture
def seed(tmp_path: Path) -> tuple[Path, Path]:
    shutil.copy(SEED_INTENT, with_seed_keys(tmp_path) / "seed.toml")
    shutil.copy(SEED_LOCK, tmp_path / "seed.lock")
    return tmp_path / "seed.toml", tmp_path / "seed.lock"


def test_committed_example_lock_is_fresh(lock_cli) -> None:
    run = lock_cli("check", str(SEED_INTENT))
    assert run.code == 0, run.out
    assert "fresh" in run.out


def test_edited_lock_is_tampered(seed, lock_cli) -> None:
    intent, lock = seed
    text = lock.read_text()
    lock.write_text(text.replace('version = "0.6.6.post1"', 'version = "0.6.6"', 1))
    run = lock_cli("check", str(intent))
    assert run.code == 1
    assert "tampered: the lock's content does not match its digest" in run.out


def test_changed_intent_makes_the_lock_stale(seed, lock_cli) -> None:
    intent, _ = seed
    intent.write_text(intent.read_text().replace('"safetensors==0.4.3"', '"safetensors==0.4.5"'))
    run = lock_cli("check", str(intent))
    assert run.code == 1
    assert "stale:" in run.out and "run `lock update`" in run.out


def test_reordered_intent_keys_and_crlf_stay_fresh(seed, lock_cli) -> None:
    intent, _ = seed
    text = intent.read_text()
    python_part = text[text.index("[python]") :]
    universe_part = text[text.index("[universe]") : text.index("[python]")]
    intent.write_bytes(('name = "seed"\n' + python_part + "\n" + universe_part).replace("\n", "\r\n").encode())
    run = lock_cli("check", str(intent))
    assert run.code == 0, run.out


def test_a_wheel_without_a_hash_is_refused(seed, lock_cli) -> None:
    intent, lock = seed
    from imagelock import domains
    from imagelock.lock import codec as lockfile

    parsed, _ = domains.read_lock(lock)
    parsed.python.packages[0].wheel.sha256 = ""
    lock.write_text(lockfile.dumps(parsed))
    run = lock_cli("check", str(intent))
    assert run.code == 2
    assert "python.packages[0].wheel.sha256: expected a sha256 (64 lowercase hex digits), found ''" in run.err


def test_missing_lock_is_exit_2(tmp_path: Path, lock_cli) -> None:
    shutil.copy(SEED_INTENT, with_seed_keys(tmp_path) / "seed.toml")
    run = lock_cli("check", str(tmp_path / "seed.toml"))
    assert run.code == 2
    assert f"{tmp_path / 'seed.lock'}: no such lock file" in run.err


def test_malformed_lock_is_exit_2(seed, lock_cli) -> None:
    intent, lock = seed
    lock.write_text("schema = 1\nname = [\n")
    run = lock_cli("check", str(intent))
    assert run.code == 2
    assert f"{lock}: not valid TOML" in run.err
    assert "Traceback" not in run.err


def test_json_output(lock_cli) -> None:
    run = lock_cli("check", str(SEED_INTENT), "--json")
    assert run.code == 0
    assert '"ok": true' in run.out
