"""`lock update` of a `[dnf]` intent beside Debian's dnf 4.14 on the same signed repository, cold and warm.

    python bench/dnf_bench.py [--packages 600] [--request 20] [--base 40] [--rounds 3] [--seed 1]

The repository is generated here and built by the real tools, as the dnf tests build theirs
(tests/dnf/rpmrepo.py): `--packages` rpms (x86_64 and noarch, a sixth of them also in a second
version, some providing a virtual name others require, each requiring up to four earlier ones, some
with a version constraint) made by rpmbuild, signed by rpmsign with a throwaway RSA key, indexed by
createrepo_c, repomd.xml signed by gpg, and served on loopback under `$releasever/core`. The base
image is an rpm database (`rpm --justdb`) holding `--base` of the packages at their first version;
the request is `--request` packages drawn from the top of the dependency order, so their closure
is most of the repository.

Each round, both sides start cold and then run again warm:
  dnf        `dnf --installroot ROOT --releasever V makecache -y` (imports the key and reads the signed
             metadata: `--assumeno` alone would refuse the key) then `dnf ... --assumeno install REQUEST`,
             gpgcheck and repo_gpgcheck on, an empty cachedir (cold), then the same two with the cache
             filled (warm)
  imagelock  `lock update INTENT` in a fresh process with an empty IMAGELOCK_CACHE (cold: download,
             verify the signature and hashes, parse, resolve, write the lock), then again with the lock
             removed and the cache filled (warm)
Prints the medians and spreads, imagelock's ratio to dnf (below 1.0: faster), and whether the two
closures are the same set of (name, version-release, arch).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.lockrun import lock, spread  # noqa: E402
from tests.apt.aptrepo import RepoServer  # noqa: E402
from tests.dnf import scenario  # noqa: E402
from tests.dnf.rpmrepo import (  # noqa: E402
    Rpm,
    base_manifest,
    build_repo,
    dnf_install,
    install_base,
    make_key,
    stop_agent,
)

Closure = set[tuple[str, str, str]]


def generate(count: int, rng: random.Random) -> list[Rpm]:
    """A repository's worth of packages whose dependencies only point down the list (no cycles)."""
    rpms: list[Rpm] = []
    virtuals: list[str] = []  # provided by exactly one package: the choice between providers is not timed
    for i in range(count):
        name = f"bench-{i:04d}"
        requires = []
        for j in sorted(rng.sample(range(i), min(i, rng.randrange(5)))):
            requires.append(f"bench-{j:04d} >= 1.0" if rng.random() < 0.3 else f"bench-{j:04d}")
        if virtuals and rng.random() < 0.1:
            requires.append(rng.choice(virtuals))
        provides = []
        if rng.random() < 0.1:
            provides.append(f"bench-virt-{i:04d}")
            virtuals.append(f"bench-virt-{i:04d}")
        arch = "x86_64" if i % 3 else "noarch"
        rpms.append(Rpm(name, "1.0", arch=arch, requires=requires, provides=provides))
        if rng.random() < 1 / 6:
            rpms.append(Rpm(name, "1.1", arch=arch, requires=requires, provides=provides))
    return rpms


def write_intent(folder: Path, url: str, key: Path, request: list[str], manifest: Path) -> Path:
    folder.mkdir(parents=True)
    packages = ", ".join(f'"{p}"' for p in request)
    path = folder / "image.toml"
    path.write_text(
        f'name = "dnf-bench"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n[dnf]\n'
        f'releasever = "{scenario.RELEASEVER}"\npackages = [{packages}]\nbase-manifest = "{manifest}"\n'
        f'[[dnf.repos]]\nid = "core"\nbaseurl = "{url}"\ngpgkey = "{key}"\n'
    )
    return path


def locked(intent: Path) -> Closure:
    table = tomllib.loads(intent.with_suffix(".lock").read_text())["dnf"]
    return {(p["name"], f"{p['version']}-{p['release']}", p["arch"]) for p in table.get("packages", [])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packages", type=int, default=600, help="package names in the repository")
    parser.add_argument("--request", type=int, default=20, help="packages asked for")
    parser.add_argument("--base", type=int, default=40, help="packages in the base image's rpm database")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for tool in ("dnf", "rpm", "rpmbuild", "rpmsign", "createrepo_c", "gpg"):
        if shutil.which(tool) is None:
            print(f"{tool} not found (.ci/apt-packages.txt)", file=sys.stderr)
            return 2
    rng = random.Random(args.seed)
    rpms = generate(args.packages, rng)
    names = sorted({r.name for r in rpms})
    request = sorted(rng.sample(names[-args.packages // 4 :], args.request))
    base = sorted(rng.sample(names[: args.packages // 2], args.base))
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="imagelock-bench-") as folder:
        work = Path(folder)
        key = make_key(work / "gnupg", "imagelock dnf bench <bench@invalid>")
        try:
            started = time.perf_counter()
            repo = build_repo(work / "served" / scenario.RELEASEVER / "core", rpms, key)
            built = time.perf_counter() - started
        finally:
            stop_agent(key)
        root = work / "root"
        install_base(root, [repo / "Packages" / f"{name}-1.0-1.{arch}.rpm" for name, arch in _arches(rpms, base)])
        manifest = work / "base.rpms"
        manifest.write_text(base_manifest(root))
        metadata = sum(f.stat().st_size for f in (repo / "repodata").iterdir())
        with RepoServer(work / "served") as server:
            url = f"{server.url}/$releasever/core"
            for round_ in range(args.rounds):
                dnf_work = work / f"dnf-{round_}"
                for temp in ("cold", "warm"):
                    start = time.perf_counter()
                    answer = dnf_install(dnf_work, root, {"core": (url, key.armored)}, request, scenario.RELEASEVER)
                    results.setdefault(f"dnf ({temp})", []).append(time.perf_counter() - start)
                    if answer.code != 1 or answer.removes:  # --assumeno: "Operation aborted", exit 1
                        raise SystemExit(f"dnf did not plan the install:\n{answer.output}")
                intent = write_intent(work / f"intent-{round_}", url, key.armored, request, manifest)
                cache = work / f"cache-{round_}"
                results.setdefault("lock update (cold)", []).append(lock("update", str(intent), cache=cache)[0])
                ours = locked(intent)
                intent.with_suffix(".lock").unlink()
                results.setdefault("lock update (warm)", []).append(lock("update", str(intent), cache=cache)[0])
    print(
        f"repository: {len(rpms)} signed rpms ({len(names)} names), metadata {metadata / 1024:,.0f} KiB "
        f"(built in {built:.0f} s); base image {args.base} packages; request {args.request} -> "
        f"closure of {len(answer.installs)}; {args.rounds} rounds, {os.cpu_count()} CPUs"
    )
    for label, values in results.items():
        print(f"  {label:<22} {spread(values)}")
    for temp in ("cold", "warm"):
        ratio = statistics.median(results[f"lock update ({temp})"]) / statistics.median(results[f"dnf ({temp})"])
        print(f"ratio lock update / dnf ({temp}): {ratio:.2f}")
    same = ours == answer.installs
    print(f"closures identical: {same}")
    if not same:
        print("  only imagelock:", sorted(ours - answer.installs))
        print("  only dnf:", sorted(answer.installs - ours))
    return 0 if same else 1


def _arches(rpms: list[Rpm], names: list[str]) -> list[tuple[str, str]]:
    arch = {r.name: r.arch for r in rpms}
    return [(name, arch[name]) for name in names]


if __name__ == "__main__":
    raise SystemExit(main())
