"""Live: the shipped seed lock's .debs are still fetchable by pool path, though some left the indexes.

This is the fact the build's content-addressed apt step stands on (issue 13): Ubuntu drops superseded
versions from jammy-updates' indexes but keeps their files in the pool. `lock check --online` asks
every locked .deb's pool URL (the URLs are the lock's own, read from the archive it was made from) and
requires the locked size. When this fails, the archive has deleted a locked file: the lock then builds
only from a `lock mirror` made earlier, which is what `lock check --online` tells its users.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from imagelock import domains
from imagelock.commands.online import check_online

pytestmark = pytest.mark.live

SEED_LOCK = Path(__file__).resolve().parents[2] / "locks" / "seed.lock"


def test_every_locked_deb_of_the_seed_is_still_in_the_pool() -> None:
    lock, _ = domains.read_lock(SEED_LOCK)
    report = check_online(SEED_LOCK, jobs=16)
    debs = [p for p in report.probes if p.artifact.kind == "deb"]
    assert len(debs) == len(lock.apt.packages) == 179
    gone = [f"{p.artifact.what}: {p.tried}" for p in debs if p.live is None]
    assert gone == []
