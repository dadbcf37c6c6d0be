"""Every bad input of diff, why, update --cutoff and the GPU targets: one line, exit 2, nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from imagelock_testing import tree_digest

from imagelock.lock.model import Lock
from rules.recorded import SEED_LOCK, seed_intent_with, write_lock


def _fails(lock_cli, folder: Path, *argv: str) -> str:
    before = tree_digest(folder)
    run = lock_cli(*argv)
    assert run.code == 2, (run.out, run.err)
    assert tree_digest(folder) == before, "nothing may be written on bad input"
    lines = [line for line in run.err.splitlines() if line]
    assert len(lines) == 1 and "Traceback" not in run.err, lines
    return lines[0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("schema = 1\n[python\n", "not valid TOML"),
        ('schema = 1\nname = "x"\n', "digest: missing: expected the lock's sha256 digest"),
        ('schema = 2\ndigest = "x"\n', "schema: expected 1, found 2"),
        (SEED_LOCK.read_text().replace('engine = "uv"', 'engine = "uv"\nengines = 2'), "python.engines: unknown key"),
        (SEED_LOCK.read_text().replace("size = 15265", 'size = "15265"'), "expected an integer"),
    ],
)
def test_malformed_lock_for_diff(tmp_path: Path, lock_cli, content: str, message: str) -> None:
    bad = tmp_path / "bad.lock"
    bad.write_text(content)
    line = _fails(lock_cli, tmp_path, "diff", str(bad), str(SEED_LOCK))
    assert line.startswith(f"lock: error: {bad}: ") and message in line, line
    line = _fails(lock_cli, tmp_path, "diff", str(SEED_LOCK), str(bad))
    assert message in line


def test_missing_lock_for_diff(tmp_path: Path, lock_cli) -> None:
    line = _fails(lock_cli, tmp_path, "diff", str(tmp_path / "none.lock"), str(SEED_LOCK))
    assert line == f"lock: error: {tmp_path / 'none.lock'}: no such lock file (run `lock update` to create it)"


def test_unknown_format(tmp_path: Path, lock_cli) -> None:
    line = _fails(lock_cli, tmp_path, "diff", str(SEED_LOCK), str(SEED_LOCK), "--format", "yaml")
    assert "argument --format: invalid choice: 'yaml'" in line


def test_why_unknown_package(tmp_path: Path, seed_lock: Lock, lock_cli) -> None:
    lock = write_lock(tmp_path / "seed.lock", seed_lock)
    line = _fails(lock_cli, tmp_path, "why", "vlm", "--lock", str(lock))
    assert line == f"lock: error: {lock}: no package 'vlm' in the lock (did you mean 'vllm'?)"


def test_why_without_a_lock_to_ask(tmp_path: Path, lock_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    line = _fails(lock_cli, tmp_path, "why", "torch")
    assert line == "lock: error: --lock: name the lock to ask (found 0 locks under ./locks)"


def test_why_malformed_lock(tmp_path: Path, lock_cli) -> None:
    bad = tmp_path / "bad.lock"
    bad.write_text("not = [toml")
    assert "not valid TOML" in _fails(lock_cli, tmp_path, "why", "torch", "--lock", str(bad))


@pytest.mark.parametrize(
    ("cutoff", "message"),
    [
        (
            "yesterday",
            "lock update: --cutoff: expected an RFC 3339 time such as \"2024-12-28T00:00:00Z\", found 'yesterday'",
        ),
        ("2025-06-01T00:00:00", "lock update: --cutoff: expected a time zone (end the time with Z for UTC)"),
    ],
)
def test_bad_cutoff(tmp_path: Path, lock_cli, cutoff: str, message: str) -> None:
    intent = tmp_path / "t.toml"
    intent.write_text('name = "t"\n[python]\nrequirements = ["alpha"]\nbootstrap = []\n')
    assert _fails(lock_cli, tmp_path, "update", str(intent), "--cutoff", cutoff) == f"lock: error: {message}"


def test_cutoff_against_an_intent_that_pins_one(tmp_path: Path, lock_cli) -> None:
    intent = seed_intent_with(tmp_path, "")
    line = _fails(lock_cli, tmp_path, "update", str(intent), "--cutoff", "2025-06-01T00:00:00Z")
    assert line == (
        f"lock: error: {intent}: universe.cutoff: the intent pins the cutoff (2025-05-01T00:00:00Z); "
        "move it there instead of with --cutoff"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"g5.xlarge"', 'base.instance-types: expected an array of EC2 instance types such as ["g5.xlarge"]'),
        (
            '["g5 xlarge"]',
            "base.instance-types[0]: expected an EC2 instance type such as \"g5.xlarge\", found 'g5 xlarge'",
        ),
        (
            '["g5x.xlarge"]',
            "base.instance-types: g5x.xlarge: no NVIDIA GPU recorded for instance family 'g5x' (did you mean 'g5'?)",
        ),
    ],
)
def test_bad_instance_types_in_check(tmp_path: Path, seed_lock: Lock, lock_cli, value: str, message: str) -> None:
    intent = seed_intent_with(tmp_path, f"[base]\ninstance-types = {value}\n")
    lock = write_lock(tmp_path / "seed.lock", seed_lock)
    line = _fails(lock_cli, tmp_path, "check", str(intent), "--lock", str(lock))
    assert line.startswith(f"lock: error: {intent}: {message}"), line


def test_bad_instance_type_fails_update_before_resolving(
    tmp_path: Path, lock_cli, monkeypatch: pytest.MonkeyPatch
) -> None:

    called: list[str] = []
    # The base-image domain lives on its own branch; this stand-in only records that it ran.
    monkeypatch.setattr("imagelock.domains.base.layer.resolve", lambda ctx: called.append("base"))
    intent = seed_intent_with(tmp_path, '[base]\ninstance-types = ["g5x.xlarge"]\n')
    line = _fails(lock_cli, tmp_path, "update", str(intent))
    assert "no NVIDIA GPU recorded for instance family 'g5x'" in line
    assert called == []
