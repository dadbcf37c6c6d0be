"""Fixtures for the generator tests (imported by name: a second conftest.py would shadow
tests/conftest.py for the modules that import from it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from gen_sample import full_lock

from imagelock.lock import codec as lockfile
from imagelock.lock.model import Lock


@pytest.fixture
def write_lock(tmp_path: Path):
    """Write a Lock (its digest computed, as `lock update` does) and return the path."""

    def write(lock: Lock, name: str = "image.lock") -> Path:
        path = tmp_path / name
        path.write_text(lockfile.dumps(lock), encoding="utf-8")
        return path

    return write


@pytest.fixture
def full_lock_path(write_lock) -> Path:
    return write_lock(full_lock())
