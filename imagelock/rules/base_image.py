"""What the base image states about itself, against the lock and the target instances.

Two checks, each over the facts the lock records from the image's own name and
description (imagelock.domains.base.facts), and only when the image states them:

- **Instance families.** A DLAMI lists the instance families it supports in its
  description ("Supported EC2 instances: G4dn, G5, …"): every `instance-types`
  target must be of a listed family (seed 004's step 2, "verify compatible
  instance types for this AMI"). A listed name that is no EC2 family by itself
  ("P4", beside "P4d") covers the families it begins.
- **The image's driver.** When the lock installs no driver of its own (no
  `[nvidia]` layer), the driver the image states (ParallelCluster's
  "nvidia-450.80.02", a DLAMI's "NVIDIA driver version: …") is the one torch runs
  on: it must be at least the minimum of torch's CUDA build (NVIDIA's Table 3,
  imagelock.rules.driver).
"""

from __future__ import annotations

from collections.abc import Iterator

from packaging.version import Version

from imagelock.lock.model import BaseAmi, Lock
from imagelock.rules import driver, lockfacts
from imagelock.rules.gpu import INSTANCE_GPUS
from imagelock.rules.report import Finding
from imagelock.rules.targets import Targets, family

SOURCE_INSTANCES = "the base image's DescribeImages description (Supported EC2 instances: …)"


def supports(listed: list[str], instance_family: str) -> bool:
    """Whether a stated list covers a family: by name, or by a loose name that is no family itself ("p4")."""
    return any(
        name == instance_family or (name not in INSTANCE_GPUS and instance_family.startswith(name)) for name in listed
    )


def _where(amis: list[BaseAmi]) -> str:
    return ", ".join(f"{ami.id} ({ami.region})" for ami in amis)


def _instances(lock: Lock, targets: Targets) -> Iterator[Finding]:
    assert lock.base is not None
    for instance_type in targets.instance_types:
        name = family(instance_type)
        refusing = [
            ami for ami in lock.base.amis if ami.supported_instances and not supports(ami.supported_instances, name)
        ]
        if not refusing:
            continue
        listed = ", ".join(refusing[0].supported_instances)
        yield Finding(
            "base",
            instance_type,
            [
                f"the base image {refusing[0].name} states it supports the instance families {listed}",
                f"{instance_type} is of family {name}, which it does not list ({_where(refusing)})",
            ],
            fix=f"target an instance type of a listed family, or choose a base image that lists {name}",
            source=SOURCE_INSTANCES,
        )


def _driver(lock: Lock) -> Iterator[Finding]:
    assert lock.base is not None
    found = lockfacts.torch_cuda(lock)
    if found is None or lock.nvidia is not None:
        return
    torch, cuda = found
    known = driver.minimum_for(cuda)
    stating = [ami for ami in lock.base.amis if ami.nvidia_driver]
    if known is None or not stating:
        return
    release, minimum = known
    short = [ami for ami in stating if Version(str(ami.nvidia_driver)) < Version(minimum)]
    if not short:
        return
    stated = short[0].nvidia_driver
    fits = driver.newest_torch_flavour(str(stated))
    fix = f"choose a base image whose driver is >= {minimum}, or lock a driver of your own ([nvidia])"
    if fits:
        fix += f", or torch's {fits} build, which driver {stated} serves"
    yield Finding(
        "driver",
        f"torch {torch.version}",
        [
            f"torch {torch.version} needs CUDA {release} and so NVIDIA driver >= {minimum}",
            f"the base image {short[0].name} states NVIDIA driver {stated} ({_where(short)}), "
            "and the lock installs no other",
        ],
        fix=fix,
        source=driver.SOURCE,
    )


def check(lock: Lock, targets: Targets) -> Iterator[Finding]:
    """The image's stated instance families and driver, where it states them."""
    if lock.base is None:
        return
    yield from _instances(lock, targets)
    yield from _driver(lock)
