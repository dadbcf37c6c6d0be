"""`lock check`: offline verdict on a lock, no resolution.

Fresh means: the lock parses, was made from this very intent (same hash), its
content matches its digest, every artifact it locks carries a sha256, and its
layers pass the cross-layer compatibility rules (imagelock.rules).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from imagelock.intent import document as intent_mod
from imagelock.lock import model as lockfile
from imagelock.hashing import is_sha256
from imagelock.lock.model import Lock
from imagelock import rules as compat
from imagelock.domains.apt import consistency as apt_consistency


@dataclass
class CheckResult:
    lock_path: Path
    digest: str
    image: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def artifacts(lock: Lock) -> Iterator[tuple[str, str]]:
    """(what, sha256) for every artifact the lock pins by content."""
    if lock.python:
        for package in lock.python.packages:
            yield f"python package {package.name} {package.version} ({package.wheel.filename})", package.wheel.sha256
    if lock.apt:
        for deb in lock.apt.packages:
            yield f"apt package {deb.name} {deb.version} ({deb.arch})", deb.sha256
    if lock.nvidia:
        yield f"nvidia runfile {lock.nvidia.runfile}", lock.nvidia.sha256
    for model in lock.models:
        for item in model.files:
            yield f"model file {model.repo}/{item.path}", item.sha256


def check(intent_path: str | Path, lock_path: str | Path | None = None) -> CheckResult:
    intent = intent_mod.read(intent_path)
    path = Path(lock_path) if lock_path else intent_mod.default_lock_path(intent_path)
    lock, claimed = lockfile.read(path)
    actual = lock.digest()
    result = CheckResult(lock_path=path, digest=actual, image=lock.image_name())
    if lock.intent_sha256 != intent.sha256:
        result.problems.append(f"stale: {intent.path} changed since the lock was written "
                               f"(intent sha256 {intent.sha256[:12]}, lock made from {lock.intent_sha256[:12]}); "
                               "run `lock update`")
    if claimed != actual:
        result.problems.append(f"tampered: the lock's content does not match its digest "
                               f"(recorded {claimed[:12]}, content {actual[:12]}); edited by hand?")
    if lock.name != intent.name:
        result.problems.append(f"stale: the lock is named {lock.name!r}, the intent {intent.name!r}")
    for domain in intent_mod.DOMAINS:
        if domain in ("universe", "mirror"):
            continue
        wanted = intent.section(domain) is not None
        present = bool(getattr(lock, domain))
        if wanted and not present:
            result.problems.append(f"stale: the intent has [{domain}] but the lock has no {domain} layer")
        if present and not wanted:
            result.problems.append(f"stale: the lock has a {domain} layer the intent no longer asks for")
    for what, sha256 in artifacts(lock):
        if not is_sha256(sha256):
            result.problems.append(f"unhashed: {what} has no valid sha256")
    result.problems.extend(apt_consistency.problems(lock, intent))
    report = compat.evaluate(lock, compat.targets.from_intent(intent))
    result.problems += [f"incompatible: {finding.one_line()}" for finding in report.violations]
    result.notes += [f"not checked: {finding.one_line()}" for finding in report.unchecked]
    return result
