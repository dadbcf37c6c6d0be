"""The domains an image is made of, listed once; every command iterates over this list.

A domain is a subpackage that defines `DOMAIN` (imagelock.domains.contract).
The order is the order of resolution (the kernel after apt, whose archive it
shares) and the order of the lock file's sections. CONTRIBUTING.md says how to
add one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from imagelock.domains import apt, base, containers, dnf, files, models, nvidia, python
from imagelock.domains.contract import Domain
from imagelock.errors import InputError
from imagelock.intent import document as intent_document
from imagelock.intent.document import Intent
from imagelock.lock import codec, tamper
from imagelock.lock.artifact import Artifact
from imagelock.lock.component import Component
from imagelock.lock.diff import LockDiff, diff
from imagelock.lock.model import Lock

DOMAINS: tuple[Domain, ...] = (
    python.DOMAIN,
    apt.DOMAIN,
    apt.KERNEL,
    dnf.DOMAIN,
    nvidia.DOMAIN,
    models.DOMAIN,
    files.DOMAIN,
    containers.DOMAIN,
    base.DOMAIN,
)

# Everything below reads DOMAINS when called, so the list above is the only place a domain is named.


def by_name() -> dict[str, Domain]:
    return {domain.name: domain for domain in DOMAINS}


def read_intent(path: str | Path) -> Intent:
    return intent_document.read(path, {domain.name: domain.parse for domain in DOMAINS})


def loads_intent(text: str, path: str | Path) -> Intent:
    return intent_document.loads(text, path, {domain.name: domain.parse for domain in DOMAINS})


def read_lock(path: str | Path) -> tuple[Lock, str]:
    """A lock and the digest it claims."""
    return codec.read(path, {domain.name: domain.layer for domain in DOMAINS})


def read_intact_lock(path: str | Path, refused: str) -> Lock:
    """A lock whose content matches its digest (see `intact`)."""
    return intact(path, *read_lock(path), refused)


def intact(path: str | Path, lock: Lock, claimed: str, refused: str) -> Lock:
    """The lock, when its content matches the digest it claims. One edited by hand is refused, naming what
    changed: every command that acts on a lock (generate, mirror, drift, update) would otherwise act on, or
    re-digest and so launder, content nobody locked. `refused` ends the line: what was not done."""
    actual = lock.digest()
    if claimed != actual:
        why = tamper.line(path, lock.to_table(), list(lock.layers), claimed, actual)
        raise InputError(path, "digest", f"{why}; {refused}")
    return lock


def loads_lock(text: str, path: str | Path) -> tuple[Lock, str]:
    return codec.loads(text, path, {domain.name: domain.layer for domain in DOMAINS})


def present(lock: Lock) -> Iterator[tuple[Domain, object]]:
    """Each domain the lock holds a layer of, with that layer, in domain order."""
    for domain in DOMAINS:
        layer = lock.layers.get(domain.name)
        if layer:
            yield domain, layer


def artifacts(lock: Lock) -> Iterator[Artifact]:
    """Every file the lock pins by content, domain by domain."""
    for domain, layer in present(lock):
        yield from domain.artifacts(layer)


def components(lock: Lock) -> Iterator[tuple[str, Component]]:
    """Every locked thing as an SBOM row, with the name of the layer that holds it, domain by domain."""
    for domain, layer in present(lock):
        for component in domain.sbom_components(layer):
            yield domain.name, component


def diff_locks(old: Lock | None, new: Lock) -> LockDiff:
    """Every difference between two locks, layer by layer in image order."""
    return diff(old, new, DOMAINS)
