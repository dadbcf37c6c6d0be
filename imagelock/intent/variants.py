"""`[variants.<name>]`: several images from one intent, each the shared sections filtered and overridden.

[variants.gpu]
take = ["apt", "nvidia", "files:/opt/efa"]   # what it takes of the shared intent (default: all of it)
skip = ["models:Qwen/Qwen3-4B-AWQ"]          # what it leaves out of that
[variants.gpu.nvidia]                        # a table section: its keys merge one level over [nvidia]
driver = "550.54.15"
[[variants.gpu.files]]                       # an array section: its entries are added to the shared ones
url = "https://vendor.example/gdrcopy.tar.gz"
dest = "/opt/gdrcopy"

A selector is a domain's name (its whole section) or `domain:key` (one entry of an array section, named by
its identity: files by dest, models by repo, containers by image). A domain that declares `replace` (base)
takes a variant's table whole instead of merging it. Each variant becomes an effective intent of its own,
named `<name>-<variant>`, whose hash changes only when what that variant is made of changes.

What a variant resolves itself (`own`) is only what differs from the shared intent: a table section whose
effective content differs (or whose resolution reads one that does), and the entries an array section adds.
Everything else it takes from the shared layers, so the lock stores it once.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imagelock.errors import InputError, did_you_mean
from imagelock.intent.fields import string_list

VARIANT_KEYS = ("take", "skip")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")


@dataclass(frozen=True)
class Shape:
    """How a domain's section combines in a variant (from its Domain: identity, replace, reads)."""

    identity: str | None = None  # an array section: the key naming one entry
    replace: bool = False  # a variant's table replaces the shared one instead of merging over it
    reads: tuple[str, ...] = ()  # other sections its resolution reads


@dataclass
class VariantPlan:
    """One variant as the intent defines it: its effective raw intent and how it splits into taken and own."""

    name: str
    raw: dict[str, Any]  # the effective intent: shared sections filtered, overridden
    # Shared layers it takes: domain -> None (the whole layer) or the identities of the entries it takes.
    take: dict[str, tuple[str, ...] | None] = field(default_factory=dict)
    # Sections it resolves itself: a table's effective section; an array's added entries only.
    own: dict[str, Any] = field(default_factory=dict)

    def selectors(self) -> list[str]:
        """What it takes, as the lock records it: layer names and `domain:key` items, sorted."""
        out: list[str] = []
        for domain, keys in self.take.items():
            out += [domain] if keys is None else [f"{domain}:{key}" for key in keys]
        return sorted(out)


def canonical(value: Any) -> str:
    """A section's identity for comparison: the sha256 of its canonical JSON (TOML times as ISO text)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def plan(raw: Mapping[str, Any], path: Path, shapes: Mapping[str, Shape]) -> list[VariantPlan]:
    """Every `[variants.<name>]` of the intent, checked strictly; [] when it has none."""
    table = raw.get("variants")
    if table is None:
        return []
    if not isinstance(table, dict) or not table:
        raise InputError(path, "variants", "expected a table of variants ([variants.<name>])")
    shared = {name: raw[name] for name in shapes if name in raw}
    head = {key: raw[key] for key in ("name", "universe") if key in raw}
    plans = []
    for name, spec in table.items():
        where = f"variants.{name}"
        if not _NAME.match(name):
            raise InputError(path, where, "expected a short lower-case variant name (letters, digits, '-')")
        if not isinstance(spec, dict):
            raise InputError(path, where, "expected a table")
        allowed = (*VARIANT_KEYS, *shapes)
        for key in spec:
            if key not in allowed:
                raise InputError(
                    path,
                    f"{where}.{key}",
                    f"unknown key{did_you_mean(key, allowed)}; expected take, skip or a section: {', '.join(shapes)}",
                )
        plans.append(_one(name, spec, shared, head, path, shapes))
    return plans


def _choose(
    selectors: list[str], shared: dict[str, Any], path: Path, where: str, shapes: Mapping[str, Shape]
) -> dict[str, set[str] | None]:
    """Selectors -> domain -> None (whole section) or the identities named, each checked against the intent."""
    out: dict[str, set[str] | None] = {}
    for selector in selectors:
        domain, colon, key = selector.partition(":")
        if domain not in shared:
            raise InputError(
                path,
                where,
                f"unknown selector {selector!r}{did_you_mean(domain, shared)}; "
                f"the shared intent has: {', '.join(shared) or 'no sections'}",
            )
        if not colon:
            out[domain] = None
            continue
        identity = shapes[domain].identity
        if identity is None:
            raise InputError(
                path, where, f"selector {selector!r}: [{domain}] is a table, taken or skipped whole (say {domain!r})"
            )
        keys = [str(entry.get(identity)) for entry in shared[domain] if isinstance(entry, dict)]
        if key not in keys:
            raise InputError(
                path,
                where,
                f"unknown selector {selector!r}: no [[{domain}]] with {identity} {key!r}{did_you_mean(key, keys)}",
            )
        chosen = out.get(domain, set())
        if chosen is not None:
            chosen.add(key)
            out[domain] = chosen
    return out


def _one(
    name: str,
    spec: dict[str, Any],
    shared: dict[str, Any],
    head: dict[str, Any],
    path: Path,
    shapes: Mapping[str, Shape],
) -> VariantPlan:
    where = f"variants.{name}"
    take_list = string_list(spec, "take", path, where)
    taken = (
        {domain: None for domain in shared}
        if take_list is None
        else _choose(take_list, shared, path, f"{where}.take", shapes)
    )
    skipped = _choose(string_list(spec, "skip", path, where) or [], shared, path, f"{where}.skip", shapes)
    kept: dict[str, Any] = {}  # the shared part of each section this variant takes
    for domain, keys in taken.items():
        identity = shapes[domain].identity
        skip = skipped.get(domain, set())
        if skip is None:
            continue
        if identity is None:
            kept[domain] = shared[domain]
            continue
        entries = [
            e
            for e in shared[domain]
            if (keys is None or str(e.get(identity)) in keys) and str(e.get(identity)) not in skip
        ]
        if entries:
            kept[domain] = entries
    effective = dict(kept)
    own: dict[str, Any] = {}
    for domain in shapes:
        if domain not in spec:
            continue
        section = spec[domain]
        if shapes[domain].identity is not None:
            if not isinstance(section, list) or not all(isinstance(t, dict) for t in section):
                raise InputError(path, f"{where}.{domain}", f"expected an array of tables ([[{where}.{domain}]])")
            effective[domain] = [*kept.get(domain, []), *section]
            own[domain] = section
        else:
            if not isinstance(section, dict):
                raise InputError(path, f"{where}.{domain}", f"expected a table ([{where}.{domain}])")
            base = shared.get(domain, {}) if not shapes[domain].replace else {}
            effective[domain] = {**(base if isinstance(base, dict) else {}), **section}
    raw = {**head, "name": f"{head.get('name', path.stem.removesuffix('.intent'))}-{name}", **effective}
    for domain in shapes:  # a table section that differs from the shared one, or reads one that does
        if domain not in effective or shapes[domain].identity is not None:
            continue
        if any(canonical(effective.get(d)) != canonical(shared.get(d)) for d in (domain, *shapes[domain].reads)):
            own[domain] = effective[domain]
    take: dict[str, tuple[str, ...] | None] = {}
    for domain, section in kept.items():
        if domain in own and shapes[domain].identity is None:
            continue
        if shapes[domain].identity is None or len(section) == len(shared[domain]):
            take[domain] = None
        else:
            take[domain] = tuple(sorted(str(e.get(shapes[domain].identity)) for e in section))
    return VariantPlan(name=name, raw=raw, take=take, own=own)
