"""NVIDIA driver >= the minimum of every CUDA release the image runs (torch's build, the runfile's).

A CUDA application needs a driver at least as new as its toolkit's: NVIDIA's
CUDA Toolkit release notes, "Table 3: CUDA Toolkit and Corresponding Driver
Versions" (Linux x86_64 column), https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/index.html#id9 .
Rows copied as published (read through a verbatim copy of the table, code
search id 46701003396, which cites that page); they agree with the drivers the
runfiles bundle (`cuda_12.4.1_550.54.15_linux.run`, ...).

The rule is strict: CUDA "minor version compatibility" lets a 12.x application
start on any driver >= 525.60.13, but without PTX JIT and with features missing
(same release notes, Table 2), so an image locked below the Table 3 minimum is
reported; the fix says which driver meets it.
"""

from __future__ import annotations

from collections.abc import Iterator

from packaging.version import Version

from imagelock.intent.python import TORCH_FLAVOURS
from imagelock.lock.model import Lock
from imagelock.rules import lockfacts
from imagelock.rules.report import Finding
from imagelock.rules.targets import Targets

SOURCE = "NVIDIA CUDA Toolkit release notes, Table 3 (CUDA Toolkit and Corresponding Driver Versions)"

# CUDA release (major.minor.update; GA = .0) -> minimum Linux x86_64 driver.
MINIMUM_DRIVER: dict[str, str] = {
    "13.0.0": "580.65.06",
    "12.9.1": "575.57.08",
    "12.9.0": "575.51.03",
    "12.8.1": "570.124.06",
    "12.8.0": "570.26",
    "12.6.3": "560.35.05",
    "12.6.2": "560.35.03",
    "12.6.1": "560.35.03",
    "12.6.0": "560.28.03",
    "12.5.1": "555.42.06",
    "12.5.0": "555.42.02",
    "12.4.1": "550.54.15",
    "12.4.0": "550.54.14",
    "12.3.1": "545.23.08",
    "12.3.0": "545.23.06",
    "12.2.2": "535.104.05",
    "12.2.1": "535.86.09",
    "12.2.0": "535.54.03",
    "12.1.1": "530.30.02",
    "12.1.0": "530.30.02",
    "12.0.1": "525.85.12",
    "12.0.0": "525.60.13",
    "11.8.0": "520.61.05",
}


def _key(release: str) -> Version:
    return Version(release)


def minimum_for(cuda: str) -> tuple[str, str] | None:
    """(release, minimum driver) for a CUDA version: `12.4.1` exactly, `12.4` as its GA release."""
    parts = cuda.split(".")
    release = cuda if len(parts) == 3 else f"{parts[0]}.{parts[1]}.0"
    if release in MINIMUM_DRIVER:
        return release, MINIMUM_DRIVER[release]
    return None


def newest_torch_flavour(driver: str) -> str | None:
    """The newest PyTorch CUDA flavour (cu121, cu124, ...) whose CUDA release this driver serves."""
    fitting = []
    for flavour in TORCH_FLAVOURS:
        cuda = lockfacts.cuda_of_label(flavour)
        known = minimum_for(cuda) if cuda else None
        if known and Version(known[1]) <= Version(driver):
            fitting.append((Version(known[0]), flavour))
    return max(fitting)[1] if fitting else None


def _check_one(what: str, cuda: str, lock: Lock, torch_build: bool) -> Iterator[Finding]:
    assert lock.nvidia is not None
    driver = lock.nvidia.driver_version
    known = minimum_for(cuda)
    if known is None:
        yield Finding("driver", what, [f"no minimum driver recorded for CUDA {cuda}"], source=SOURCE, unchecked=True)
        return
    release, minimum = known
    if Version(driver) >= Version(minimum):
        return
    fix = f"lock a runfile whose driver is >= {minimum} (the CUDA {release} runfile ships {minimum})"
    fits = newest_torch_flavour(driver) if torch_build else None
    if fits:
        fix += f", or torch's {fits} build, which driver {driver} serves"
    yield Finding(
        "driver",
        what,
        [
            f"{what} needs CUDA {release} and so NVIDIA driver >= {minimum}",
            f"the lock installs driver {driver} ({lock.nvidia.runfile})",
        ],
        fix=fix,
        source=SOURCE,
    )


def check(lock: Lock, targets: Targets) -> Iterator[Finding]:
    """Torch's CUDA build and the runfile's own CUDA release against the locked driver."""
    if lock.nvidia is None:
        return
    found = lockfacts.torch_cuda(lock)
    if found:
        torch, cuda = found
        yield from _check_one(f"torch {torch.version}", cuda, lock, torch_build=True)
    yield from _check_one(
        f"the runfile's CUDA {lock.nvidia.cuda_version}", lock.nvidia.cuda_version, lock, torch_build=False
    )
