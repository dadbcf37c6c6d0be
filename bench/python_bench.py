"""`lock update` (cold and warm cache) and `lock check` beside `uv pip compile`, one process, one run.

Both tools resolve the seed example's requirements against the same recorded
index served on loopback (snapshots/seed), with the same target, cutoff and
per-package index, so the ratio measures the tools and not the network.
`lock update` runs twice: on the whole seed (every domain: python, apt, kernel,
nvidia, models, base), and on the seed's [python] section alone, which is the
same work as `uv pip compile` plus writing the lock.

    python bench/python_bench.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import tomli_w

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from imagelock import domains  # noqa: E402
from imagelock.engines.python.uv import uv_binary  # noqa: E402
from imagelock.replay.server import ReplayServer, Snapshot  # noqa: E402

INTENT = ROOT / "locks" / "seed.toml"
SNAPSHOT = ROOT / "snapshots" / "seed"


def python_only(intent: Path, out: Path) -> Path:
    """The intent with its [python] section and nothing else of what `lock update` resolves."""
    table = tomllib.loads(intent.read_text())
    out.write_text(tomli_w.dumps({key: table[key] for key in ("name", "universe", "python") if key in table}))
    return out


def timed(args: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(args, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    intent = domains.read_intent(INTENT)
    assert intent.python and intent.python.torch
    requirements = [str(r) for r in intent.python.requirements + intent.python.bootstrap]
    results: dict[str, list[float]] = {}
    with ReplayServer(Snapshot.open(SNAPSHOT), port=0) as server, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        torch_index = server.local_index(intent.python.torch.index_url)
        (work / "pyproject.toml").write_text(
            "[project]\nname='bench'\nversion='0'\ndependencies=[" + ",".join(repr(r) for r in requirements) + "]\n"
            f"[[tool.uv.index]]\nname='torch'\nurl='{torch_index}'\nexplicit=true\n"
            "[tool.uv.sources]\n" + "".join(f"{p}={{index='torch'}}\n" for p in intent.python.torch.packages)
        )
        uv_args = [
            uv_binary(),
            "pip",
            "compile",
            "pyproject.toml",
            "--python-version",
            "3.11",
            "--python-platform",
            "x86_64-manylinux_2_35",
            "--exclude-newer",
            intent.cutoff or "",
            "--only-binary",
            ":all:",
            "--default-index",
            server.index_url("pypi"),
            "-q",
            "-o",
            "out.txt",
        ]
        uv_args += [a for p in intent.python.torch.packages for a in ("--exclude-newer-package", f"{p}=false")]
        lock_cmd = [sys.executable, "-m", "imagelock.cli"]
        python_intent = python_only(INTENT, work / "seed-python.toml")
        # The `lock` measured is this tree's, not whichever imagelock is installed.
        pythonpath = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
        for round_ in range(rounds):
            cache = work / f"cache-{round_}"
            env = {
                **os.environ,
                "IMAGELOCK_CACHE": str(cache / "imagelock"),
                "UV_CACHE_DIR": str(cache / "uv"),
                "UV_NO_CONFIG": "1",
                "PYTHONPATH": pythonpath,
            }
            lock_path = work / f"seed-{round_}.lock"
            update = [*lock_cmd, "update", str(INTENT), "--lock", str(lock_path), "--replay", str(SNAPSHOT)]
            results.setdefault("lock update (cold cache)", []).append(timed(update, env, work))
            lock_path.unlink()
            results.setdefault("lock update (warm cache)", []).append(timed(update, env, work))
            results.setdefault("lock check", []).append(
                timed([*lock_cmd, "check", str(INTENT), "--lock", str(lock_path)], env, work)
            )
            python_env = {**env, "IMAGELOCK_CACHE": str(cache / "imagelock-python")}
            python_lock = work / f"seed-python-{round_}.lock"
            python_update = [
                *lock_cmd,
                "update",
                str(python_intent),
                "--lock",
                str(python_lock),
                "--replay",
                str(SNAPSHOT),
            ]
            results.setdefault("lock update python (cold cache)", []).append(timed(python_update, python_env, work))
            python_lock.unlink()
            results.setdefault("lock update python (warm cache)", []).append(timed(python_update, python_env, work))
            uv_env = {**env, "UV_CACHE_DIR": str(cache / "uv-peer")}
            (work / "out.txt").unlink(missing_ok=True)
            results.setdefault("uv pip compile (cold cache)", []).append(timed(uv_args, uv_env, work))
            (work / "out.txt").unlink(missing_ok=True)
            results.setdefault("uv pip compile (warm cache)", []).append(timed(uv_args, uv_env, work))
    median = {k: statistics.median(v) for k, v in results.items()}
    print(f"seed example: {len(requirements)} requirements, median of {rounds} rounds")
    for name, value in median.items():
        print(f"  {name:32s} {value:7.3f} s")
    for temp in ("cold", "warm"):
        for what in ("lock update", "lock update python"):
            ratio = median[f"{what} ({temp} cache)"] / median[f"uv pip compile ({temp} cache)"]
            print(f"ratio {what} / uv pip compile ({temp}): {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
