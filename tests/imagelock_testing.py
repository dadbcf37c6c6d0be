"""Helpers shared by every test folder (imported by name: `tests/` is on sys.path)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SEED_SNAPSHOT = ROOT / "snapshots" / "seed"
SEED_KEYS = ROOT / "locks" / "keys"


def with_seed_keys(folder: Path) -> Path:
    """locks/seed.toml names its apt keyring relative to itself: a copy needs the keys beside it."""
    shutil.copytree(SEED_KEYS, folder / "keys", dirs_exist_ok=True)
    return folder


def tree_digest(folder: Path) -> str:
    """One digest over every file below a folder: proves a command wrote nothing."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def example_locks_offline(folder: Path, lock_cli: Any, name: str) -> Path:
    """`lock update locks/<name>.toml --replay snapshots/<name>` on a copy (with the keys it names) writes the
    committed lock byte for byte: the example runs offline and its lock is what update writes."""
    intent = with_seed_keys(folder / name) / f"{name}.toml"
    shutil.copy(ROOT / "locks" / f"{name}.toml", intent)
    run = lock_cli("update", str(intent), "--replay", str(ROOT / "snapshots" / name))
    assert run.code == 0, run.err
    assert intent.with_suffix(".lock").read_bytes() == (ROOT / "locks" / f"{name}.lock").read_bytes()
    return intent
