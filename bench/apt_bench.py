"""Benchmark the apt layer against apt itself, on the same archive and request.

By default this uses the Debian archive the machine's own apt sources name
(bookworm + bookworm-updates, main: ~63k package versions), with the system's
Debian keyring, and the Debian equivalent of the seed's request
(build-essential, dkms, git, curl, wget, ca-certificates, gnupg, lsb-release,
python3.11, python3.11-venv, python3.11-dev, and the newest amd64 kernel's
image and headers). Where Ubuntu's archive is reachable, the seed's own case
is measured with `--archive <ubuntu archive URL> --keyring <ubuntu keyring>
--suites jammy jammy-updates --components main universe --kernel
5.15.0-105-generic --request build-essential=12.9ubuntu3 dkms=2.8.7-2ubuntu2.2 ...`
(the figures are in docs/apt.md).

Timed, for imagelock: verifying InRelease, reading the (already stored by hash)
indexes, parsing them, and resolving. For apt: `apt-get install --simulate`
with a private state directory after `apt-get update`, first with no binary
cache (apt parses the lists and builds pkgcache.bin, the work that matches
ours), then with its cache built. Both closures are compared.

Run: python bench/apt_bench.py [--runs 3] [--archive URL --keyring PATH --suites ... --components ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imagelock.domains.apt.closure import Resolution  # noqa: E402
from imagelock.intent.apt import KERNEL_VERSION, KernelIntent, parse_apt, parse_kernel  # noqa: E402
from imagelock.domains.apt.layer import Loaded, kernel_plan, load_archive, request_roots  # noqa: E402
from tests.apt import realapt  # noqa: E402

REQUEST = ["build-essential", "dkms", "git", "curl", "wget", "ca-certificates", "gnupg", "lsb-release",
           "python3.11", "python3.11-venv", "python3.11-dev"]
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")


def mirror_from_system() -> str:
    """The first Debian archive URL of the machine's apt sources (deb822 or one-line form)."""
    folder = Path("/etc/apt")
    files = sorted((folder / "sources.list.d").glob("*.sources")) + [folder / "sources.list"]
    for path in files:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            words = line.split()
            if path.suffix == ".sources" and words[:1] == ["URIs:"] and len(words) > 1 and "security" not in words[1]:
                return words[1].rstrip("/")
            if words[:1] == ["deb"]:
                url = next(w for w in words[1:] if "://" in w)
                if "security" not in url:
                    return url.rstrip("/")
    raise SystemExit("no Debian archive in the machine's apt sources")


def kernel_intent(kernel: str, where: Path) -> KernelIntent:
    """`5.15.0-105-generic` (one ABI) or a flavour (its newest ABI); image and headers, as a driver build needs."""
    table = {"version": kernel} if KERNEL_VERSION.match(kernel) else {"flavour": kernel}
    return parse_kernel({**table, "packages": ["image", "headers"]}, where)


def ours(args: argparse.Namespace, url: str, workdir: Path) -> tuple[float, float, set[tuple[str, str, str]], list[str]]:
    intent = parse_apt({"archive": url, "suites": args.suites, "components": args.components,
                        "keyring": str(args.keyring), "packages": args.request}, workdir / "bench.toml")
    start = time.perf_counter()
    archive = load_archive(intent, "2025-01-01T00:00:00Z", workdir)
    parsed = time.perf_counter()
    universe = archive.universe
    loaded = Loaded(intent=intent, kernel=kernel_intent(args.kernel, workdir / "bench.toml"), archive=archive)
    roots = request_roots(loaded)
    plan = kernel_plan(loaded)
    names = [r.original for r in intent.packages] + (plan.packages if plan else [])
    chosen = Resolution(universe).resolve(roots)
    done = time.perf_counter()
    closure = {(c.stanza.name, c.stanza.version, c.stanza.arch) for c in chosen.values()}
    return parsed - start, done - parsed, closure, names


def apt(args: argparse.Namespace, url: str, names: list[str], root: Path) -> tuple[float, float, set[tuple[str, str, str]]]:
    env = realapt.setup(root, url, args.keyring, args.suites, args.components)
    cache = root / "var/cache/apt"
    for binary in cache.glob("*.bin"):
        binary.unlink()
    start = time.perf_counter()
    code, closure, output = realapt.simulate(env, names)
    cold = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"apt-get failed:\n{output}")
    start = time.perf_counter()
    realapt.simulate(env, names)
    warm = time.perf_counter() - start
    return cold, warm, closure


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--archive", help="archive URL (default: the machine's Debian mirror)")
    parser.add_argument("--keyring", type=Path, default=KEYRING)
    parser.add_argument("--suites", nargs="+", default=["bookworm", "bookworm-updates"])
    parser.add_argument("--components", nargs="+", default=["main"])
    parser.add_argument("--kernel", default="amd64", help="a kernel release (5.15.0-105-generic) or a flavour")
    parser.add_argument("--request", nargs="+", default=REQUEST)
    args = parser.parse_args()
    args.keyring = args.keyring.resolve()
    url = args.archive or mirror_from_system()
    with tempfile.TemporaryDirectory(prefix="apt-bench-") as tmp:
        work = Path(tmp)
        os.environ.setdefault("IMAGELOCK_CACHE", str(work / "cache"))
        ours(args, url, work)  # fill the by-hash store, so network time is not measured
        load_times, resolve_times = [], []
        for _ in range(args.runs):
            load_s, resolve_s, closure, names = ours(args, url, work)
            load_times.append(load_s)
            resolve_times.append(resolve_s)
        cold_times, warm_times = [], []
        for run in range(args.runs):
            cold, warm, apt_closure = apt(args, url, names, work / f"apt{run}")
            cold_times.append(cold)
            warm_times.append(warm)
    our_total = statistics.median(load_times) + statistics.median(resolve_times)
    packages = sum(1 for _ in closure)
    where = "the machine's apt sources" if not args.archive else args.archive
    print(f"archive: {' + '.join(args.suites)} {' + '.join(args.components)} amd64 (from {where})")
    print(f"request: {len(names)} packages -> closure of {packages}")
    print(f"imagelock: verify+parse {statistics.median(load_times):.2f}s + resolve "
          f"{statistics.median(resolve_times):.3f}s = {our_total:.2f}s (median of {args.runs})")
    print(f"apt-get --simulate: {statistics.median(cold_times):.2f}s building its cache, "
          f"{statistics.median(warm_times):.2f}s with its cache built")
    print(f"ratio imagelock / apt (cold): {our_total / statistics.median(cold_times):.2f}; "
          f"(warm): {our_total / statistics.median(warm_times):.2f}")
    same = closure == apt_closure
    print(f"closures identical: {same}")
    if not same:
        print("  only imagelock:", sorted(closure - apt_closure))
        print("  only apt:", sorted(apt_closure - closure))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
