"""Every GPU behind the intent's instance types is one the torch build and vLLM can run on.

Facts and their sources:
  - GPU per EC2 instance family: the Amazon EC2 accelerated computing instance
    specifications (aws.amazon.com/ec2/instance-types/, "Accelerated Computing"):
    P2 K80, G3/G3s Tesla M60, P3 V100, G4dn T4, P4d/P4de A100, G5 A10G, G6 L4, G6e L40S, P5 H100.
  - Compute capability per GPU: NVIDIA's "CUDA GPU Compute Capability" list
    (developer.nvidia.com/cuda-gpus): K80 3.7, M60 5.2, V100 7.0, T4 7.5, A100 8.0, A10G (an A10) 8.6,
    L4 8.9, L40S 8.9, H100 9.0.
  - The architectures a torch CUDA wheel carries machine code for: the
    TORCH_CUDA_ARCH_LIST of PyTorch's wheel build script per CUDA version,
    pytorch/builder manywheel/build_cuda.sh (the torch 2.4/2.5 builds: cu118
    "3.7;5.0;6.0;7.0;7.5;8.0;8.6;9.0", cu121 and cu124 "5.0;6.0;7.0;7.5;8.0;8.6;9.0")
    and pytorch/pytorch .ci/manywheel/build_cuda.sh (cu126 "5.0;6.0;7.0;7.5;8.0;8.6;9.0").
    Code for X.y runs on X.z for z >= y (CUDA C++ Programming Guide, "Binary
    Compatibility"), so sm_8.0 code serves an 8.6 GPU, but nothing serves 10.0 here.
  - vLLM needs compute capability 7.0 or higher: vLLM's installation docs
    ("GPU: compute capability 7.0 or higher"), in the 0.6.6.post1 and 0.8.4 sdists.
"""

from __future__ import annotations

from collections.abc import Iterator

from imagelock.errors import InputError, did_you_mean
from imagelock.lock.model import Lock
from imagelock.rules import lockfacts
from imagelock.rules.report import Finding
from imagelock.rules.targets import Targets, family

SOURCE_GPU = "Amazon EC2 accelerated computing instance specs; NVIDIA CUDA GPU compute capability list"
SOURCE_ARCH = "TORCH_CUDA_ARCH_LIST in PyTorch's manywheel/build_cuda.sh"
SOURCE_VLLM = "vLLM installation docs: GPU compute capability 7.0 or higher"

# EC2 instance family -> (GPU, compute capability as (major, minor))
INSTANCE_GPUS: dict[str, tuple[str, tuple[int, int]]] = {
    "p2": ("NVIDIA K80", (3, 7)),
    "g3": ("NVIDIA Tesla M60", (5, 2)),
    "g3s": ("NVIDIA Tesla M60", (5, 2)),
    "p3": ("NVIDIA V100", (7, 0)),
    "p3dn": ("NVIDIA V100", (7, 0)),
    "g4dn": ("NVIDIA T4", (7, 5)),
    "p4d": ("NVIDIA A100", (8, 0)),
    "p4de": ("NVIDIA A100", (8, 0)),
    "g5": ("NVIDIA A10G", (8, 6)),
    "g6": ("NVIDIA L4", (8, 9)),
    "g6e": ("NVIDIA L40S", (8, 9)),
    "p5": ("NVIDIA H100", (9, 0)),
}

_COMMON = ((5, 0), (6, 0), (7, 0), (7, 5), (8, 0), (8, 6), (9, 0))
# CUDA flavour of a torch wheel -> the compute capabilities it has machine code for
TORCH_ARCHES: dict[str, tuple[tuple[int, int], ...]] = {
    "cu118": ((3, 7), *_COMMON),
    "cu121": _COMMON,
    "cu124": _COMMON,
    "cu126": _COMMON,
}

VLLM_MINIMUM = (7, 0)


def cc(value: tuple[int, int]) -> str:
    return f"{value[0]}.{value[1]}"


def runs_on(arches: tuple[tuple[int, int], ...], gpu: tuple[int, int]) -> bool:
    """Binary compatibility: code for X.y runs on X.z when z >= y."""
    return any(a[0] == gpu[0] and a[1] <= gpu[1] for a in arches)


def gpu_of(instance_type: str, targets: Targets) -> tuple[str, tuple[int, int]]:
    """The GPU of an instance type; an unknown family is an input error (a typo must not pass)."""
    name = family(instance_type)
    if name not in INSTANCE_GPUS:
        raise InputError(
            targets.path,
            "base.instance-types",
            f"{instance_type}: no NVIDIA GPU recorded for "
            "instance family "
            f"{name!r}{did_you_mean(name, INSTANCE_GPUS)}; known: {', '.join(INSTANCE_GPUS)}",
        )
    return INSTANCE_GPUS[name]


def check(lock: Lock, targets: Targets) -> Iterator[Finding]:
    torch = lockfacts.package(lock, "torch")
    vllm = lockfacts.package(lock, "vllm")
    flavour = lockfacts.local_label(torch.version) if torch else None
    for instance_type in targets.instance_types:
        gpu, capability = gpu_of(instance_type, targets)
        if torch is not None and flavour and flavour.startswith("cu"):
            arches = TORCH_ARCHES.get(flavour)
            if arches is None:
                yield Finding(
                    "gpu-arch",
                    f"torch {torch.version} on {instance_type}",
                    [f"no arch list recorded for {flavour} builds"],
                    source=SOURCE_ARCH,
                    unchecked=True,
                )
            elif not runs_on(arches, capability):
                usable = [f for f, a in TORCH_ARCHES.items() if runs_on(a, capability)]
                yield Finding(
                    "gpu-arch",
                    f"torch {torch.version} on {instance_type}",
                    [
                        f"{instance_type} has an {gpu}, compute capability {cc(capability)}",
                        f"torch {flavour} wheels carry code for {', '.join(cc(a) for a in arches)} only",
                    ],
                    fix=(
                        f"use a {' or '.join(usable)} torch build"
                        if usable
                        else f"drop {instance_type} or use a torch build that lists {cc(capability)}"
                    ),
                    source=f"{SOURCE_GPU}; {SOURCE_ARCH}",
                )
        if vllm is not None and capability < VLLM_MINIMUM:
            yield Finding(
                "gpu-vllm",
                f"vllm {vllm.version} on {instance_type}",
                [
                    f"{instance_type} has an {gpu}, compute capability {cc(capability)}",
                    f"vLLM needs compute capability {cc(VLLM_MINIMUM)} or higher",
                ],
                fix=f"use an instance family with a GPU of compute capability >= {cc(VLLM_MINIMUM)} "
                "(g4dn, g5, g6, p4d, p5)",
                source=f"{SOURCE_GPU}; {SOURCE_VLLM}",
            )
