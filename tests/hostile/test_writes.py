"""Writes that cannot mix or be lost: generated sets swap whole, modes follow the umask, links are not
followed, and a concurrent writer of the same lock is refused rather than silently overwritten."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from indexbuilder import Dist, build_snapshot

from imagelock import domains
from imagelock.build import generate
from imagelock.commands import update as update_command
from imagelock.lock import codec
from imagelock.writes import write_atomic

ROOT = Path(__file__).resolve().parents[2]
SEED_LOCK = ROOT / "locks" / "seed.lock"


def _set(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture
def umask_027() -> object:
    old = os.umask(0o027)
    yield
    os.umask(old)


def _siblings(out: Path) -> set[str]:
    return {p.name for p in out.parent.glob(f".{out.name}.*")}


def _writing(out: Path, before: dict[str, str], beside: set[str]) -> bool:
    """A run has started to write: a new staging directory beside `out`, a temp file in it, or a file changed."""
    if _siblings(out) != beside:
        return True
    try:
        return any(p.name.startswith(".") for p in out.iterdir()) or _set(out) != before
    except (FileNotFoundError, NotADirectoryError):
        return True


def test_sigkill_during_generate_never_leaves_a_mixed_set_or_a_temp_file(tmp_path: Path) -> None:
    """40 or more kills while `lock generate` replaces one lock's files with another's, each aimed at the
    moment it writes (a kill at a random moment mostly lands while it still renders in memory)."""
    locks = [tmp_path / "a.lock", tmp_path / "b.lock"]
    shutil.copy(SEED_LOCK, locks[0])
    other, _ = domains.read_lock(SEED_LOCK)
    other.name = "seed-renamed"  # another digest, so every generated file differs
    locks[1].write_text(codec.dumps(other))
    expected = []
    for i, lock in enumerate(locks):
        generate.generate(lock, tmp_path / f"ref{i}")
        expected.append(_set(tmp_path / f"ref{i}"))
    assert expected[0] != expected[1]
    out = tmp_path / "out"
    generate.generate(locks[0], out)
    rng = random.Random(1303)
    kills = 0
    for round_ in range(48):
        lock = locks[(round_ + 1) % 2]
        before, beside = _set(out), _siblings(out)
        child = subprocess.Popen(
            [sys.executable, "-m", "imagelock.cli", "generate", str(lock), "-o", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while child.poll() is None and not _writing(out, before, beside):
            pass  # spin: the write lasts milliseconds
        time.sleep(rng.uniform(0, 0.004))
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            kills += 1
        child.wait()
        assert _set(out) in expected, f"round {round_}: a mixed or partial set"
        assert not [p for p in out.iterdir() if p.name.startswith(".")], f"round {round_}: a temp file in {out}"
    assert kills >= 40, f"only {kills} of 48 runs were killed before they finished"
    generate.generate(locks[0], out)  # the next run clears what a killed run left beside the directory
    assert _set(out) == expected[0]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_modes_follow_the_umask_or_the_old_file(tmp_path: Path, umask_027: object) -> None:
    fresh = tmp_path / "new.lock"
    write_atomic(fresh, "a\n")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o640
    kept = tmp_path / "kept.lock"
    kept.write_text("old\n")
    kept.chmod(0o664)
    write_atomic(kept, "new\n")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o664 and kept.read_text() == "new\n"
    generate.generate(SEED_LOCK, tmp_path / "out")
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "out").iterdir()}
    assert modes.pop("bootstrap.sh") == 0o750 and set(modes.values()) == {0o640}
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o750


def test_a_symlink_is_replaced_never_written_through(tmp_path: Path, lock_cli) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("not yours\n")
    elsewhere.chmod(0o600)
    out = tmp_path / "out"
    assert lock_cli("generate", str(SEED_LOCK), "-o", str(out)).code == 0
    (out / "bootstrap.sh").unlink()
    (out / "bootstrap.sh").symlink_to(elsewhere)
    link = tmp_path / "link.lock"
    link.symlink_to(elsewhere)

    checked = lock_cli("check", "--generated", str(out))
    assert checked.code == 1
    assert f"{out / 'bootstrap.sh'}: a symlink, not a generated file" in checked.out

    assert lock_cli("generate", str(SEED_LOCK), "-o", str(out)).code == 0
    write_atomic(link, "the lock\n")
    assert elsewhere.read_text() == "not yours\n" and stat.S_IMODE(elsewhere.stat().st_mode) == 0o600
    assert not (out / "bootstrap.sh").is_symlink() and os.access(out / "bootstrap.sh", os.X_OK)
    assert not link.is_symlink() and link.read_text() == "the lock\n"


def test_generate_refuses_a_directory_that_holds_other_files(tmp_path: Path, lock_cli) -> None:
    out = tmp_path / "repo"
    out.mkdir()
    (out / "README.md").write_text("mine\n")
    run = lock_cli("generate", str(SEED_LOCK), "-o", str(out))
    assert (run.code, run.err) == (
        2,
        f"lock: error: {out}: holds files `lock generate` did not write (README.md): "
        "generate into a directory of its own\n",
    )
    assert sorted(p.name for p in out.iterdir()) == ["README.md"]


def test_a_lock_rewritten_while_an_update_ran_is_not_overwritten(
    tmp_path: Path, lock_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot = build_snapshot(tmp_path / "snap", [Dist("alpha", "1.0", "2024-01-01T00:00:00Z")])
    intent = tmp_path / "image.toml"
    intent.write_text(
        'name = "one"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n[python]\nversion = "3.11"\n'
        'venv = "/opt/venvs/ai"\nrequirements = ["alpha"]\nbootstrap = []\n'
    )
    lock = intent.with_suffix(".lock")
    other = 'schema = 1\nname = "two"\nintent-sha256 = "' + "ab" * 32 + '"\n'
    resolve_all = update_command._resolve_all

    def another_writer_gets_there_first(*args: object, **kwargs: object) -> object:
        lock.write_text(other)  # what a second `lock update` from another intent writes meanwhile
        return resolve_all(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(update_command, "_resolve_all", another_writer_gets_there_first)
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert (run.code, run.err) == (
        2,
        f"lock: error: {lock}: was rewritten (from intent abababababab...) by another process while this "
        "update ran; nothing was written: run `lock update` again\n",
    )
    assert lock.read_text() == other
    monkeypatch.setattr(update_command, "_resolve_all", resolve_all)
    again = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert again.code == 2  # the file is not a lock of this intent any more: it is read, and refused, not lost
    assert lock.read_text() == other
