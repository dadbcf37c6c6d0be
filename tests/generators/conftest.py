"""Fixtures for the generator tests: a lock holding every layer, written to disk."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from imagelock import lockfile
from imagelock.lockfile import Lock

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))  # indexbuilder

from sample import full_lock  # noqa: E402


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
