"""`lock check` and a no-op `lock update` on the seed, beside their floor: starting Python at all.

The floor is `python3 -c pass` (the interpreter's own start-up), measured in the
same run; the issue's targets are check <= 5x that floor and a no-op update
<= 0.5 s. Each command runs in a fresh process, as a user or CI runs it.

    python bench/check_bench.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _time(argv: list[str], rounds: int) -> float:
    """Median wall time of `rounds` runs; every run must exit 0."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    lock = [sys.executable, "-m", "imagelock.cli"]
    floor = _time([sys.executable, "-c", "pass"], args.rounds)
    check = _time([*lock, "check", "locks/seed.toml"], args.rounds)
    noop = _time([*lock, "update", "locks/seed.toml", "--replay", "snapshots/seed"], args.rounds)
    print(f"python3 -c pass          {floor * 1000:7.1f} ms")
    print(f"lock check (seed)        {check * 1000:7.1f} ms   {check / floor:5.1f}x the floor (target <= 5x)")
    print(f"lock update, no-op       {noop * 1000:7.1f} ms   (target <= 500 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
