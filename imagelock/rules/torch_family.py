"""torch, torchvision and torchaudio from one release line and one CUDA flavour.

torchvision and torchaudio ship C++/CUDA extensions linked against one torch
release; mixing lines fails at import (`undefined symbol`) or at the first op.
Sources of the release matrix:
  - torchvision: pytorch/vision README.md, "corresponding torchvision versions"
    table (torch 2.0 -> 0.15 ... 2.13 -> 0.28; read at a revision listing up to 2.13);
  - torchaudio: https://docs.pytorch.org/audio/2.11.0/installation.html
    "Compatibility Matrix" (torch 2.1 ... 2.10 -> torchaudio of the same
    major.minor; torch 2.0.0 -> 2.0.1, 2.0.1 -> 2.0.2), which also states
    "TorchAudio and PyTorch from different releases cannot be used together".
The CUDA flavour is the wheel's local label (`+cu124`): PyTorch publishes each
flavour on its own index, and the three must come from the same one.
"""

from __future__ import annotations

from collections.abc import Iterator

from imagelock.lock.model import Lock
from imagelock.rules import lockfacts
from imagelock.rules.report import Finding
from imagelock.rules.targets import Targets

SOURCE = "pytorch/vision README (torch/torchvision table); docs.pytorch.org/audio installation (compatibility matrix)"

# torch major.minor -> torchvision major.minor
TORCHVISION: dict[str, str] = {
    "2.0": "0.15",
    "2.1": "0.16",
    "2.2": "0.17",
    "2.3": "0.18",
    "2.4": "0.19",
    "2.5": "0.20",
    "2.6": "0.21",
    "2.7": "0.22",
    "2.8": "0.23",
    "2.9": "0.24",
    "2.10": "0.25",
    "2.11": "0.26",
    "2.12": "0.27",
    "2.13": "0.28",
}
# torch major.minor -> torchaudio major.minor: the same line (torch 2.0.0/2.0.1 pair with
# torchaudio 2.0.1/2.0.2, still line 2.0). From 2.11 torchaudio is built on torch's stable
# ABI and works with every later torch, a relation this table does not model: not recorded.
TORCHAUDIO: dict[str, str] = {
    line: line for line in ("2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7", "2.8", "2.9", "2.10")
}

FLAVOUR_SOURCE = "PyTorch publishes one wheel index per CUDA flavour (download.pytorch.org/whl/<flavour>)"

COMPANIONS = {"torchvision": TORCHVISION, "torchaudio": TORCHAUDIO}


def _line(version: str) -> str | None:
    public = lockfacts.public(version)
    return f"{public.major}.{public.minor}" if public else None


def check(lock: Lock, targets: Targets) -> Iterator[Finding]:
    torch = lockfacts.package(lock, "torch")
    if torch is None:
        return
    line = _line(torch.version)
    flavour = lockfacts.local_label(torch.version)
    for name, table in COMPANIONS.items():
        companion = lockfacts.package(lock, name)
        if companion is None:
            continue
        expected = table.get(line or "")
        got = _line(companion.version)
        if expected is None:
            yield Finding(
                "torch-release",
                f"{name} {companion.version}",
                [f"no {name} line recorded for torch {line}"],
                source=SOURCE,
                unchecked=True,
            )
        elif got != expected:
            reverse = [t for t, c in table.items() if c == got]
            yield Finding(
                "torch-release",
                f"{name} {companion.version} with torch {torch.version}",
                [
                    f"torch {line} goes with {name} {expected}.*",
                    f"the lock has {name} {companion.version}"
                    + (f", which belongs to torch {reverse[0]}" if reverse else ""),
                ],
                fix=f"require {name}=={expected}.* (or torch=={reverse[0]}.* to keep {name})"
                if reverse
                else f"require {name}=={expected}.*",
                source=SOURCE,
            )
        other = lockfacts.local_label(companion.version)
        if other == flavour:
            continue
        facts = [
            f"torch is the {flavour or 'default (PyPI)'} build (index {torch.index})",
            f"{name} is the {other or 'default (PyPI)'} build (index {companion.index})",
        ]
        # A wheel without a label is PyPI's default build, whose CUDA version is not
        # recorded here: it may well be the same flavour, so say so rather than fail.
        decided = bool(flavour and other)
        if not decided:
            facts.append("the CUDA version of PyPI's default build is not recorded")
        yield Finding(
            "torch-flavour",
            f"{name} {companion.version} with torch {torch.version}",
            facts,
            fix=f"pin {name} to the PyTorch index torch comes from ([python.torch] packages)",
            source=FLAVOUR_SOURCE,
            unchecked=not decided,
        )
