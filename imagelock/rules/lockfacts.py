"""Facts read out of a lock that several rules need: a package's version, torch's CUDA build."""

from __future__ import annotations

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from imagelock.lock.model import Lock, PythonPackage


def package(lock: Lock, name: str) -> PythonPackage | None:
    """The locked Python package of this name, if any."""
    if lock.python is None:
        return None
    wanted = canonicalize_name(name)
    return next((p for p in lock.python.packages if canonicalize_name(p.name) == wanted), None)


def local_label(version: str) -> str | None:
    """`2.5.1+cu124` -> `cu124`; None for a version without a local label."""
    return version.split("+", 1)[1] if "+" in version else None


def public(version: str) -> Version | None:
    try:
        return Version(version.split("+", 1)[0])
    except InvalidVersion:
        return None


def cuda_of_label(label: str | None) -> str | None:
    """`cu124` -> `12.4`, `cu118` -> `11.8`; None for cpu/rocm/no label."""
    if not label or not label.startswith("cu") or not label[2:].isdigit() or len(label) < 5:
        return None
    digits = label[2:]
    return f"{digits[:-1]}.{digits[-1]}"


def torch_cuda(lock: Lock) -> tuple[PythonPackage, str] | None:
    """The locked torch and the CUDA major.minor its wheel was built for.

    From its `+cuXYZ` label (PyTorch's own indexes); a torch from PyPI has no label
    and instead depends on the CUDA runtime wheel, whose version names the CUDA
    release (nvidia-cuda-runtime-cu12 12.4.127 -> 12.4).
    """
    torch = package(lock, "torch")
    if torch is None:
        return None
    cuda = cuda_of_label(local_label(torch.version))
    if cuda is None and local_label(torch.version) is None:
        for runtime in ("nvidia-cuda-runtime-cu12", "nvidia-cuda-runtime-cu11", "nvidia-cuda-runtime"):
            found = package(lock, runtime)
            if found and canonicalize_name(runtime) in torch.dependencies and (v := public(found.version)):
                cuda = f"{v.major}.{v.minor}"
                break
    return (torch, cuda) if cuda else None
