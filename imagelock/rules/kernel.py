"""The NVIDIA kernel module can be built for the kernel the image boots.

The runfile's `--dkms` install builds the module with DKMS against the headers
of the target kernel: the NVIDIA driver installation guide's pre-installation
steps require "the kernel headers and development packages for the currently
running kernel", and `nvidia-installer --dkms` registers the module with DKMS,
which must be installed. Ubuntu names a kernel ABI's packages
`linux-{image,modules,headers}-<abi>-<flavour>` at one source version
(e.g. 5.15.0-105.115), so:
  - every package of the locked kernel is in the apt layer, all at one version;
  - the headers of that ABI are there (else DKMS has nothing to build against);
  - no image of another ABI is there (the image would boot a kernel the module
    was not built for);
  - `dkms` is there when the runfile is installed with --dkms.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from imagelock.lock.model import AptPackage, Lock
from imagelock.rules.report import Finding
from imagelock.rules.targets import Targets

SOURCE = (
    "NVIDIA driver installation guide (kernel headers of the running kernel; --dkms); "
    "Ubuntu kernel package naming linux-{image,modules,headers}-<abi>-<flavour>"
)
_IMAGE = re.compile(r"^linux-image-(?:unsigned-)?(\d+\.\d+\.\d+-\d+)-([a-z0-9-]+)$")


def check(lock: Lock, targets: Targets) -> Iterator[Finding]:
    if lock.apt is None:
        return
    debs: dict[str, AptPackage] = {p.name: p for p in lock.apt.packages}
    kernel = lock.kernel
    if kernel is not None:
        release = f"{kernel.abi}-{kernel.flavour}"
        names = list(kernel.packages)
        headers = f"linux-headers-{release}"
        if headers not in names:
            names.append(headers)
        missing = [n for n in names if n not in debs]
        if missing:
            yield Finding(
                "kernel-headers",
                f"kernel {release}",
                [f"the kernel layer pins {release}", f"the apt layer has no {', '.join(missing)}"],
                fix=f'add {", ".join(missing)} to [apt] packages (or list "headers" in [kernel] packages)',
                source=SOURCE,
            )
        versions = {debs[n].version for n in names if n in debs}
        if len(versions) > 1:
            found = ", ".join(f"{n} {debs[n].version}" for n in names if n in debs)
            yield Finding(
                "kernel-headers",
                f"kernel {release}",
                ["the image, modules and headers of one kernel come from one source version", f"the lock has {found}"],
                fix="re-lock the kernel packages together (`lock update --only apt`)",
                source=SOURCE,
            )
        for deb in lock.apt.packages:
            match = _IMAGE.match(deb.name)
            if match and f"{match.group(1)}-{match.group(2)}" != release:
                yield Finding(
                    "kernel-headers",
                    f"{deb.name} {deb.version}",
                    [
                        f"the kernel layer pins {release}",
                        f"the apt layer also installs {deb.name}, a second kernel the driver module is not built for",
                    ],
                    fix=f"find what pulls {deb.name} in (`lock why {deb.name}`) and pin the meta package "
                    "to the locked ABI, or lock that kernel instead",
                    source=SOURCE,
                )
    if lock.nvidia is not None and "--dkms" in lock.nvidia.install_flags and "dkms" not in debs:
        yield Finding(
            "kernel-dkms",
            f"nvidia {lock.nvidia.runfile}",
            ["the runfile is installed with --dkms", "the apt layer has no dkms package"],
            fix="add dkms to [apt] packages",
            source=SOURCE,
        )
