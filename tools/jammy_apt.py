"""Jammy's own apt-get (2.4.x), unpacked from the signed Ubuntu archive, as a tool the tests run.

The apt layer's closure oracle is the apt-get of Ubuntu 22.04, not the
machine's: Debian's apt >= 2.5 resolves base-image upgrades differently (it
also upgrades the other binaries of an upgraded package's source). This
script makes that apt-get available on any Debian-like machine, reproducibly:

1. The archive URL and keyring are the shipped seed intent's
   (locks/seed.toml, [apt] archive and keyring): nothing else is trusted.
2. Each suite's InRelease is verified by gpgv against that keyring and each
   `main` Packages index by its signed SHA256, through imagelock's own archive
   code (imagelock/domains/apt/archive.py, the by-hash store included).
3. The newest `apt` and `libapt-pkg6.0` of jammy, jammy-updates and
   jammy-security are taken, plus, for every shared library `ldd` says the
   unpacked programs lack on this machine, the jammy package named after it
   (Debian's library package naming: libfoo.so.N is in libfooN).
4. Each .deb is downloaded from its pool path, its size and SHA256 checked
   against the signed index, and unpacked with `dpkg-deb -x`.
5. A runner script is written beside the tree: `<runner> apt-get ...` runs the
   unpacked program with LD_LIBRARY_PATH on the unpacked libraries and apt's
   methods (http, gpgv, store ...) and apt-key taken from the tree.

The tree lives in `$IMAGELOCK_CACHE/jammy-apt/<digest>/` (default
`~/.cache/imagelock`), named by the SHA256s of the .debs it holds, so a second
run that finds the same .debs in the signed indexes downloads nothing and
prints the same runner. The runner's path is the only line on stdout.

Run: python3 tools/jammy_apt.py [--cache DIR] [--intent locks/seed.toml]
     "$(python3 tools/jammy_apt.py)" apt-get --version    # apt 2.4.x (amd64)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from imagelock.domains.apt import archive  # noqa: E402
from imagelock.domains.apt.packages_index import Stanza, read  # noqa: E402
from imagelock.errors import ImagelockError  # noqa: E402
from imagelock.formats import debversion  # noqa: E402
from imagelock.formats.openpgp import dearmor_keyring  # noqa: E402
from imagelock.net import http  # noqa: E402

SUITES = ("jammy", "jammy-updates", "jammy-security")
WANTED = ("apt", "libapt-pkg6.0")
ARCH = "amd64"
LIBDIR = "usr/lib/x86_64-linux-gnu"
# The programs (and apt's methods, which apt-get runs for `update`) that must find their libraries.
PROGRAMS = ("usr/bin/*", "usr/lib/apt/methods/*", "usr/lib/apt/apt-helper")
_MISSING = re.compile(r"^\s*(\S+) => not found", re.MULTILINE)


@dataclass
class Source:
    """The seed intent's archive and keyring."""

    archive: str
    keyring: Path


def seed_source(intent: Path) -> Source:
    table = tomllib.loads(intent.read_text())["apt"]
    return Source(archive=table["archive"].rstrip("/"), keyring=(intent.parent / table["keyring"]).resolve())


def jammy_main(source: Source, workdir: Path) -> dict[str, list[Stanza]]:
    """Every `main` amd64 package version of jammy's three suites, read from signed, verified indexes."""
    keyring = dearmor_keyring(source.keyring, workdir)
    by_name: dict[str, list[Stanza]] = {}
    for suite in SUITES:
        signed = archive.fetch_release(source.archive, suite, keyring, allow_unsigned=False)
        index = archive.fetch_packages(source.archive, suite, signed.release, "main", ARCH)
        for stanza in read(index.text, suite, f"{suite}/{index.path}"):
            by_name.setdefault(stanza.name, []).append(stanza)
    return by_name


def newest(by_name: dict[str, list[Stanza]], name: str) -> Stanza:
    versions = by_name.get(name)
    if not versions:
        raise SystemExit(f"jammy_apt: no package {name!r} in jammy's main ({', '.join(SUITES)})")
    best = versions[0]
    for stanza in versions[1:]:
        if debversion.compare(stanza.version, best.version) > 0:
            best = stanza
    return best


def library_package(soname: str) -> str:
    """Debian's name for the package of a shared library: libfoo.so.6 -> libfoo6, libfoo2.so.0 -> libfoo2-0."""
    stem, _, number = soname.partition(".so.")
    stem = stem.lower().replace("_", "-")
    if not number:
        return stem
    return f"{stem}-{number}" if stem[-1].isdigit() else f"{stem}{number}"


def fetch_deb(source: Source, stanza: Stanza, debs: Path) -> Path:
    """The .deb of one stanza, in `debs`, its size and SHA256 the signed index's (a stored copy is re-checked)."""
    target = debs / f"{stanza.sha256}.deb"
    if target.is_file() and target.stat().st_size == stanza.size:
        with target.open("rb") as handle:
            if hashlib.file_digest(handle, "sha256").hexdigest() == stanza.sha256:
                return target
    url = f"{source.archive}/{stanza.filename}"
    digest = http.download(url, target, what=f"{stanza.name}_{stanza.version}", total=stanza.size)
    if (digest.sha256, digest.size) != (stanza.sha256, stanza.size):
        target.unlink(missing_ok=True)
        raise SystemExit(
            f"jammy_apt: {url}: sha256 {digest.sha256}, {digest.size} bytes, but the signed index says "
            f"{stanza.sha256}, {stanza.size} bytes (altered or truncated download)"
        )
    return target


def missing_libraries(tree: Path) -> set[str]:
    """Shared libraries the unpacked programs need that neither the tree nor this machine has."""
    env = {**os.environ, "LD_LIBRARY_PATH": str(tree / LIBDIR), "LC_ALL": "C"}
    missing: set[str] = set()
    programs = sorted({path for pattern in PROGRAMS for path in tree.glob(pattern) if path.is_file()})
    for program in programs:  # ldd says "not a dynamic executable" for scripts: nothing is missing there
        result = subprocess.run(["ldd", str(program)], env=env, capture_output=True, text=True, check=False)
        missing.update(_MISSING.findall(result.stdout))
    return missing


RUNNER = """#!/bin/sh
# Jammy's apt {version}, unpacked by tools/jammy_apt.py from .debs verified against the signed jammy indexes:
# {debs}
# Usage: {runner} apt-get|apt-cache|apt-config ARGS...
root={root}
export LD_LIBRARY_PATH="$root/{libdir}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}"
case "$1" in
  apt-get|apt-cache|apt-config|apt-mark)
    program="$1"; shift
    exec "$root/usr/bin/$program" -o "Dir::Bin::Methods=$root/usr/lib/apt/methods" \\
      -o "Dir::Bin::apt-key=$root/usr/bin/apt-key" "$@" ;;
  *) exec "$@" ;;
esac
"""


def build(source: Source, cache: Path) -> Path:
    """Find, fetch, verify and unpack jammy's apt; returns the runner's path (unchanged trees are reused)."""
    work = cache / "work"
    work.mkdir(parents=True, exist_ok=True)
    by_name = jammy_main(source, work)
    chosen = {name: newest(by_name, name) for name in WANTED}
    while True:
        digest = hashlib.sha256("\n".join(sorted(s.sha256 for s in chosen.values())).encode()).hexdigest()[:16]
        home = cache / digest
        tree = home / "root"
        if not (home / "debs.json").is_file():
            if home.exists():
                shutil.rmtree(home)  # a run that stopped half way
            staging = cache / f".{digest}.{os.getpid()}"
            shutil.rmtree(staging, ignore_errors=True)
            (staging / "root").mkdir(parents=True)
            for stanza in chosen.values():
                deb = fetch_deb(source, stanza, cache / "debs")
                subprocess.run(["dpkg-deb", "-x", str(deb), str(staging / "root")], check=True)
            listing = [
                {"name": s.name, "version": s.version, "suite": s.suite, "filename": s.filename, "sha256": s.sha256}
                for s in sorted(chosen.values(), key=lambda s: s.name)
            ]
            (staging / "debs.json").write_text(json.dumps(listing, indent=1) + "\n")
            os.replace(staging, home)
        needed = {library_package(soname) for soname in missing_libraries(tree)} - set(chosen)
        if not needed:
            break
        for name in sorted(needed):
            chosen[name] = newest(by_name, name)
    runner = home / "run"
    text = RUNNER.format(
        version=chosen["apt"].version,
        debs=", ".join(f"{s.name}_{s.version}" for s in sorted(chosen.values(), key=lambda s: s.name)),
        runner=runner,
        root=shlex.quote(str(tree)),
        libdir=LIBDIR,
    )
    if not runner.is_file() or runner.read_text() != text:
        runner.write_text(text)
        runner.chmod(0o755)
    return runner


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, help="where the tree is kept (default: $IMAGELOCK_CACHE/jammy-apt)")
    parser.add_argument("--intent", type=Path, default=ROOT / "locks" / "seed.toml", help="whose [apt] archive")
    args = parser.parse_args()
    cache = (args.cache or http.cache_dir() / "jammy-apt").resolve()
    try:
        runner = build(seed_source(args.intent), cache)
    except ImagelockError as error:
        print(f"jammy_apt: {error}", file=sys.stderr)
        return 2
    print(runner)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
