"""`lock update` of N multi-platform `[[containers]]` beside `skopeo inspect --raw` of the same references.

    python bench/containers_bench.py [--images 40] [--platforms 4] [--locked 2] [--rounds 3]

Debian's docker-registry runs on loopback (tests/containers/registry.py) and skopeo pushes into it
`--images` images, each an OCI index of `--platforms` platforms (linux/amd64, linux/arm64, ...). The
intent locks each image's first `--locked` platforms. Each round, both sides read every image, one
request after another, as imagelock does:
  skopeo     per image, `skopeo inspect --raw` of the tag (the index), then of each locked platform's
             manifest by digest: the same bytes imagelock reads and hashes, one process per request
             (the row "+ config" adds `skopeo inspect --config --raw` per platform, which imagelock
             does not need for an index: the manifest names the config's digest and size)
  imagelock  `lock update INTENT` in a fresh process with no lock and an empty cache: the same requests,
             each manifest hashed and checked against the digest it was asked for or listed under, and
             the lock written
Prints medians and spreads, imagelock's ratio to skopeo (below 1.0: faster), and whether every locked
index and manifest digest is the sha256 of the bytes skopeo read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.lockrun import lock, spread  # noqa: E402
from tests.containers.registry import Registry, oci_layout, registry  # noqa: E402

PLATFORMS = ("linux/amd64", "linux/arm64", "linux/ppc64le", "linux/s390x", "linux/riscv64", "linux/386")
Digests = dict[str, tuple[str, list[str]]]  # image reference -> (index digest, locked manifest digests)


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def config_raw(served: Registry, reference: str) -> bytes:
    """The image config a manifest names, as skopeo fetches it."""
    argv = ["skopeo", "inspect", "--config", "--raw", "--tls-verify=false", f"docker://{served.host}/{reference}"]
    return subprocess.run(argv, check=True, capture_output=True, timeout=60).stdout


def peer(served: Registry, images: list[str], platforms: tuple[str, ...], config: bool) -> tuple[float, Digests]:
    """skopeo reads each index, then each locked platform's manifest (and, with `config`, its config)."""
    seen: Digests = {}
    start = time.perf_counter()
    for image in images:
        index = served.inspect_raw(image)
        listed = {
            f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"]
            for m in json.loads(index)["manifests"]
        }
        repository = image.split(":")[0]
        manifests = []
        for platform in platforms:
            manifests.append(_sha(served.inspect_raw(f"{repository}@{listed[platform]}")))
            if config:
                config_raw(served, f"{repository}@{listed[platform]}")
        seen[image] = (_sha(index), manifests)
    return time.perf_counter() - start, seen


def write_intent(folder: Path, host: str, images: list[str], platforms: tuple[str, ...]) -> Path:
    folder.mkdir(parents=True)
    listed = ", ".join(f'"{p}"' for p in platforms)
    entries = "".join(f'[[containers]]\nimage = "{host}/{i}"\nplatforms = [{listed}]\n' for i in images)
    path = folder / "image.toml"
    path.write_text(f'name = "containers-bench"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n{entries}')
    return path


def ours(intent: Path, cache: Path) -> tuple[float, Digests]:
    """One `lock update` in a fresh process; what it locked, by the image it was asked for."""
    elapsed, _ = lock("update", str(intent), cache=cache)
    entries = tomllib.loads(intent.with_suffix(".lock").read_text())["containers"]
    return elapsed, {
        f"{e['repository']}:{e['tag']}": (e["digest"], [p["manifest-digest"] for p in e["platforms"]]) for e in entries
    }


def per_image(values: list[float], count: int) -> str:
    return f"{spread(values)}  {statistics.median(values) / count * 1000:5.1f} ms/image"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--platforms", type=int, default=4, help=f"platforms in each index (at most {len(PLATFORMS)})")
    parser.add_argument("--locked", type=int, default=2, help="platforms locked of each index")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not 1 <= args.locked <= args.platforms <= len(PLATFORMS):
        print(f"expected 1 <= --locked <= --platforms <= {len(PLATFORMS)}", file=sys.stderr)
        return 2
    for tool in ("skopeo", "docker-registry"):
        if shutil.which(tool) is None:
            print(f"{tool} not found (.ci/apt-packages.txt)", file=sys.stderr)
            return 2
    platforms, locked = PLATFORMS[: args.platforms], PLATFORMS[: args.locked]
    images = [f"bench/app{i:03d}:1.{i % 7}" for i in range(args.images)]
    results: dict[str, list[float]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="imagelock-bench-") as folder,
        registry(Path(folder) / "registry") as served,
    ):
        work = Path(folder)
        for i, image in enumerate(images):
            repository, tag = image.split(":")
            oci_layout(work / f"layout{i}", tag, f"bench image {i}", platforms)
            served.push(work / f"layout{i}", tag, repository)
        peer(served, images[:1], locked, config=False)  # skopeo's first start (its binary read from disk)
        agree = True
        for round_ in range(args.rounds):
            seconds, theirs = peer(served, images, locked, config=False)
            results.setdefault("skopeo inspect --raw", []).append(seconds)
            results.setdefault("skopeo + config", []).append(peer(served, images, locked, config=True)[0])
            intent = write_intent(work / f"intent-{round_}", served.host, images, locked)
            seconds, mine = ours(intent, work / f"cache-{round_}")
            results.setdefault("lock update", []).append(seconds)
            agree &= mine == theirs
    print(
        f"{args.images} images, each an index of {args.platforms} platforms, {args.locked} locked "
        f"({1 + args.locked} manifests read per image); median of {args.rounds} rounds, {os.cpu_count()} CPUs"
    )
    for label, values in results.items():
        print(f"  {label:<22} {per_image(values, args.images)}")
    for label in ("skopeo inspect --raw", "skopeo + config"):
        ratio = statistics.median(results["lock update"]) / statistics.median(results[label])
        print(f"ratio lock update / {label}: {ratio:.2f}")
    print(f"digests identical: {agree}")
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
