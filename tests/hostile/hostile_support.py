"""What every hostile-input test asserts: one line, exit 2, nothing written, no process left behind."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEED_LOCK = ROOT / "locks" / "seed.lock"
SEED_INTENT = ROOT / "locks" / "seed.toml"


def state(folder: Path) -> dict[str, str]:
    """Every path below a folder with what it is (a file by its sha256): proves a command wrote nothing."""
    out = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            out[key] = "special"
        elif path.is_dir():
            out[key] = "dir"
        else:
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def children() -> set[int]:
    """The processes this one started that are still there (zombies included)."""
    mine = str(os.getpid())
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        ppid = next((line.split()[1] for line in status.splitlines() if line.startswith("PPid:")), None)
        if ppid == mine:
            found.add(int(entry.name))
    return found


def one_line(err: str) -> str:
    """The one line a refusal prints; fails when there is more (a traceback) or none."""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("lock: error: "), err
    assert "Traceback" not in err
    return err.removeprefix("lock: error: ").rstrip("\n")
