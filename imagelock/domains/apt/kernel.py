"""Kernel pinning: the image, modules and headers packages of one kernel ABI.

Ubuntu names them `linux-image-<abi>-<flavour>`, `linux-modules-<abi>-<flavour>`,
`linux-headers-<abi>-<flavour>`; Debian has no separate modules package (the
modules ship in the image), so a missing modules part is skipped only when the
archive has no `linux-modules-*` package at all.

Which ABI a flavour means is what the distribution means by it: the ABI its
metapackage depends on (`linux-image-generic` names the release's own kernel,
6.8 on noble), not the newest ABI of that flavour in the archive: noble-updates
also carries the hardware-enablement kernels (`linux-image-generic-hwe-24.04`,
6.11 and later) under the same flavour. A track is asked for by name
(`kernel.flavour = "generic-hwe-24.04"`). The lock records what chose the ABI
(`chosen-by`, unless kernel.version pinned it) and the upstream version of the
release's own kernel (`ga`), so `lock check` can say when a kernel is not the
one asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from imagelock.domains.apt.relations import parse_relations
from imagelock.domains.apt.universe import Universe
from imagelock.errors import InputError
from imagelock.formats import debversion
from imagelock.intent.apt import KernelIntent


@dataclass
class KernelPlan:
    release: str  # e.g. 5.15.0-105-generic
    abi: str
    flavour: str
    packages: list[str]
    # "linux-image-generic 6.8.0-151.151" or "the newest ABI of flavour amd64"; None: kernel.version pinned it
    chosen_by: str | None = None
    ga: str | None = None  # upstream version of the ABI linux-image-<flavour> names (6.8.0); None: no such package


def upstream(abi: str) -> str:
    """The kernel's upstream version: 6.8.0 of ABI 6.8.0-151."""
    return abi.rsplit("-", 1)[0]


def named_abi(universe: Universe, metapackage: str, flavour: str) -> tuple[str, str] | None:
    """The ABI a metapackage's candidate depends on, with its version; None when the archive has no such
    package or it names no linux-image-<abi>-<flavour>."""
    stanza = universe.candidate(metapackage, universe.native)
    if stanza is None:
        return None
    pattern = re.compile(rf"^linux-image-(?:unsigned-)?([0-9]+\.[0-9]+\.[0-9]+-[0-9]+)-{re.escape(flavour)}$")
    for group in parse_relations(stanza.depends):
        for relation in group:
            if match := pattern.match(relation.name):
                return match.group(1), stanza.version
    return None


def abis(universe: Universe, flavour: str) -> list[str]:
    """Every ABI of a flavour the archive has an image for, newest first."""
    pattern = re.compile(rf"^linux-image-(?:unsigned-)?([0-9]+\.[0-9]+\.[0-9]+-[0-9]+)-{re.escape(flavour)}$")
    found = {m.group(1) for name in universe.names() if (m := pattern.match(name))}
    return sorted(found, key=debversion.key, reverse=True)


def choose(universe: Universe, intent: KernelIntent, available: list[str]) -> tuple[str, str]:
    """The ABI a flavour (or its track) means, and what chose it: the metapackage's dependency, else (no
    metapackage, as in a Debian archive without one) the newest ABI of the flavour."""
    named = named_abi(universe, intent.metapackage, intent.flavour)
    if named is not None:
        return named[0], f"{intent.metapackage} {named[1]}"
    if intent.track is not None:
        raise InputError(
            intent.path,
            "kernel.flavour",
            f"the archive has no {intent.metapackage} naming a linux-image-*-{intent.flavour} "
            f"(the track {intent.flavour}-{intent.track} asks for)",
        )
    if not available:
        raise InputError(intent.path, "kernel.flavour", f"the archive has no linux-image-*-{intent.flavour} package")
    return available[0], f"the newest ABI of flavour {intent.flavour}"


def plan(universe: Universe, intent: KernelIntent) -> KernelPlan:
    available = abis(universe, intent.flavour)
    abi, chosen_by = choose(universe, intent, available) if intent.abi is None else (intent.abi, None)
    if abi not in available:
        listed = ", ".join(available[:6]) or "none"
        raise InputError(
            intent.path,
            "kernel.version" if intent.abi else "kernel.flavour",
            f"no linux-image-{abi}-{intent.flavour} in the archive; ABIs of flavour {intent.flavour} it has: {listed}",
        )
    release = f"{abi}-{intent.flavour}"
    has_modules_packages = any(n.startswith("linux-modules-") for n in universe.names())
    names = []
    for part in intent.parts:
        name = f"linux-{part}-{release}"
        if not universe.exists(name):
            if part == "image" and universe.exists(f"linux-image-unsigned-{release}"):
                name = f"linux-image-unsigned-{release}"
            elif part == "modules" and not has_modules_packages:
                continue
            else:
                raise InputError(intent.path, "kernel.packages", f"the archive has no {name}")
        names.append(name)
    ga = named_abi(universe, f"linux-image-{intent.flavour}", intent.flavour)
    return KernelPlan(
        release=release,
        abi=abi,
        flavour=intent.flavour,
        packages=names,
        chosen_by=chosen_by,
        ga=upstream(ga[0]) if ga else None,
    )
