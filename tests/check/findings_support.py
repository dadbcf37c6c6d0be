"""The seed's lock and intent, loaded fresh for each test that changes them."""

from __future__ import annotations

from imagelock_testing import ROOT

from imagelock import domains
from imagelock.intent.document import Intent
from imagelock.lock.finding import Finding
from imagelock.lock.model import Lock

SEED_INTENT = ROOT / "locks" / "seed.toml"
SEED_LOCK = ROOT / "locks" / "seed.lock"


def seed_lock() -> Lock:
    return domains.read_lock(SEED_LOCK)[0]


def seed_intent(replace: tuple[str, str] | None = None) -> Intent:
    """The seed's intent, optionally with one piece of its text replaced (it must occur exactly once)."""
    text = SEED_INTENT.read_text(encoding="utf-8")
    if replace is not None:
        assert text.count(replace[0]) == 1, replace[0]
        text = text.replace(*replace)
    return domains.loads_intent(text, SEED_INTENT)


def subjects(findings: list[Finding]) -> list[str]:
    return [f"{finding.kind}: {finding.subject}" for finding in findings]
