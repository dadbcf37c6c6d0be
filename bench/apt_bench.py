"""Benchmark the apt layer against apt itself, on the same archive and request: time and peak memory.

By default this uses the first entry of the machine's own apt sources that the
Debian keyring signs (on the development machine bookworm + bookworm-updates,
main: ~63k package versions), and the Debian equivalent of the seed's request
(build-essential, dkms, git, curl, wget, ca-certificates, gnupg, lsb-release,
python3.11, python3.11-venv, python3.11-dev, and the newest amd64 kernel's
image and headers). Where Ubuntu's archive is reachable, the seed's own case
is measured with `--archive <ubuntu archive URL> --keyring <ubuntu keyring>
--suites jammy jammy-updates --components main universe --kernel
5.15.0-105-generic --request build-essential=12.9ubuntu3 dkms=2.8.7-2ubuntu2.2 ...`
(the figures are in docs/apt.md).

Each side runs in its own child process, so its peak resident memory is its
own (the kernel's ru_maxrss of that child, read with wait4). Timed, for
imagelock: verifying InRelease, reading the (already stored by hash) indexes,
parsing them, and resolving, inside the child; the child's whole run
(interpreter start and imports included) is printed beside it. For apt:
`apt-get install --simulate` with a private state directory after
`apt-get update`, first with no binary cache (apt parses the lists and builds
pkgcache.bin, the work that matches ours), then with its cache built. Both
closures are compared.

Run: python bench/apt_bench.py [--runs 3] [--archive URL --keyring PATH --suites ... --components ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from imagelock.domains.apt.closure import Resolution  # noqa: E402
from imagelock.domains.apt.layer import Loaded, kernel_plan, load_archive, request_roots  # noqa: E402
from imagelock.intent.apt import KERNEL_VERSION, KernelIntent, parse_apt, parse_kernel  # noqa: E402
from tests.apt import realapt  # noqa: E402

REQUEST = [
    "build-essential",
    "dkms",
    "git",
    "curl",
    "wget",
    "ca-certificates",
    "gnupg",
    "lsb-release",
    "python3.11",
    "python3.11-venv",
    "python3.11-dev",
]
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")

Closure = set[tuple[str, str, str]]


@dataclass
class SystemSource:
    """One `deb` entry of the machine's apt sources."""

    url: str
    suites: list[str]
    components: list[str]


def _deb822_entries(text: str) -> list[dict[str, str]]:
    """The paragraphs of a deb822 `.sources` file (sources.list(5)), continuation lines folded."""
    entries: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = ""
    for line in text.splitlines() + [""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                entries.append(current)
            current, key = {}, ""
        elif line[0] in " \t" and key:
            current[key] += "\n" + line.strip()
        else:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            current[key] = value.strip()
    return entries


def _one_line_entries(text: str) -> list[dict[str, str]]:
    """`deb [options] uri suite component...` lines of a `.list` file, as deb822-like fields."""
    entries = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if words[:1] != ["deb"]:
            continue
        words = words[1:]
        options: dict[str, str] = {}
        if words and words[0].startswith("["):
            closing = next(i for i, w in enumerate(words) if w.endswith("]"))
            for option in " ".join(words[: closing + 1]).strip("[]").split():
                name, _, value = option.partition("=")
                options[name.lower()] = value
            words = words[closing + 1 :]
        if len(words) >= 2:
            entries.append(
                {
                    "types": "deb",
                    "uris": words[0],
                    "suites": words[1],
                    "components": " ".join(words[2:]),
                    "signed-by": options.get("signed-by", ""),
                }
            )
    return entries


def system_source(keyring: Path) -> SystemSource:
    """The first `deb` entry of the machine's apt sources, in apt's reading order, that `keyring` signs.

    An entry with no Signed-By is trusted by apt through its global keyrings and is taken too.
    """
    folder = Path("/etc/apt")
    parts = sorted(p for p in (folder / "sources.list.d").glob("*") if p.suffix in (".list", ".sources"))
    for path in [folder / "sources.list", *parts]:
        if not path.is_file():
            continue
        text = path.read_text()
        entries = _deb822_entries(text) if path.suffix == ".sources" else _one_line_entries(text)
        for entry in entries:
            if "deb" not in entry.get("types", "").split() or entry.get("enabled", "yes").lower() == "no":
                continue
            signed_by = entry.get("signed-by", "")
            if signed_by and "\n" not in signed_by and Path(signed_by).resolve() != keyring:
                continue
            uris, suites = entry.get("uris", "").split(), entry.get("suites", "").split()
            if uris and suites:
                return SystemSource(
                    url=uris[0].rstrip("/"), suites=suites, components=entry.get("components", "main").split()
                )
    raise SystemExit(f"no entry of the machine's apt sources is signed by {keyring}")


def kernel_intent(kernel: str, where: Path) -> KernelIntent:
    """`5.15.0-105-generic` (one ABI) or a flavour (the ABI its metapackage names, docs/apt.md); image and headers,
    as a driver build needs."""
    table = {"version": kernel} if KERNEL_VERSION.match(kernel) else {"flavour": kernel}
    return parse_kernel({**table, "packages": ["image", "headers"]}, where)


def ours(args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    """One imagelock run, inside the child process: its timings, closure and the names apt is asked for."""
    intent = parse_apt(
        {
            "archive": args.archive,
            "suites": args.suites,
            "components": args.components,
            "keyring": str(args.keyring),
            "packages": args.request,
        },
        workdir / "bench.toml",
    )
    start = time.perf_counter()
    archive = load_archive(intent, "2025-01-01T00:00:00Z", workdir)
    parsed = time.perf_counter()
    loaded = Loaded(intent=intent, kernel=kernel_intent(args.kernel, workdir / "bench.toml"), archive=archive)
    roots = request_roots(loaded)
    plan = kernel_plan(loaded)
    names = [r.original for r in intent.packages] + (plan.packages if plan else [])
    chosen = Resolution(archive.universe).resolve(roots)
    done = time.perf_counter()
    closure = sorted([c.stanza.name, c.stanza.version, c.stanza.arch] for c in chosen.values())
    return {"load": parsed - start, "resolve": done - parsed, "closure": closure, "names": names}


@dataclass
class Measured:
    """A finished child process: its exit code, output, wall time and peak resident memory."""

    code: int
    stdout: str
    stderr: str
    seconds: float
    peak_mib: float


def measured(argv: list[str], env: dict[str, str]) -> Measured:
    """Run `argv` to its end; its peak memory is the kernel's ru_maxrss of that one child (wait4).

    wait4 reports the child's own usage (with its waited-for children), so
    one side's peak never leaks into the other's as RUSAGE_CHILDREN would.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(
            code=process.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            seconds=seconds,
            peak_mib=usage.ru_maxrss / 1024,
        )  # Linux reports KiB


def child_argv(args: argparse.Namespace, workdir: Path) -> list[str]:
    """This script, asked to run imagelock's side once in a fresh interpreter."""
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        "--side",
        "imagelock",
        "--workdir",
        str(workdir),
        "--archive",
        args.archive,
        "--keyring",
        str(args.keyring),
        "--kernel",
        args.kernel,
        "--suites",
        *args.suites,
        "--components",
        *args.components,
        "--request",
        *args.request,
    ]


def run_ours(args: argparse.Namespace, workdir: Path) -> tuple[dict[str, object], Measured]:
    run = measured(child_argv(args, workdir), dict(os.environ))
    if run.code != 0:
        raise SystemExit(f"imagelock failed:\n{run.stderr}")
    return json.loads(run.stdout), run


def run_apt(names: list[str], env: dict[str, str]) -> tuple[Closure, Measured]:
    run = measured(realapt.simulate_command(names), env)
    if run.code != 0:
        raise SystemExit(f"apt-get failed:\n{run.stdout}{run.stderr}")
    return realapt.installs(run.stdout), run


def median(values: list[float]) -> float:
    return statistics.median(values)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--archive", help="archive URL (default: from the machine's apt sources)")
    parser.add_argument("--keyring", type=Path, default=KEYRING)
    parser.add_argument("--suites", nargs="+", help="(default: the machine's apt sources entry's)")
    parser.add_argument("--components", nargs="+", help="(default: the machine's apt sources entry's)")
    parser.add_argument("--kernel", default="amd64", help="a kernel release (5.15.0-105-generic) or a flavour")
    parser.add_argument("--request", nargs="+", default=REQUEST)
    parser.add_argument("--side", choices=["imagelock"], help=argparse.SUPPRESS)  # the child's role
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.keyring = args.keyring.resolve()
    args.from_system = args.archive is None
    if args.from_system:
        source = system_source(args.keyring)
        args.archive = source.url
        args.suites = args.suites or source.suites
        args.components = args.components or source.components
    args.suites = args.suites or ["bookworm", "bookworm-updates"]
    args.components = args.components or ["main"]
    return args


def main() -> int:
    args = parse_args()
    if args.side == "imagelock":
        print(json.dumps(ours(args, args.workdir)))
        return 0
    with tempfile.TemporaryDirectory(prefix="apt-bench-") as tmp:
        work = Path(tmp)
        os.environ.setdefault("IMAGELOCK_CACHE", str(work / "cache"))
        run_ours(args, work)  # fill the by-hash store, so network time is not measured
        ours_runs = [run_ours(args, work) for _ in range(args.runs)]
        result = ours_runs[-1][0]
        names = list(result["names"])  # type: ignore[call-overload]
        closure = {tuple(row) for row in result["closure"]}  # type: ignore[attr-defined]
        cold: list[Measured] = []
        warm: list[Measured] = []
        for run in range(args.runs):
            env = realapt.setup(work / f"apt{run}", args.archive, args.keyring, args.suites, args.components)
            for binary in (work / f"apt{run}" / "var/cache/apt").glob("*.bin"):
                binary.unlink()
            apt_closure, first = run_apt(names, env)
            cold.append(first)
            warm.append(run_apt(names, env)[1])
    load = median([float(r["load"]) for r, _ in ours_runs])  # type: ignore[arg-type]
    resolve = median([float(r["resolve"]) for r, _ in ours_runs])  # type: ignore[arg-type]
    total = load + resolve
    process = median([m.seconds for _, m in ours_runs])
    peak = median([m.peak_mib for _, m in ours_runs])
    apt_cold, apt_warm = median([m.seconds for m in cold]), median([m.seconds for m in warm])
    apt_cold_peak, apt_warm_peak = median([m.peak_mib for m in cold]), median([m.peak_mib for m in warm])
    where = "the machine's apt sources" if args.from_system else args.archive
    print(f"archive: {' + '.join(args.suites)} {' + '.join(args.components)} amd64 (from {where})")
    print(f"request: {len(names)} packages -> closure of {len(closure)}")
    print(
        f"imagelock: verify+parse {load:.2f}s + resolve {resolve:.3f}s = {total:.2f}s; whole process "
        f"{process:.2f}s; peak {peak:.0f} MiB (median of {args.runs})"
    )
    print(
        f"apt-get --simulate: {apt_cold:.2f}s, peak {apt_cold_peak:.0f} MiB building its cache; "
        f"{apt_warm:.2f}s, peak {apt_warm_peak:.0f} MiB with its cache built"
    )
    print(
        f"ratio imagelock / apt (cold): time {total / apt_cold:.2f} (whole process {process / apt_cold:.2f}), "
        f"memory {peak / apt_cold_peak:.2f}"
    )
    print(
        f"ratio imagelock / apt (warm): time {total / apt_warm:.2f} (whole process {process / apt_warm:.2f}), "
        f"memory {peak / apt_warm_peak:.2f}"
    )
    same = closure == apt_closure
    print(f"closures identical: {same}")
    if not same:
        print("  only imagelock:", sorted(closure - apt_closure))
        print("  only apt:", sorted(apt_closure - closure))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
