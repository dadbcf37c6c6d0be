"""kernel-devel for the image's kernel. DKMS and the NVIDIA driver build against the headers of the kernel the
machine runs, and `dnf install kernel-devel` takes the repositories' newest, which is not the base image's
kernel once a newer one is published (the Amazon Linux idiom is `dnf install "kernel-devel-uname-r =
$(uname -r)"`). So a locked kernel-devel must be for a kernel the image has: one of the base image's (its
`base-manifest`) or one the lock installs, matched by flavor (kernel-devel to kernel, kernel6.12-devel to
kernel6.12), version, release and arch. bootstrap.sh checks the same against `uname -r` at build time.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from imagelock.errors import AnswerIsNo
from imagelock.lock.model import DnfPackage

if TYPE_CHECKING:  # the build reads this module too, and never loads the solver's
    from imagelock.domains.dnf.closure import Installed

DEVEL = re.compile(r"^(kernel[0-9.]*)-devel$")
KERNEL = re.compile(r"^kernel[0-9.]*$")  # kernel, kernel6.12: what `uname -r` names once booted


def installs_kernel(packages: list[DnfPackage]) -> bool:
    """The layer installs a kernel: the build must boot it before anything is built against it."""
    return any(KERNEL.match(p.name) for p in packages)


def check(packages: list[DnfPackage], installed: list[Installed]) -> None:
    """Refuse a locked kernel-devel that is for no kernel of the image, when the image's kernels are known."""
    kernels = {(i.name, i.evr, i.arch) for i in installed} | {(p.name, p.evr, p.arch) for p in packages}
    for p in packages:
        match = DEVEL.match(p.name)
        if match is None or (match.group(1), p.evr, p.arch) in kernels:
            continue
        flavor = match.group(1)
        have = sorted(f"{evr}.{arch}" for name, evr, arch in kernels if name == flavor and arch == p.arch)
        if not have:
            continue  # no kernel of that flavor known here (no base-manifest): a `lock check` finding says so
        raise AnswerIsNo(
            f"dnf: {p.nevra} is for no kernel of the image ({flavor} {', '.join(have)}): DKMS and the NVIDIA "
            "driver build against the running kernel",
            [f'ask for the kernel\'s own: packages = ["{p.name}-{have[-1].rsplit(".", 1)[0]}"]'],
        )


def unmatched(packages: list[DnfPackage]) -> list[DnfPackage]:
    """The locked kernel-devel packages with no locked kernel beside them: what a lock without a
    `base-manifest` cannot match to the base image's kernel."""
    kernels = {(p.name, p.evr, p.arch) for p in packages}
    return [p for p in packages if (m := DEVEL.match(p.name)) and (m.group(1), p.evr, p.arch) not in kernels]
