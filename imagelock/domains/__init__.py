"""The domains an image is made of, listed once; every command iterates over this list.

A domain is a subpackage that defines `DOMAIN` (imagelock.domains.contract).
The order is the order of resolution (the kernel after apt, whose archive it
shares) and the order of the lock file's sections. CONTRIBUTING.md says how to
add one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from imagelock.domains import apt, base, containers, dnf, files, models, nvidia, output, python
from imagelock.domains.contract import Domain
from imagelock.errors import InputError
from imagelock.intent import document as intent_document
from imagelock.intent.document import Intent
from imagelock.intent.variants import Shape
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
    output.DOMAIN,
)

# Everything below reads DOMAINS when called, so the list above is the only place a domain is named.


def by_name() -> dict[str, Domain]:
    return {domain.name: domain for domain in DOMAINS}


def _shapes() -> dict[str, Shape]:
    return {d.name: Shape(identity=d.identity, replace=d.replace, reads=d.reads) for d in DOMAINS}


def read_intent(path: str | Path) -> Intent:
    return intent_document.read(path, {domain.name: domain.parse for domain in DOMAINS}, _shapes())


def loads_intent(text: str, path: str | Path) -> Intent:
    return intent_document.loads(text, path, {domain.name: domain.parse for domain in DOMAINS}, _shapes())


def read_lock(path: str | Path) -> tuple[Lock, str]:
    """A lock and the digest it claims; every variant's selection is checked against the shared layers."""
    lock, claimed = codec.read(path, {domain.name: domain.layer for domain in DOMAINS})
    for name in lock.variants:
        variant_lock(lock, name, path)
    return lock, claimed


def variant_lock(lock: Lock, name: str, path: str | Path | None = None) -> Lock:
    """One variant's image as a lock of its own, named `<name>-<variant>`: the shared layers (or entries)
    it takes, with its own layers over them (a table replaces, a list's own entries are added). This view
    is what generate, check, drift and diff read, so none of them knows about variants."""
    variant = lock.variants[name]
    by = by_name()
    taken: dict[str, list[str] | None] = {}
    borrowed: dict[str, Any] = {}  # own layers it shares with the variant that holds them
    for i, selector in enumerate(variant.take):
        layer, colon, key = selector.partition(":")
        if "@" in layer and not colon:  # `nvidia@gpu`: the layer variant gpu resolved for the same section
            layer, _, other = layer.partition("@")
            held = lock.variants[other].layers.get(layer) if other in lock.variants and other != name else None
            if held is None or layer not in by:
                raise InputError(
                    path, f"variants.{name}.take[{i}]", f"{selector!r} names no layer variant {other!r} holds"
                )
            borrowed[layer] = held
            continue
        domain = by.get(layer)
        if domain is None or layer not in lock.layers or (colon and domain.identity is None):
            raise InputError(path, f"variants.{name}.take[{i}]", f"{selector!r} names no shared layer of the lock")
        if not colon:
            taken[layer] = None
            continue
        keys = taken.setdefault(layer, [])
        if keys is not None:
            keys.append(key)
        if not domain.select(lock.layers[layer], [key]):
            raise InputError(path, f"variants.{name}.take[{i}]", f"{selector!r}: no such entry in the {layer} layer")
    view = Lock(
        name=f"{lock.name}-{name}",
        intent_sha256=variant.intent_sha256,
        universe=lock.universe,
        schema=lock.schema,
        version=lock.version,
        mirror=lock.mirror,
    )
    for domain in DOMAINS:
        part = domain.select(lock.layers[domain.name], taken[domain.name]) if domain.name in taken else None
        own = variant.layers.get(domain.name) or borrowed.get(domain.name)
        if own:
            part = [*(part or []), *own] if domain.identity is not None else own
        if part:
            view.layers[domain.name] = part
    return view


def images(lock: Lock) -> list[tuple[str | None, Lock]]:
    """The images a lock builds: itself when it has no variants, else each variant's view, by name."""
    if not lock.variants:
        return [(None, lock)]
    return [(name, variant_lock(lock, name)) for name in sorted(lock.variants)]


def read_intact_lock(path: str | Path, refused: str) -> Lock:
    """A lock whose content matches its digest (see `intact`)."""
    return intact(path, *read_lock(path), refused)


def intact(path: str | Path, lock: Lock, claimed: str, refused: str) -> Lock:
    """The lock, when its content matches the digest it claims. One edited by hand is refused, naming what
    changed: every command that acts on a lock (generate, mirror, drift, update) would otherwise act on, or
    re-digest and so launder, content nobody locked. `refused` ends the line: what was not done."""
    actual = lock.digest()
    if claimed != actual:
        why = tamper.line(path, lock.to_table(), lock.parts(), claimed, actual)
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


def held(lock: Lock) -> Iterator[tuple[Domain, Any, dict[str, Any]]]:
    """Every layer the lock stores, with the table that holds it: the shared layers, then each variant's
    own (a layer a variant takes as `layer@other` is stored, and so yielded, once: by `other`)."""
    for domain, layer in present(lock):
        yield domain, layer, lock.layers
    for name in sorted(lock.variants):
        own = lock.variants[name].layers
        for domain in DOMAINS:
            if own.get(domain.name):
                yield domain, own[domain.name], own


def artifacts(lock: Lock) -> Iterator[Artifact]:
    """Every file the lock pins by content, domain by domain: its variants' own files too, so `lock mirror`
    copies what any of its images builds from."""
    for domain, layer, _ in held(lock):
        yield from domain.artifacts(layer)


def components(lock: Lock) -> Iterator[tuple[str, Component]]:
    """Every locked thing as an SBOM row, with the name of the layer that holds it, domain by domain."""
    for domain, layer in present(lock):
        for component in domain.sbom_components(layer):
            yield domain.name, component


def diff_locks(old: Lock | None, new: Lock) -> LockDiff:
    """Every difference between two locks, layer by layer in image order."""
    return diff(old, new, DOMAINS)


def diff_variants(old: Lock | None, new: Lock) -> dict[str, LockDiff | None]:
    """Each variant's image compared as it is built (its view of each lock), by content alone: the version
    label is the whole lock's, so it moves with any variant. None: the new lock no longer has the variant."""
    out: dict[str, LockDiff | None] = {}
    for name in sorted((old.variants.keys() if old is not None else set()) | new.variants.keys()):
        if name not in new.variants:
            out[name] = None
            continue
        before = variant_lock(old, name) if old is not None and name in old.variants else None
        after = variant_lock(new, name)
        for view in (before, after):
            if view is not None:
                view.version = None
        out[name] = diff(before, after, DOMAINS)
    return out
