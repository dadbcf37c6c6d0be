"""`lock mirror --to DIR` beside curl + sha256sum doing the same job, on artifacts served on loopback.

    python bench/mirror_bench.py [--files 300] [--small-kib 256] [--large-mib 64] [--large 4] [--jobs 8]

A lock with `--files` wheels (all but `--large` of them `--small-kib` KiB, the rest `--large-mib` MiB) whose
URLs point at a loopback server. Each side starts cold and fills an empty directory:
  peer       `xargs -P JOBS curl` into the directory, then `sha256sum -c` over every file (what a
             hand-written mirror script does: download, then verify)
  imagelock  `lock mirror LOCK --to DIR --jobs JOBS` with an empty cache: download (hashing as the
             bytes arrive), verify against the lock, store (temp file, fsync, re-hash, rename)
Prints both times and imagelock's ratio to the peer (below 1.0: faster).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from imagelock.commands.mirror import run_mirror  # noqa: E402
from imagelock.lock import codec  # noqa: E402
from imagelock.lock.model import Lock, PythonLayer, PythonPackage, Universe, Wheel  # noqa: E402


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(base: str) -> None:
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the loopback server at {base} did not start")


def make_files(folder: Path, count: int, small: int, large: int, large_count: int) -> list[Path]:
    files = []
    for i in range(count):
        size = large if i < large_count else small
        seed = hashlib.sha256(f"imagelock mirror bench {i}".encode()).digest()
        block = seed * (1 << 15)  # 1 MiB
        path = folder / f"pkg{i:04d}-1.0-py3-none-any.whl"
        with open(path, "wb") as out:
            for _ in range(size // len(block)):
                out.write(block)
            out.write(block[: size % len(block)])
        files.append(path)
    return files


def make_lock(path: Path, files: list[Path], base: str) -> None:
    packages = []
    for file in files:
        data = file.read_bytes()
        name = file.name.split("-")[0]
        wheel = Wheel(file.name, f"{base}/{file.name}", hashlib.sha256(data).hexdigest(), len(data))
        packages.append(PythonPackage(name, "1.0", "pypi", True, wheel))
    lock = Lock(name="bench", intent_sha256="0" * 64, universe=Universe("2025-01-01T00:00:00Z", "intent"))
    lock.python = PythonLayer("3.11", "x86_64-manylinux_2_35", "/opt/venvs/ai", "uv", packages=packages)
    path.write_text(codec.dumps(lock))


def peer(files: list[Path], base: str, out: Path, jobs: int) -> float:
    out.mkdir()
    sums = "".join(f"{hashlib.sha256(f.read_bytes()).hexdigest()}  {f.name}\n" for f in files)  # known up front
    start = time.perf_counter()
    urls = "".join(f"{base}/{f.name}\n" for f in files)
    subprocess.run(
        ["xargs", "-P", str(jobs), "-n", "16", "curl", "--fail", "--silent", "--remote-name-all"],
        input=urls,
        text=True,
        cwd=out,
        check=True,
    )
    subprocess.run(["sha256sum", "--quiet", "-c", "-"], input=sums, text=True, cwd=out, check=True)
    return time.perf_counter() - start


def ours(lock: Path, out: Path, jobs: int, cache: Path) -> float:
    os.environ["IMAGELOCK_CACHE"] = str(cache)
    start = time.perf_counter()
    summary = run_mirror(lock, str(out), jobs)
    elapsed = time.perf_counter() - start
    if summary.failed:
        raise SystemExit("\n".join(summary.lines()))
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--small-kib", type=int, default=256)
    parser.add_argument("--large-mib", type=int, default=64)
    parser.add_argument("--large", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=8)
    args = parser.parse_args()
    for tool in ("curl", "sha256sum", "xargs"):
        if shutil.which(tool) is None:
            print(f"{tool} not found", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory(prefix="imagelock-bench-") as folder:
        root = Path(folder)
        served = root / "served"
        served.mkdir()
        files = make_files(served, args.files, args.small_kib << 10, args.large_mib << 20, args.large)
        total = sum(f.stat().st_size for f in files)
        # The server runs in its own process: both sides then face the same server, which never
        # competes with the measured side for a Python lock.
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(served)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_for(base)
            lock = root / "bench.lock"
            make_lock(lock, files, base)
            peer_time = peer(files, base, root / "peer", args.jobs)
            our_time = ours(lock, root / "ours", args.jobs, root / "cache")
        finally:
            server.terminate()
            server.wait()
    print(f"{args.files} artifacts, {total / (1 << 20):,.0f} MiB, {args.jobs} jobs, {os.cpu_count()} CPUs")
    print(f"  curl + sha256sum -c     {peer_time:6.2f} s")
    print(f"  lock mirror --to DIR    {our_time:6.2f} s   ratio {our_time / peer_time:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
