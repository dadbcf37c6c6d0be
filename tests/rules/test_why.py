"""`lock why NAME`: paths from what the intent asked for to a Python or apt package."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imagelock.lock.model import Lock
from rules.recorded import apt_layer, bookworm_kernel_debs, write_lock


def test_transitive_python_package(tmp_path: Path, seed_lock: Lock, lock_cli) -> None:
    lock = write_lock(tmp_path / "seed.lock", seed_lock)
    run = lock_cli("why", "nvidia-cuda-runtime-cu12", "--lock", str(lock))
    assert run.code == 0
    assert run.out.splitlines() == [
        "python: nvidia-cuda-runtime-cu12 12.4.127",
        "  torch 2.5.1+cu124 -> nvidia-cuda-runtime-cu12 12.4.127",
        "  torchaudio 2.5.1+cu124 -> torch 2.5.1+cu124 -> nvidia-cuda-runtime-cu12 12.4.127",
        "  torchvision 0.20.1+cu124 -> torch 2.5.1+cu124 -> nvidia-cuda-runtime-cu12 12.4.127",
        "  vllm 0.6.6.post1 -> torch 2.5.1+cu124 -> nvidia-cuda-runtime-cu12 12.4.127",
    ]


def test_requested_package_says_what_was_asked(tmp_path: Path, seed_lock: Lock, lock_cli) -> None:
    lock = write_lock(tmp_path / "seed.lock", seed_lock)
    run = lock_cli("why", "Torch", "--lock", str(lock))  # names are matched as PyPI normalises them
    assert run.out.splitlines()[:2] == ["python: torch 2.5.1+cu124", "  asked for in the intent as torch==2.5.1+cu124"]


def test_qwen3_lock_explains_a_package_the_move_added(tmp_path: Path, qwen3_lock: Lock, lock_cli) -> None:
    lock = write_lock(tmp_path / "q.lock", qwen3_lock)
    run = lock_cli("why", "cupy-cuda12x", "--lock", str(lock), "--json")
    data = json.loads(run.out)
    [answer] = data["answers"]
    assert answer["paths"] == [["vllm 0.8.4", "ray 2.45.0", "cupy-cuda12x 13.4.1"]]
    assert answer["requested"] is False


def test_apt_package(tmp_path: Path, seed_lock: Lock, lock_cli) -> None:
    seed_lock.apt = apt_layer(bookworm_kernel_debs())
    lock = write_lock(tmp_path / "seed.lock", seed_lock)
    run = lock_cli("why", "linux-headers-6.1.0-50-common", "--lock", str(lock))
    assert run.out.splitlines() == [
        "apt: linux-headers-6.1.0-50-common 6.1.176-1",
        "  linux-headers-6.1.0-50-amd64 6.1.176-1 -> linux-headers-6.1.0-50-common 6.1.176-1",
    ]


def test_default_lock_is_the_only_one_under_locks(
    tmp_path: Path, seed_lock: Lock, lock_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "locks").mkdir()
    write_lock(tmp_path / "locks" / "seed.lock", seed_lock)
    monkeypatch.chdir(tmp_path)
    assert lock_cli("why", "filelock").out.startswith("python: filelock 3.18.0\n")
