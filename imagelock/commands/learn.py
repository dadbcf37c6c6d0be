"""`lock update --learn measured.json`: the hashes a build measured, written into the lock.

A lock may hold a file without a hash when its upstream could not give one at lock time (a
model file a recording lists without its bytes). The build then fetches that file unverified,
measures it and lists it in /var/lib/imagelock/measured.json (bootstrap.sh, `write_measured`),
the way Nix reports the hash of a fixed-output download. Learning writes each measured sha256
and size into the entry whose upstream URL it names, through the domain list; from then on
every build verifies them. The hash comes from one build's download: review it as a new pin.

A measurement that contradicts a hash the lock already pins means the file did not come from
a build of this lock, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from imagelock import domains
from imagelock.errors import InputError
from imagelock.hashing import is_sha256
from imagelock.lock.model import Lock
from imagelock.untrusted import load_json, read_text

MAX_BYTES = 16 * 1024 * 1024  # a measured.json lists files one line each; anything this big is not one


def read(path: str | Path) -> dict[str, tuple[str, int]]:
    """measured.json -> upstream URL -> (sha256, size); every defect is one InputError naming the key."""
    source = Path(path)
    text = read_text(source, "expected the measured.json a build wrote (/var/lib/imagelock/measured.json)", MAX_BYTES)
    doc: Any = load_json(text, source, "the measured.json a build wrote")
    rows = doc.get("measured") if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        raise InputError(source, "measured", "expected an array of {url, sha256, size}")
    out: dict[str, tuple[str, int]] = {}
    for i, row in enumerate(rows):
        key = f"measured[{i}]"
        if not isinstance(row, dict):
            raise InputError(source, key, "expected a table with url, sha256 and size")
        url, sha256, size = row.get("url"), row.get("sha256"), row.get("size")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise InputError(source, f"{key}.url", f"expected the http(s) URL the lock records, found {url!r}")
        if not isinstance(sha256, str) or not is_sha256(sha256):
            raise InputError(source, f"{key}.sha256", "expected 64 lowercase hex digits")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InputError(source, f"{key}.size", f"expected a size in bytes, found {size!r}")
        url = unquote(url)
        if out.get(url, (sha256, size)) != (sha256, size):
            raise InputError(source, f"{key}.url", f"{url} is listed twice with different hashes")
        out[url] = (sha256, size)
    return out


def contradictions(lock: Lock, measured: Mapping[str, tuple[str, int]]) -> list[str]:
    """Measurements of files the lock already pins, with other bytes."""
    out = []
    for artifact in domains.artifacts(lock):
        found = measured.get(unquote(artifact.url))
        if found is not None and artifact.sha256 and found[0] != artifact.sha256:
            out.append(f"{artifact.what}: measured sha256 {found[0]}, the lock pins {artifact.sha256}")
    return out


def apply(lock: Lock, measured: Mapping[str, tuple[str, int]], source: str | Path) -> int:
    """Write what was measured into every file the lock holds without a hash; how many were learned."""
    wrong = contradictions(lock, measured)
    if wrong:
        raise InputError(
            source,
            None,
            f"{wrong[0]}{f' (and {len(wrong) - 1} more)' if len(wrong) > 1 else ''}: "
            "these measurements are not from a build of this lock; nothing was written",
        )
    learned = 0
    for domain, layer, holder in list(domains.held(lock)):  # a variant's own files learn too
        layer, count = domain.learn(layer, measured)
        holder[domain.name] = layer
        learned += count
    return learned
