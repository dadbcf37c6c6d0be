"""Fixtures for the compatibility, diff, why and version tests: committed locks, fresh each time."""

from __future__ import annotations

import pytest

from compat.recorded import QWEN3_LOCK, SEED_LOCK, load

from imagelock.lockfile import Lock


@pytest.fixture
def seed_lock() -> Lock:
    """locks/seed.lock: vllm 0.6.6.post1, torch 2.5.1+cu124, Python layer only."""
    return load(SEED_LOCK)


@pytest.fixture
def qwen3_lock() -> Lock:
    """tests/fixtures/locks/seed-qwen3.lock: vllm 0.8.4, torch 2.6.0+cu124."""
    return load(QWEN3_LOCK)
