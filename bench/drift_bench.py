"""`lock drift` comparison speed: 10,000 generated facts documents against one lock, on one core.

The lock is the seed lock (its real 133-package Python layer) plus an apt layer of
--apt packages, the seed kernel, NVIDIA driver and a 13-file model set. Each facts
document is what collector.py prints for a worker built from it, with --base more
dpkg packages of the base image (not owned by the lock) and, for --drift of the
machines, one to three planted changes (imagelock.drift.synthetic).

Printed, per phase, documents per second (one process, one core):

- parse:    json.loads of every document: the floor, as a fleet's facts arrive as JSON
            text (from S3, ssh or Ray) and must at least be read;
- validate: imagelock's check of each document's shape (audit() runs it before comparing);
- compare:  imagelock's comparison of the parsed documents (lock indexed once);
- naive:    the same findings computed the obvious way: per document, build dicts from the
            lock and from the facts and walk every package in Python;
- total:    parse + validate + compare, what `lock drift --facts ...` spends per fleet;

and the ratios naive/compare, naive/(validate + compare) and total/parse. Each phase
reads its own freshly parsed copy, so none finds the strings already hashed or in cache
by another. Both comparisons are checked to agree on which machines drifted, so the
faster one is not faster by seeing less.

    python bench/drift_bench.py [--docs 10000] [--apt 400] [--base 500] [--drift 0.1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from imagelock import domains  # noqa: E402
from imagelock.drift.compare import LockIndex, compare, normalize, validate  # noqa: E402
from imagelock.drift.synthetic import facts_for, plant  # noqa: E402
from imagelock.lock.model import (  # noqa: E402
    AptLayer,
    AptPackage,
    KernelLayer,
    Lock,  # noqa: E402
    Model,
    ModelFile,
    NvidiaLayer,
)


def bench_lock(apt: int) -> Lock:
    lock, _ = domains.read_lock(ROOT / "locks" / "seed.lock")
    rng = random.Random(1)
    lock.apt = AptLayer(
        archive="ubuntu",
        keyring_sha256="0" * 64,
        packages=[
            AptPackage(
                name=f"lib-locked-{i}",
                version=f"{rng.randrange(9)}.{rng.randrange(40)}-{rng.randrange(5)}ubuntu1",
                arch="amd64" if i % 4 else "all",
                filename=f"pool/p{i}.deb",
                sha256="0" * 64,
                size=1,
                suite="jammy",
            )
            for i in range(apt)
        ],
    )
    lock.kernel = KernelLayer(version="5.15.0-105-generic", flavour="generic", abi="5.15.0-105")
    lock.nvidia = NvidiaLayer(
        runfile="cuda_12.4.1_550.54.15_linux.run",
        url="https://x.invalid/r",
        sha256="0" * 64,
        md5="0" * 32,
        size=1,
        driver_version="550.54.15",
        cuda_version="12.4.1",
    )
    lock.models = [
        Model(
            repo=f"org/m{j}",
            revision="main",
            commit="1" * 40,
            dest=f"/workspace/models/m{j}",
            files=[ModelFile(path=f"f{k}.json", sha256=f"{j}{k}" * 32, size=1000 + k) for k in range(4 + j)],
        )
        for j in range(3)
    ]
    return lock


def naive(lock: Lock, facts: dict) -> bool:
    """Drifted? Computed without an index: dicts rebuilt from the lock for every document."""
    drift = False
    digest = facts["fingerprint"]["digest"]
    drift |= digest != naive.digest  # the lock digest is the one thing even a naive tool would compute once
    drift |= facts["kernel"]["running"] != lock.kernel.version
    drift |= any(v != lock.nvidia.driver_version for v in facts["nvidia"]["sources"].values())
    installed = {(r[0], r[2]): r[1] for r in facts["dpkg"]}
    for p in lock.apt.packages:
        drift |= installed.get((p.name, p.arch)) != p.version
    dists = {normalize(d["name"]): d["version"] for d in facts["python"]["distributions"]}
    locked = {normalize(p.name): p.version for p in lock.python.packages}
    for name, version in locked.items():
        drift |= dists.get(name) != version
    drift |= any(n not in locked and n not in ("pip", "setuptools", "wheel") for n in dists)
    folders = {m["dest"]: {f["path"]: f["size"] for f in m["files"]} for m in facts["models"]}
    for m in lock.models:
        have = folders.get(m.dest, {})
        drift |= set(have) != {f.path for f in m.files}
        drift |= any(have.get(f.path) != f.size for f in m.files)
    return drift


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>12,.0f} docs/s  ({seconds:.3f} s)"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--apt", type=int, default=400, help="apt packages in the lock")
    parser.add_argument("--base", type=int, default=500, help="base-image dpkg packages the lock does not own")
    parser.add_argument("--drift", type=float, default=0.1, help="share of machines with planted drift")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core

    lock = bench_lock(args.apt)
    rng = random.Random(42)
    clean = facts_for(lock, base_packages=args.base)
    docs = [json.dumps(plant(clean, rng) if rng.random() < args.drift else clean) for _ in range(args.docs)]
    size = sum(len(d) for d in docs)

    # One document at a time, as `lock drift` does with a fleet: parse, compare, drop.
    index = LockIndex(lock)
    naive.digest = index.digest
    t_parse = t_validate = t_compare = t_naive = 0.0
    ours, theirs = [], []
    clock = time.perf_counter
    for text in docs:
        t0 = clock()
        facts = json.loads(text)
        t1 = clock()
        ours.append(bool(compare(index, facts)))
        t2 = clock()
        # Each phase on its own copy, parsed just before it as the one above: string hashes are computed,
        # and objects brought into the CPU's cache, by whoever touches them first.
        checked = json.loads(text)
        t3 = clock()
        validate(checked, "bench")
        t4 = clock()
        fresh = json.loads(text)
        t5 = clock()
        theirs.append(naive(lock, fresh))
        t6 = clock()
        t_parse += t1 - t0
        t_compare += t2 - t1
        t_validate += t4 - t3
        t_naive += t6 - t5

    if ours != theirs:
        print("the two comparisons disagree on which machines drifted", file=sys.stderr)
        return 1
    packages = len(clean["dpkg"]) + len(clean["python"]["distributions"])
    print(
        f"{args.docs:,} facts documents, {size / 1e6:.0f} MB of JSON, {packages} packages each "
        f"({args.apt} apt + {len(lock.python.packages)} python locked), {sum(ours):,} drifted; one core"
    )
    total = t_parse + t_validate + t_compare
    print(f"parse    {rate(args.docs, t_parse)}")
    print(f"validate {rate(args.docs, t_validate)}")
    print(f"compare  {rate(args.docs, t_compare)}")
    print(f"naive    {rate(args.docs, t_naive)}")
    print(f"total    {rate(args.docs, total)}")
    print(
        f"compare is {t_naive / t_compare:.1f}x the naive comparison's speed "
        f"(validate + compare: {t_naive / (t_validate + t_compare):.1f}x); "
        f"parse+validate+compare takes {total / t_parse:.2f}x the time of parsing alone"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
