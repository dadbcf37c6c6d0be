"""Live: over an older Ubuntu 22.04 base image, imagelock locks exactly what jammy's own apt-get installs.

The oracle is apt-get 2.4 from jammy-updates (tools/jammy_apt.py unpacks it from
.debs verified against the signed indexes), not the machine's: Debian's apt
>= 2.5 also upgrades the other binaries of an upgraded package's source, which
jammy's does not.

The base image is jammy's release pocket as it shipped (`jammy` only, no
updates): every package of Priority required or important, installed as
jammy's apt-get installs them on an empty system, written as a dpkg status
file for apt and as a `dpkg-query -W` manifest for imagelock's
`base-manifest`. Over it, each request is resolved against jammy +
jammy-updates + jammy-security (main, universe) by the code `lock update` runs
for [apt] (imagelock.domains.apt.layer.resolve) and by `apt-get install
--simulate`. They must agree exactly (name, version, architecture), apt must
remove nothing, and the base image with the transaction applied must have no
broken dependency (`apt-get check` on the resulting status).

The archive is read once per session and served on loopback to both sides
(tests/apt/jammy.py), so they read the same bytes.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from imagelock.domains.apt import layer
from imagelock.domains.apt.layer import Archive, Loaded
from imagelock.domains.context import UpdateContext
from imagelock.intent.apt import parse_apt, parse_kernel
from tests.apt import jammy, realapt
from tests.apt.aptrepo import RepoServer
from tests.apt.jammy import Mirror

pytestmark = pytest.mark.live

CUTOFF = "2025-01-01T00:00:00Z"  # unused by a read without snapshot; the intent schema wants one


@pytest.fixture(autouse=True)
def _private_cache() -> None:
    """The indexes stay in the session's by-hash store (tests/apt/conftest.py gives each test an empty one)."""


@dataclass
class Oracle:
    mirror: Mirror
    stanzas: jammy.Stanzas
    url: str  # the loopback archive
    env: dict[str, str]  # jammy's apt-get over the base status, all three suites
    base: list[dict[str, str]]  # the base image's status records
    manifest: Path
    archive: Archive
    work: Path
    kernel: str  # the newest generic kernel release in the archive
    timings: dict[str, float]


def _base_image(stanzas: jammy.Stanzas, url: str, keyring: Path, runner: Path, work: Path) -> list[dict[str, str]]:
    """jammy's release pocket, Priority required + important, as jammy's apt-get installs it on an empty system."""
    wanted = sorted({name for (name, _), p in stanzas.priorities["jammy"].items() if p in ("required", "important")})
    env = jammy.apt_env(work / "apt-release", url, keyring, ["jammy"], runner, status="")
    code, installs, output = realapt.simulate(env, wanted)
    assert code == 0, output
    return [stanzas.fields(name, version) for name, version, _arch in sorted(installs)]


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Oracle]:
    work = tmp_path_factory.mktemp("jammy-oracle")
    timings: dict[str, float] = {}
    start = time.perf_counter()
    runner = jammy.jammy_runner()
    version = realapt_version(runner)
    assert version.startswith("apt 2.4."), version
    timings["jammy apt-get"] = time.perf_counter() - start
    start = time.perf_counter()
    mirror = jammy.make_mirror(work / "archive")
    timings["archive (fetch, verify)"] = time.perf_counter() - start
    with RepoServer(mirror.root) as server:
        start = time.perf_counter()
        stanzas = jammy.Stanzas(mirror)
        base = _base_image(stanzas, server.url, mirror.keyring, runner, work)
        manifest = work / "base-manifest.txt"
        manifest.write_text(jammy.manifest_text(base))
        env = jammy.apt_env(
            work / "apt", server.url, mirror.keyring, list(jammy.SUITES), runner, status=jammy.status_text(base)
        )
        timings["base image + apt-get update"] = time.perf_counter() - start
        start = time.perf_counter()
        intent = parse_apt(_table(mirror, ["base-files"], manifest), work / "image.toml")
        archive = layer.load_archive(intent, CUTOFF, work, fetch_base=server.url)
        timings["imagelock: verify + parse"] = time.perf_counter() - start
        kernel = layer.kernel_plan(Loaded(intent, _kernel(work, "generic"), archive))
        assert kernel is not None
        yield Oracle(mirror, stanzas, server.url, env, base, manifest, archive, work, kernel.release, timings)
    print("\njammy oracle:", ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))


def realapt_version(runner: Path) -> str:
    result = subprocess.run([str(runner), "apt-get", "--version"], capture_output=True, text=True, check=True)
    return result.stdout.splitlines()[0]


def _table(mirror: Mirror, packages: list[str], manifest: Path) -> dict[str, object]:
    return {
        "archive": mirror.archive,
        "suites": list(jammy.SUITES),
        "components": list(jammy.COMPONENTS),
        "architectures": [jammy.ARCH],
        "keyring": str(mirror.keyring),
        "packages": packages,
        "base-manifest": str(manifest),
    }


def _kernel(work: Path, flavour: str, parts: tuple[str, ...] = ("modules", "headers")):  # type: ignore[no-untyped-def]
    return parse_kernel({"flavour": flavour, "packages": list(parts)}, work / "image.toml")


def ours(oracle: Oracle, request: list[str], kernel: bool) -> set[tuple[str, str, str]]:
    """The closure `lock update` locks for [apt] with this request and the base manifest (and [kernel])."""
    intent = parse_apt(_table(oracle.mirror, request, oracle.manifest), oracle.work / "image.toml")
    oracle.archive.universe.pins.clear()  # a pin of an earlier set must not hold here
    loaded = Loaded(intent, _kernel(oracle.work, "generic") if kernel else None, oracle.archive)
    ctx = UpdateContext(intent=None, previous=None, cutoff=CUTOFF, workdir=oracle.work)  # type: ignore[arg-type]
    ctx.cache["apt"] = loaded
    apt_layer = layer.resolve(ctx)
    oracle.archive.universe.pins.clear()
    return {(p.name, p.version, p.arch) for p in apt_layer.packages}


SEED_REQUEST = [
    "build-essential=12.9ubuntu3",
    "dkms=2.8.7-2ubuntu2.2",
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
SETS = {
    "seed": (SEED_REQUEST, False),
    "build-essential+dkms": (["build-essential", "dkms"], False),
    "python3.11-dev": (["python3.11-dev"], False),
    "git+curl+gnupg": (["git", "curl", "gnupg"], False),
    "kernel-headers+modules": ([], True),
    "libpython3.10-stdlib": (["libpython3.10-stdlib"], False),
    "gcc-12": (["gcc-12"], False),
    "ubuntu-server": (["ubuntu-server"], False),
}


def _applied(oracle: Oracle, name: str, installs: set[tuple[str, str, str]]) -> Path:
    """The base image's dpkg status with a transaction applied: each installed version as the archive lists it."""
    after = {f["Package"]: f for f in oracle.base}
    for pkg, version, _arch in installs:
        after[pkg] = oracle.stanzas.fields(pkg, version)
    status = oracle.work / f"status-{name}"
    status.write_text(jammy.status_text(list(after.values())))
    return status


def _check(oracle: Oracle, status: Path) -> subprocess.CompletedProcess[str]:
    """jammy's `apt-get check` on a status: exit 0 and no word of broken packages when every dependency is met."""
    return jammy.run_apt(oracle.env, "-o", f"Dir::State::status={status}", "check")


def test_apt_get_check_sees_a_broken_base_image(oracle: Oracle) -> None:
    """The zero-broken check below can fail: gcc-12-base upgraded alone breaks libgcc-s1's `= version`."""
    newest = oracle.archive.universe.candidate("gcc-12-base", jammy.ARCH)
    assert newest is not None
    assert _check(oracle, _applied(oracle, "sane", set())).returncode == 0
    broken = _check(oracle, _applied(oracle, "broken", {("gcc-12-base", newest.version, jammy.ARCH)}))
    assert broken.returncode != 0
    assert "libgcc-s1 : Depends: gcc-12-base (= 12-20220319-1ubuntu1)" in broken.stdout + broken.stderr


@pytest.mark.parametrize("name", list(SETS))
def test_jammy_apt_agrees_over_an_older_base_image(oracle: Oracle, name: str) -> None:
    request, kernel = SETS[name]
    start = time.perf_counter()
    locked = ours(oracle, request, kernel)
    ours_time = time.perf_counter() - start
    names = request + ([f"linux-{p}-{oracle.kernel}" for p in ("modules", "headers")] if kernel else [])
    start = time.perf_counter()
    code, installs, output = realapt.simulate(oracle.env, names)
    apt_time = time.perf_counter() - start
    assert code == 0, output
    assert realapt.removes(output) == set(), output
    base = {f["Package"] for f in oracle.base}
    upgrades = sorted(n for n, _, _ in installs if n in base)
    print(
        f"\n{name}{' (' + oracle.kernel + ')' if kernel else ''}: imagelock {len(locked)} packages ({ours_time:.2f}s), jammy apt-get {len(installs)} "
        f"({apt_time:.2f}s); base-image upgrades: {', '.join(upgrades) or 'none'}"
    )
    only_ours, only_apt = sorted(locked - installs), sorted(installs - locked)
    assert (only_ours, only_apt) == ([], []), f"only imagelock: {only_ours}\nonly apt: {only_apt}"
    # The base image with the transaction applied: every installed package's dependencies are met.
    check = _check(oracle, _applied(oracle, name, installs))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "broken" not in (check.stdout + check.stderr).lower(), check.stdout + check.stderr
