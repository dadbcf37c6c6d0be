"""The intent: what the user wants, read from `locks/<name>.toml`.

Every domain section is optional; each is read by its domain's strict parser
(handed in by imagelock.domains), so an unknown key gets a did-you-mean and a
wrong type or value names the file, the key and what was expected. The intent's
hash is taken over its parsed content in canonical form, so key order and line
endings never change it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imagelock.errors import InputError
from imagelock.intent import ansible, output
from imagelock.intent.ansible import AnsibleIntent
from imagelock.intent.fields import check_keys, parse_cutoff
from imagelock.intent.output import OutputIntent
from imagelock.intent.python import PythonIntent
from imagelock.intent.variants import Shape, VariantPlan, plan
from imagelock.lock.tables import digest_table
from imagelock.untrusted import load_toml, read_text

# Each domain's section reader, by section name, in the order of the domain list.
SectionParsers = Mapping[str, Callable[[Any, Path], Any]]


@dataclass
class Intent:
    path: Path
    name: str
    sha256: str
    cutoff: str | None
    raw: dict[str, Any]
    # Each section the intent has, as its domain's parser typed it, by domain name.
    sections: dict[str, Any] = field(default_factory=dict)
    # `[ansible]`: which role variable takes which locked value (no lock layer of its own: imagelock.build.ansible).
    ansible: AnsibleIntent | None = None
    # `[output]`: the disk image file the build leaves (no lock layer of its own: imagelock.build.disk_image).
    output: OutputIntent | None = None
    # `[variants.<name>]` (imagelock.intent.variants), by name; {} for an intent of one image.
    variants: dict[str, Variant] = field(default_factory=dict)

    def section(self, name: str) -> dict[str, Any] | list[Any] | None:
        """A domain's raw section, as the file holds it."""
        return self.raw.get(name)

    @property
    def python(self) -> PythonIntent | None:
        """The typed `[python]` section, which the rules and `lock init` read."""
        section: PythonIntent | None = self.sections.get("python")
        return section


@dataclass
class Variant:
    """One image variant: its effective intent, what it takes of the shared layers, what it resolves itself."""

    name: str
    intent: Intent  # the effective intent, named `<name>-<variant>`; its sha256 is what the lock records
    resolving: Intent  # what its own domains resolve from: the effective intent, arrays cut to what it adds
    take: dict[str, tuple[str, ...] | None]  # shared layer -> None (whole) or the identities it takes
    own: tuple[str, ...]  # the domains it resolves itself, in domain order
    selectors: list[str]  # `take` as the lock records it


def intent_hash(table: dict[str, Any]) -> str:
    """sha256 of the intent's canonical form: independent of key order and line endings."""
    return digest_table(_jsonable(table))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return value


TOP_LEVEL = ("name", "universe", "variants")
GENERATORS = ("ansible", "output")  # sections no domain reads: how `lock generate` writes the lock for a tool


def loads(text: str, path: str | Path, sections: SectionParsers, shapes: Mapping[str, Shape] | None = None) -> Intent:
    """An intent from its text; every section is parsed by its domain's parser, in domain order, and every
    variant's effective intent likewise. The intent's own hash leaves `[variants]` out: it is the hash of
    the shared sections, so an intent without variants hashes as it always did, and each variant's own
    hash changes only with what that variant is made of."""
    path = Path(path)
    raw = load_toml(text, path)
    intent = _parsed(raw, path, sections)
    shapes = shapes or {name: Shape() for name in sections}
    for variant in plan(raw, path, shapes):
        intent.variants[variant.name] = _variant(variant, path, sections, shapes)
    if intent.output is not None and intent.variants:  # one disk image per intent, for now
        raise InputError(path, "output", "not yet with [variants]: one disk image is built per intent")
    return intent


def _variant(variant: VariantPlan, path: Path, sections: SectionParsers, shapes: Mapping[str, Shape]) -> Variant:
    try:
        effective = _parsed(variant.raw, path, sections)
    except InputError as exc:  # name the variant whose effective section is wrong
        raise InputError(path, f"variants.{variant.name}", f"{exc.key or ''}: {exc.message}".lstrip(": ")) from None
    resolving_raw = {**variant.raw, **{d: s for d, s in variant.own.items() if shapes[d].identity is not None}}
    resolving = _parsed(resolving_raw, path, sections)
    return Variant(
        name=variant.name,
        intent=effective,
        resolving=resolving,
        take=variant.take,
        own=tuple(d for d in sections if d in variant.own),
        selectors=variant.selectors(),
    )


def _parsed(raw: dict[str, Any], path: Path, sections: SectionParsers) -> Intent:
    # `[output]` is both a generator section and, for a base from signed sums, a domain's: named once
    allowed = (*TOP_LEVEL, *(s for s in sections if s not in GENERATORS), *GENERATORS)
    check_keys(raw, allowed, path, "")
    name = raw.get("name", path.stem.removesuffix(".intent"))
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", name):
        raise InputError(path, "name", f"expected a short lower-case name (letters, digits, '-'), found {name!r}")
    cutoff = None
    if "universe" in raw:
        universe = check_keys(raw["universe"], ("cutoff",), path, "universe")
        if "cutoff" in universe:
            cutoff = parse_cutoff(universe["cutoff"], path, "universe.cutoff")
    parsed = {section: parse(raw[section], path) for section, parse in sections.items() if section in raw}
    parsed = {section: value for section, value in parsed.items() if value is not None}  # nothing to lock
    shared = {key: value for key, value in raw.items() if key != "variants"}
    mapping = ansible.parse(raw["ansible"], path) if "ansible" in raw else None
    disk = output.parse(raw["output"], path, name) if "output" in raw else None
    return Intent(
        path=path,
        name=name,
        sha256=intent_hash(shared),
        cutoff=cutoff,
        raw=shared,
        sections=parsed,
        ansible=mapping,
        output=disk,
    )


def read(path: str | Path, sections: SectionParsers, shapes: Mapping[str, Shape] | None = None) -> Intent:
    path = Path(path)
    return loads(read_text(path, "no such intent file (create one with `lock init`)"), path, sections, shapes)


def default_lock_path(intent_path: str | Path) -> Path:
    """`locks/seed.toml` -> `locks/seed.lock`."""
    return Path(intent_path).with_suffix(".lock")
