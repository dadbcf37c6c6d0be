"""Offline consistency of a lock's apt and kernel layers, for `lock check`.

The lock is checked against itself and against the local files the intent
names whose content the intent's own hash cannot see (the base-image manifest).
"""

from __future__ import annotations

from imagelock.hashing import sha256_file
from imagelock.intent.apt import parse_apt
from imagelock.intent.document import Intent
from imagelock.lock.model import Lock


def problems(lock: Lock, intent: Intent) -> list[str]:
    out: list[str] = []
    apt = lock.apt
    if lock.kernel and apt:
        names = {p.name for p in apt.packages}
        for name in lock.kernel.packages:
            if name not in names:
                out.append(f"inconsistent: kernel package {name} is not in the apt closure")
    if not apt:
        return out
    suites: set[tuple[str | None, str]] = {(None, s.suite) for s in apt.sources}
    suites |= {(r.name, s.suite) for r in apt.repositories for s in r.sources}
    for package in apt.packages:
        if (package.repository, package.suite) not in suites:
            where = f"repository {package.repository!r}, " if package.repository else ""
            out.append(
                f"inconsistent: apt package {package.name} comes from {where}suite {package.suite!r}, "
                "which the lock does not record"
            )
    if apt.base_manifest_sha256 is None:
        present = {p.name for p in apt.packages}
        for package in apt.packages:
            missing = [d.split(":")[0] for d in package.depends_on if d.split(":")[0] not in present]
            if missing:
                out.append(
                    f"inconsistent: apt package {package.name} depends on {', '.join(missing)}, "
                    "which the closure does not hold"
                )
    section = intent.section("apt")
    if section is not None:
        manifest = parse_apt(section, intent.path).base_manifest
        current = sha256_file(manifest) if manifest else None
        if current != apt.base_manifest_sha256:
            out.append("stale: the apt base-image manifest changed since the lock was written; run `lock update`")
    return out
