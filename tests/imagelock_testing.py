"""Helpers shared by every test folder (imported by name: `tests/` is on sys.path)."""

from __future__ import annotations

import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED_SNAPSHOT = ROOT / "snapshots" / "seed"


def tree_digest(folder: Path) -> str:
    """One digest over every file below a folder: proves a command wrote nothing."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
