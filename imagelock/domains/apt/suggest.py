"""Helpful answers for names and versions the archive does not have."""

from __future__ import annotations

import difflib

from imagelock.domains.apt.universe import Universe
from imagelock.formats import debversion


def _split_name_version(universe: Universe, name: str, flavours: list[str]) -> list[str]:
    """`linux-headers-5.15.0-105.115` -> `linux-headers-5.15.0-105-generic=5.15.0-105.115`.

    People write apt's `name=version` as `name-version`; when a tail of the
    name is the version of real packages whose names start with the head, those
    are the suggestion, the kernel flavour first.
    """
    found: list[tuple[tuple[int, float], str]] = []
    for i, char in enumerate(name):
        if char != "-" or i + 1 >= len(name) or not name[i + 1].isdigit():
            continue
        head, tail = name[:i], name[i + 1 :]
        for other in universe.names():
            if not other.startswith(head + "-"):
                continue
            if any(s.version == tail for s in universe.by_name[other]):
                rank = next((k for k, f in enumerate(flavours) if other.endswith(f"-{f}")), len(flavours))
                ratio = difflib.SequenceMatcher(None, name, other).ratio()
                found.append(((rank, -ratio), f"{other}={tail}"))
    found.sort()
    return [text for _, text in found[:3]]


def for_unknown_name(universe: Universe, name: str, flavours: list[str]) -> str:
    """' (did you mean ...?)' for a name the archive does not carry, or ''."""
    picks = _split_name_version(universe, name, flavours)
    if not picks:
        pool = [n for n in universe.names() if n[:1] == name[:1]]
        picks = difflib.get_close_matches(name, pool, n=3, cutoff=0.75)
    if not picks:
        return ""
    rest = f" (or {', '.join(picks[1:])})" if len(picks) > 1 else ""
    return f"; did you mean {picks[0]}{rest}?"


def for_missing_version(universe: Universe, name: str, arch: str, version: str, snapshot: str | None) -> str:
    """Which versions the archive has, and whether another snapshot could have the one asked."""
    have = universe.versions(name, arch)
    listed = ", ".join(f"{s.version} ({s.suite})" for s in have[:8])
    if len(have) > 8:
        listed += f", and {len(have) - 8} older"
    message = f"version {version} is not in the archive; it has {listed}"
    newest = have[0].version if have else None
    if snapshot is None:
        message += (
            "; the archive moves on, so if this version was published once, pin an "
            "archive snapshot from then with apt.snapshot"
        )
    elif newest is not None and debversion.compare(version, newest) > 0:
        message += f"; it may be newer than snapshot {snapshot}: pin a later apt.snapshot"
    else:
        message += f"; it may have been superseded before snapshot {snapshot}: pin an earlier apt.snapshot"
    return message
