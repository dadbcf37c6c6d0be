"""Helpers shared by every test folder (imported by name: `tests/` is on sys.path)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

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
