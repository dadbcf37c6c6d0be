"""What the benches share: `lock` run as a user runs it (a fresh process of this tree's code), and how a
series of timings is printed."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# An installed `lock` starts from compiled bytecode. With PYTHONDONTWRITEBYTECODE set (as on shared
# development machines) every run would compile its ~240 modules again, about 0.1 s of each figure, so
# the benches keep the bytecode under a private prefix, outside the tree.
PYCACHE = Path(tempfile.gettempdir()) / "imagelock-bench-pycache"


def lock(*args: str, cache: Path | None = None) -> tuple[float, str]:
    """`lock ARGS` in a fresh interpreter importing this tree (not whichever imagelock is installed), from
    compiled bytecode, with `cache` as IMAGELOCK_CACHE; its wall time and stdout. Any exit but 0 ends the
    bench with its output."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    if cache is not None:
        env["IMAGELOCK_CACHE"] = str(cache)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "imagelock.cli", *args], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"lock {args[0]} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return elapsed, done.stdout


def spread(values: list[float]) -> str:
    """The median, and the range around it: on a shared machine one figure alone says too little."""
    return f"{statistics.median(values):6.2f} s  (min {min(values):.2f}, max {max(values):.2f})"
