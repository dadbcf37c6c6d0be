"""Kernel pinning: the image, modules and headers packages of one kernel ABI.

Ubuntu names them `linux-image-<abi>-<flavour>`, `linux-modules-<abi>-<flavour>`,
`linux-headers-<abi>-<flavour>`; Debian has no separate modules package (the
modules ship in the image), so a missing modules part is skipped only when the
archive has no `linux-modules-*` package at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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


def abis(universe: Universe, flavour: str) -> list[str]:
    """Every ABI of a flavour the archive has an image for, newest first."""
    pattern = re.compile(rf"^linux-image-(?:unsigned-)?([0-9]+\.[0-9]+\.[0-9]+-[0-9]+)-{re.escape(flavour)}$")
    found = {m.group(1) for name in universe.names() if (m := pattern.match(name))}
    return sorted(found, key=debversion.key, reverse=True)


def plan(universe: Universe, intent: KernelIntent) -> KernelPlan:
    available = abis(universe, intent.flavour)
    abi = intent.abi
    if abi is None:
        if not available:
            raise InputError(
                intent.path, "kernel.flavour", f"the archive has no linux-image-*-{intent.flavour} package"
            )
        abi = available[0]
    elif abi not in available:
        listed = ", ".join(available[:6]) or "none"
        raise InputError(
            intent.path,
            "kernel.version",
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
    return KernelPlan(release=release, abi=abi, flavour=intent.flavour, packages=names)
