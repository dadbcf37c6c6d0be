"""Fixtures for the compatibility, diff, why and version tests: committed locks, fresh each time."""

from __future__ import annotations

import pytest

from imagelock.lock.model import Lock
from rules.recorded import QWEN3_LOCK, SEED_LOCK, load


@pytest.fixture
def seed_lock() -> Lock:
    """locks/seed.lock's Python layer (vllm 0.6.6.post1, torch 2.5.1+cu124): each rule's tests add the
    other layers they judge."""
    return python_only(load(SEED_LOCK))


@pytest.fixture
def qwen3_lock() -> Lock:
    """tests/fixtures/locks/seed-qwen3.lock's Python layer: vllm 0.8.4, torch 2.6.0+cu124."""
    return python_only(load(QWEN3_LOCK))


def python_only(lock: Lock) -> Lock:
    lock.apt = lock.kernel = lock.nvidia = lock.base = None
    lock.models = []
    return lock
