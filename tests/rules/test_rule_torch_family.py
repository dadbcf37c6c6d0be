"""torch, torchvision, torchaudio on one release line and one CUDA flavour."""

from __future__ import annotations

from imagelock.lock.model import Lock
from imagelock.rules import Targets, evaluate
from imagelock.rules.lockfacts import package


def _findings(lock: Lock, rule: str) -> list:
    return [f for f in evaluate(lock, Targets()).findings if f.rule == rule]


def _take_from(lock: Lock, other: Lock, name: str) -> None:
    """Put `other`'s locked `name` (version and wheel) into `lock`."""
    mine, theirs = package(lock, name), package(other, name)
    assert mine is not None and theirs is not None
    mine.version, mine.wheel = theirs.version, theirs.wheel


def test_seed_and_qwen3_locks_keep_one_release_line(seed_lock: Lock, qwen3_lock: Lock) -> None:
    assert _findings(seed_lock, "torch-release") == []
    assert _findings(seed_lock, "torch-flavour") == []
    assert _findings(qwen3_lock, "torch-release") == []


def test_torchvision_of_the_next_release_is_reported(seed_lock: Lock, qwen3_lock: Lock) -> None:
    # The seed handbook's torchvision 0.21.0+cu124 (torch 2.6's) beside torch 2.5.1+cu124.
    _take_from(seed_lock, qwen3_lock, "torchvision")
    [finding] = _findings(seed_lock, "torch-release")
    assert finding.facts == [
        "torch 2.5 goes with torchvision 0.20.*",
        "the lock has torchvision 0.21.0+cu124, which belongs to torch 2.6",
    ]
    assert finding.fix == "require torchvision==0.20.* (or torch==2.6.* to keep torchvision)"


def test_torchaudio_of_another_release_is_reported(seed_lock: Lock, qwen3_lock: Lock) -> None:
    _take_from(seed_lock, qwen3_lock, "torchaudio")
    [finding] = _findings(seed_lock, "torch-release")
    assert "torch 2.5 goes with torchaudio 2.5.*" in finding.facts


def test_two_cuda_flavours_are_reported(seed_lock: Lock) -> None:
    audio = package(seed_lock, "torchaudio")
    assert audio is not None
    audio.version = "2.5.1+cu121"
    [finding] = _findings(seed_lock, "torch-flavour")
    assert not finding.unchecked
    assert finding.facts[0].startswith("torch is the cu124 build")
    assert finding.facts[1].startswith("torchaudio is the cu121 build")


def test_a_pypi_default_build_beside_a_cuda_build_is_a_note(seed_lock: Lock) -> None:
    audio = package(seed_lock, "torchaudio")
    assert audio is not None
    audio.version, audio.index = "2.5.1", "pypi"
    [finding] = _findings(seed_lock, "torch-flavour")
    assert finding.unchecked
    assert evaluate(seed_lock, Targets()).ok
