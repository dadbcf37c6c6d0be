"""What the apt layer does not pin or prove, for `lock check` (imagelock.lock.finding).

Read from the lock alone, no network:

- not time-bound: a layer read from the live archive (no snapshot, no mirror)
  cannot be resolved again to the same closure, and the archive drops superseded
  versions from its indexes; a suite whose signed Release is dated after
  `universe.cutoff` may hold packages published after it;
- a pre-release interpreter: Debian marks release candidates, betas and alphas
  with `~rc`, `~b`, `~a` in the upstream version (jammy's python3.11 is
  `3.11.0~rc1-1~22.04.1`);
- a driver other than the one asked for: a requested `nvidia-driver-<branch>`
  whose closure installs another branch's packages (a transitional package);
- any other requested package its archive describes as transitional (the lock
  records `transitional = true` from the index's Description).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator

from imagelock.formats import debversion
from imagelock.intent.document import Intent
from imagelock.lock.finding import NOT_AS_ASKED, NOT_REPRODUCIBLE, PRERELEASE, Finding
from imagelock.lock.model import INSTANT, AptLayer, AptPackage, Lock

LIVE_FIX = (
    "name the archive's snapshot service in [apt] (`snapshot-service = \"https://snapshot.ubuntu.com/ubuntu/"
    '@SNAPSHOTID@"` and `snapshot = true` for the state at universe.cutoff; docs/apt.md), or keep every '
    "locked .deb with `lock mirror`"
)
CUTOFF_FIX = (
    "name the archive's snapshot service in [apt] (`snapshot-service`) with `snapshot = true`, so "
    "universe.cutoff selects the archive's state (docs/apt.md)"
)

# python3.11, python3.11-minimal, libpython3.11-stdlib ...: the packages of one interpreter.
_INTERPRETER = re.compile(r"^(?:lib)?python(\d+\.\d+)(?:-[a-z]+)?$")
# Debian's pre-release markers in the upstream version: 3.11.0~rc1, 3.12.0~b2, 3.13.0~a1.
_PRERELEASE = re.compile(r"~(rc|b|beta|a|alpha)\d*", re.IGNORECASE)
_STAGE = {"rc": "a release candidate", "b": "a beta", "beta": "a beta", "a": "an alpha", "alpha": "an alpha"}
# nvidia-driver-570-server, nvidia-headless-no-dkms-550, nvidia-driver-575-open: a driver branch asked by name.
_DRIVER = re.compile(r"^nvidia-(?:driver|headless)(?:-no-dkms)?-(\d{3})(?:-server)?(?:-open)?$")
# libnvidia-compute-580-server, nvidia-kernel-common-580, nvidia-firmware-580-580.95.05: a branch's packages.
_BRANCH = re.compile(r"^(?:lib)?nvidia-[a-z0-9-]*?-(\d{3})(?:-|$)")


def moment(text: str | None) -> dt.datetime | None:
    """A lock's UTC instant (`2025-05-01T00:00:00Z`) as a datetime; None when absent or not one."""
    if not text:
        return None
    try:
        return dt.datetime.strptime(text, INSTANT).replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def read_live(layer: AptLayer, lock: Lock) -> Iterator[Finding]:
    """No snapshot and no mirror: the lock's versions live only in today's archive."""
    if layer.snapshot or lock.mirror is not None:
        return
    dates = ", ".join(f"{source.suite} {source.date or 'not recorded'}" for source in layer.sources)
    yield Finding(
        NOT_REPRODUCIBLE,
        f"apt {layer.archive}",
        f"read live, not from a snapshot (signed Release dates: {dates}): `lock update` cannot read "
        "this state again, and the archive drops superseded versions from its indexes",
        LIVE_FIX,
    )


def repositories_live(layer: AptLayer, lock: Lock) -> Iterator[Finding]:
    """An [apt.repositories] repository is read as it is today (NVIDIA's has no snapshot service)."""
    if lock.mirror is not None:
        return
    for repository in layer.repositories:
        dates = ", ".join(f"{source.suite} {source.date or 'not recorded'}" for source in repository.sources)
        count = sum(1 for deb in layer.packages if deb.repository == repository.name)
        yield Finding(
            NOT_REPRODUCIBLE,
            f"apt repository {repository.name} {repository.url}",
            f"read live (signed Release dates: {dates}): `lock update` cannot read this state again, and "
            f"{count} locked packages come from it",
            "keep every locked .deb with `lock mirror` (docs/sources.md)",
        )


def after_cutoff(layer: AptLayer, lock: Lock) -> Iterator[Finding]:
    """A suite signed after the cutoff: the lock's universe does not bound its apt layer."""
    cutoff = moment(lock.universe.cutoff)
    if cutoff is None:
        return
    for source in layer.sources:
        signed = moment(source.date)
        if signed is None or signed <= cutoff:
            continue
        count = sum(1 for deb in layer.packages if deb.suite == source.suite and deb.repository is None)
        yield Finding(
            NOT_REPRODUCIBLE,
            f"apt {source.suite}",
            f"its signed Release is dated {source.date}, after universe.cutoff {lock.universe.cutoff}: "
            f"the closure was chosen from indexes newer than the cutoff ({count} locked packages come "
            "from this suite)",
            CUTOFF_FIX,
        )


def prerelease_interpreters(layer: AptLayer, lock: Lock) -> Iterator[Finding]:
    """One finding per interpreter version the layer installs as a release candidate, beta or alpha."""
    groups: dict[tuple[str, str], list[AptPackage]] = {}
    for deb in layer.packages:
        match = _INTERPRETER.match(deb.name)
        if match:
            groups.setdefault((match.group(1), deb.version), []).append(deb)
    for (python, version), debs in sorted(groups.items()):
        stage = _PRERELEASE.search(debversion.parse(version).upstream)
        if stage is None:
            continue
        names = sorted(deb.name for deb in debs)
        head = f"python{python}" if f"python{python}" in names else names[0]
        venvs = [e.venv for e in lock.python.environments() if e.version == python] if lock.python else []
        runs = f"; the [python] venv at {', '.join(venvs)} runs on it" if venvs else ""
        yield Finding(
            PRERELEASE,
            f"apt {head} {version}",
            f"{_STAGE[stage.group(1).lower()]} of Python {python}, not a final release ({', '.join(names)}){runs}",
            f"take Python {python} from a source that has a final release (e.g. the deadsnakes PPA), "
            "or use the distribution's own python3",
        )


def branch_packages(layer: AptLayer) -> dict[str, list[str]]:
    """NVIDIA driver branch -> the layer's packages of that branch (`libnvidia-compute-580` is 580's)."""
    branches: dict[str, list[str]] = {}
    for deb in layer.packages:
        match = _BRANCH.match(deb.name)
        if match:
            branches.setdefault(match.group(1), []).append(deb.name)
    return branches


def driver_branches(layer: AptLayer, lock: Lock) -> Iterator[Finding]:
    """A requested driver branch whose closure installs another branch: the request was transitional."""
    branches = branch_packages(layer)
    for deb in layer.packages:
        match = _DRIVER.match(deb.name)
        if not deb.requested or not match:
            continue
        others = {branch: names for branch, names in branches.items() if branch != match.group(1)}
        if not others:
            continue
        listing = "; ".join(f"branch {branch}: {', '.join(sorted(names))}" for branch, names in sorted(others.items()))
        other = others[min(others)]
        culprit = next((name for name in sorted(other) if _DRIVER.match(name)), min(other))
        yield Finding(
            NOT_AS_ASKED,
            f"apt {deb.name} {deb.version}",
            f"asked for driver branch {match.group(1)}, and the lock also installs another ({listing}), "
            f"so {deb.name} is a transitional package or pulls in another driver",
            "ask for the branch the archive really serves under its own name, or pin the asked "
            f"branch's packages (`lock why {culprit}` shows what pulls it in)",
        )


def transitional(layer: AptLayer, lock: Lock) -> Iterator[Finding]:
    """A package asked for by name that its archive describes as transitional: what the image gets is
    whatever it depends on, not the package named (a driver branch asked for is driver_branches')."""
    for deb in layer.packages:
        if not deb.requested or not deb.transitional or _DRIVER.match(deb.name):
            continue
        pulls = ", ".join(sorted(deb.depends_on)) or "nothing"
        yield Finding(
            NOT_AS_ASKED,
            f"apt {deb.name} {deb.version}",
            f"the archive describes it as a transitional package: the image gets what it depends on ({pulls})",
            f"ask for the package it stands in for by name (`lock why {deb.name}` shows the chain)",
        )


CHECKS: tuple[Callable[[AptLayer, Lock], Iterator[Finding]], ...] = (
    read_live,
    repositories_live,
    after_cutoff,
    prerelease_interpreters,
    driver_branches,
    transitional,
)


def findings(lock: Lock, intent: Intent) -> list[Finding]:
    """Every apt finding; the layer alone and the lock's universe answer them, not the intent."""
    layer = lock.apt
    if layer is None:
        return []
    return [finding for check in CHECKS for finding in check(layer, lock)]
