"""What a base image states about itself in its DescribeImages name and description.

Only what is written is read; nothing is inferred from a product name. Wordings
seen in public describe-images output and instance banners:

- DLAMI: `Supported EC2 instances: G4dn, G5, G6, Gr6, P4d, P4de, P5. PyTorch-2.1,
  TensorFlow-2.16. Release notes: …` (the AL2 "OSS Nvidia Driver" DLAMI's
  Description); the single-CUDA base DLAMIs state no driver or CUDA version in
  name or description (their release notes do, which the lock cannot verify).
- DLAMI login banners: `NVIDIA driver version: 550.127.05`, `CUDA versions
  available: cuda-12.4`; names such as `Deep Learning AMI GPU CUDA 11.4.3 (…)`.
- ParallelCluster: `AWS ParallelCluster AMI for alinux2, kernel-4.14.203-…,
  slurm-20.02.4, nvidia-450.80.02`.
- The OS in the name: `(Amazon Linux 2023)`, `al2023-ami-…`, `amzn2-ami-…`,
  `ubuntu-jammy-22.04-…`, `(Ubuntu 22.04)`, `debian-12-amd64-…`.

A driver written as a branch (`550.x`) or a CUDA written as `12.x` is not a
version, and is not recorded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from imagelock.intent.base import named_os
from imagelock.lock.model import BaseLayer

_OS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Amazon ?Linux ?2023|\bal2023-ami-|\balinux2023\b"), "amazon-linux 2023"),
    (re.compile(r"Amazon ?Linux ?2(?!\d)|\bamzn2-|-amzn2-|\balinux2\b"), "amazon-linux 2"),
    (re.compile(r"\bUbuntu (\d\d\.\d\d)\b"), "ubuntu {}"),
    (re.compile(r"\bubuntu-[a-z]+-(\d\d\.\d\d)-"), "ubuntu {}"),
    (re.compile(r"\bdebian-(\d{2})-"), "debian {}"),
)
_DRIVER = re.compile(r"(?i)\bnvidia(?:[ _-]driver)?(?:[ _]version)?\s*[:\- ]\s*(\d{3}(?:\.\d{1,3}){1,2})(?![\d.]*\d)")
_CUDA = re.compile(r"(?i)\bcuda(?:[ _]version)?[ :\-]*(\d{1,2}\.\d{1,2}(?:\.\d{1,3})?)(?!\d)")
_SUPPORTED = re.compile(r"Supported EC2 instances:\s*(.+?)(?:\.\s|\.?$)")
_FAMILY = re.compile(r"^\s*([A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)?)")


@dataclass(frozen=True)
class Stated:
    os: str | None = None
    nvidia_driver: str | None = None
    cuda: list[str] = field(default_factory=list)
    supported_instances: list[str] = field(default_factory=list)


def _os(text: str) -> str | None:
    for pattern, label in _OS:
        found = pattern.search(text)
        if found:
            return label.format(*found.groups())
    return None


def _cuda(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(1) for m in _CUDA.finditer(text)))


def _supported(description: str) -> list[str]:
    found = _SUPPORTED.search(description)
    if not found:
        return []
    families = (_FAMILY.match(part) for part in found.group(1).split(","))
    return list(dict.fromkeys(m.group(1).lower() for m in families if m))


def stated(name: str, description: str) -> Stated:
    """The facts the name and description state; the name first where both could say."""
    text = f"{name}\n{description}"
    driver = _DRIVER.search(text)
    return Stated(
        os=_os(name) or _os(description),
        nvidia_driver=driver.group(1) if driver else None,
        cuda=_cuda(text),
        supported_instances=_supported(description),
    )


def os_of(layer: BaseLayer) -> str | None:
    """The OS the base runs: the catalog image's, else the one every AMI's name or description states."""
    named = named_os(layer.image)
    if named:
        return named
    found = {stated(ami.name, ami.description or "").os for ami in layer.amis}
    return found.pop() if len(found) == 1 else None
