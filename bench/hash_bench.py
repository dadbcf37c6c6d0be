"""Hashing throughput beside `sha256sum`, on the same file (1 GiB by default).

    python bench/hash_bench.py [--size-mib 1024] [--file PATH] [--repeat 3]

Measures, best of `--repeat` runs each (the file is read once first so every run
reads from the page cache, as sha256sum does):
  sha256sum                      coreutils, the reference
  imagelock sha256               hashing.sha256_file: what recorded wheels/model files cost to re-check
  imagelock sha256+md5           hashing.digest_file: what a runfile costs (md5 and size are NVIDIA's check),
                                 md5 on a second core while sha256 runs on this one
  imagelock download (loopback)  http.download: the whole streaming path, HTTP + write + both hashes
  lock drift --cache             the whole command in a fresh process, as a host runs it on its cached disk
                                 image: start, read the release record, stat, hash (answer: verified)
and prints each rate and its ratio to sha256sum's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import lockrun  # noqa: E402
from imagelock import hashing  # noqa: E402
from imagelock.disk import record  # noqa: E402
from imagelock.net import http  # noqa: E402


def make_file(path: Path, size: int) -> None:
    block = hashlib.sha256(b"imagelock bench").digest() * (1 << 15)  # 1 MiB of fixed bytes
    with open(path, "wb") as out:
        for _ in range(size // len(block)):
            out.write(block)
        out.write(block[: size % len(block)])


def best(run: Callable[[], str], repeat: int) -> tuple[float, str]:
    times, result = [], ""
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def sha256sum(path: Path) -> str:
    return subprocess.run(["sha256sum", str(path)], check=True, capture_output=True, text=True).stdout.split()[0]


def drift_cache(path: Path, release: Path) -> str:
    """`lock drift --cache PATH --release RECORD --json`: the sha256 it hashed, once it answers verified."""
    _, out = lockrun.lock("drift", "--cache", str(path), "--release", str(release), "--json")
    return str(json.loads(out)["sha256"])


def release_record(path: Path, folder: Path) -> Path:
    """A release record for the file, as `lock publish` writes one (its sha256 from sha256sum)."""
    out = folder / "bench.lock.release.json"
    size = path.stat().st_size
    release = record.Release("bench.raw", "raw", sha256sum(path), size, "0" * 64, "bench", "1.0.0")
    out.write_text(record.dumps(release))
    return out


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--file", type=Path, help="hash this file instead of making one")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("sha256sum") is None:
        print("sha256sum not found: install coreutils", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="imagelock-bench-") as folder:
        path = args.file or Path(folder) / "blob"
        if args.file is None:
            make_file(path, args.size_mib << 20)
        size = path.stat().st_size
        hashing.digest_file(path)  # warm the page cache

        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(path.parent)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/{path.name}"
        dest = Path(folder) / "downloaded"

        def download() -> str:
            digest = http.download(url, dest, total=size)
            dest.unlink()
            return digest.sha256

        rows: list[tuple[str, Callable[[], str]]] = [
            ("sha256sum", partial(sha256sum, path)),
            ("imagelock sha256", partial(hashing.sha256_file, path)),
            ("imagelock sha256+md5", lambda: hashing.digest_file(path).sha256),
            ("imagelock download (loopback)", download),
            ("lock drift --cache", partial(drift_cache, path, release_record(path, Path(folder)))),
        ]
        results = []
        for label, run in rows:
            seconds, digest = best(run, args.repeat)
            results.append((label, seconds, digest))
        server.shutdown()

    reference = results[0][1]
    expected = results[0][2]
    print(f"file: {size / (1 << 20):,.0f} MiB, best of {args.repeat}, {os.cpu_count()} CPUs")
    for label, seconds, digest in results:
        rate = size / seconds / (1 << 20)
        same = "same sha256" if digest == expected else f"DIFFERENT sha256 {digest}"
        print(f"  {label:<30} {rate:8,.0f} MiB/s  {seconds:6.2f} s  ratio {reference / seconds:4.2f}  {same}")
    return 0 if all(d == expected for _, _, d in results) else 1


if __name__ == "__main__":
    sys.exit(main())
