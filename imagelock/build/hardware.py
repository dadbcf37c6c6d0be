"""Whether a lock's image is for a GPU machine: what the builder, the smoke tests and the Ray node type
must assume. Read from what the lock installs, never from the intent's wishes."""

from __future__ import annotations

from imagelock.lock.model import Lock

GPU_BUILDER = "g5.xlarge"  # a GPU builder, so the smoke tests can query the driver
CPU_BUILDER = "m6i.xlarge"  # the image installs nothing that needs a GPU
_ACCELERATED = ("+cu", "+rocm")


def needs_gpu(lock: Lock) -> bool:
    """A driver, CUDA runtime wheels (`nvidia-*`), or wheels built for CUDA or ROCm (`2.5.1+cu124`)."""
    if lock.nvidia is not None:
        return True
    packages = lock.python.all_packages if lock.python else []  # any env's
    return any(p.name.startswith("nvidia-") or any(tag in p.version for tag in _ACCELERATED) for p in packages)


def builder_instance_type(lock: Lock) -> str:
    return GPU_BUILDER if needs_gpu(lock) else CPU_BUILDER
