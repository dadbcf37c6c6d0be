"""The rpm database a machine reports against the lock's dnf layer: one difference per locked package.

The collector lists `rpm -qa` as [name, [epoch:]version-release, arch, header sha256] rows (collector.py,
RPM_QUERY). A locked package is compared by name, arch and version: an installonly name (kernel-devel)
may be installed at several versions, and the locked one must be among them. The header sha256 is
reported, not compared: repository metadata gives the .rpm's sha256, never its header digest, so the
lock cannot know it without downloading every package.
"""

from __future__ import annotations

from typing import Any

from imagelock.errors import InputError
from imagelock.lock.model import DnfLayer

Difference = tuple[str, str, str | None, str | None]  # kind, subject, expected, actual


def validate(facts: dict[str, Any], source: str) -> None:
    rows = facts.get("rpm")
    if rows is None:
        return
    if not isinstance(rows, list):
        raise InputError(source, "rpm", "expected a list of [name, version, arch, header-sha256] rows")
    for i, row in enumerate(rows):
        if not (isinstance(row, list) and len(row) == 4 and all(isinstance(x, str) for x in row)):
            raise InputError(source, f"rpm[{i}]", "expected [name, version, arch, header-sha256] strings")


def differences(layer: DnfLayer, rows: list[list[str]] | None, source: str) -> list[Difference]:
    if rows is None:
        raise InputError(source, "rpm", "the lock has a dnf layer but the facts hold no rpm database")
    installed: dict[tuple[str, str], list[str]] = {}
    for name, evr, arch, _header in rows:
        installed.setdefault((name, arch), []).append(evr)
    out: list[Difference] = []
    for p in layer.packages:
        versions = installed.get((p.name, p.arch))
        subject = f"{p.name}.{p.arch}"
        if not versions:
            out.append(("missing", subject, p.evr, None))
        elif p.evr not in versions:
            out.append(("changed-version", subject, p.evr, ", ".join(sorted(versions))))
    return out
