"""Saying what changed in a lock whose content no longer matches its digest: the layer, the entry, the field.

The digest covers the whole content and proves only *that* it changed. Beside it a lock keeps two
tables its digest does not cover, written from the content by `lock update`:

- `[layer-digests]`: the sha256 of each part (its head, each layer, its mirror). A part whose digest
  still matches did not change; when every part matches, the `digest` line itself was edited.
- `[field-digests]`: per entry of every list (`python.packages`, `models.files` ...) and per table, 16
  bits of sha256 for each field, `field path + value`. Within a changed part, the entry whose field
  hashes differ from every recorded one is the one edited, and its fields whose hashes are not among
  its recorded ones are the fields edited, found from the lock alone: no history, no network.

Sixteen bits cannot prove anything and need not: the digest decides whether a lock is intact, these
tables only point at where. Whoever edits a lock can edit them too (and can recompute the digest): the
digest proves integrity, not origin. A signature (`lock sign`) says who wrote it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagelock.lock.model import VARIANTS
from imagelock.lock.tables import content_table, digest_table
from imagelock.untrusted import load_toml, read_text

PARTS = "layer-digests"  # per-part sha256, outside the content the digest covers
FIELDS = "field-digests"  # per-entry field hashes, outside it too
HEAD = "head"
MIRROR = "mirror"
PIECE = 4  # hex digits of sha256 kept per field: 16 bits
SHOWN = 3  # changes named in the one line; the rest are counted
MAX_PAIRS = 250_000  # edited entries x recorded ones compared to pair them; beyond it, counted
_HEX = re.compile(r"^(?:[0-9a-f]{4})*$")
_LABEL_KEYS = ("name", "repo", "path", "dest", "suite", "region", "runfile", "id")


@dataclass(frozen=True)
class Entry:
    """One entry of a lock's content: where it is, how to call it, and its fields' hashes by field path."""

    where: str  # `python.packages[112]`, or the table's own path (`nvidia`, `universe`)
    label: str | None  # its name, path or dest, when it has one
    fields: tuple[tuple[str, str], ...]  # (field path within the entry, its hash), sorted by path
    in_list: bool  # an item of a list (`[[python.packages]]`), not a table of its own (`[nvidia]`)

    def fingerprint(self) -> str:
        return "".join(h for _, h in self.fields)


def part_digests(table: dict[str, Any], layers: list[str]) -> dict[str, str]:
    """The digest of each part of a lock's content table: its head, each layer, its mirror."""
    content = content_table(table)
    head = {k: v for k, v in content.items() if k not in layers and k != MIRROR}
    out = {HEAD: digest_table(head)}
    for name in [*layers, MIRROR]:
        if name in content:
            out[name] = digest_table(content[name])
    return out


def field_digests(table: dict[str, Any], layers: list[str]) -> dict[str, str | list[str]]:
    """`[field-digests]`: per group (a table's path, or a list's path without indexes), its fingerprints."""
    out: dict[str, str | list[str]] = {}
    for group, (is_list, entries) in _groups(table, layers).items():
        out[group] = [e.fingerprint() for e in entries] if is_list else entries[0].fingerprint()
    return out


def hints(table: dict[str, Any], layers: list[str]) -> dict[str, Any]:
    """The two tables `lock update` writes after the content, from which a later edit can be located."""
    return {PARTS: part_digests(table, layers), FIELDS: field_digests(table, layers)}


def line(path: str | Path, table: dict[str, Any], layers: list[str], claimed: str, actual: str) -> str:
    """Why a lock's content does not match its digest, naming the layer, entry and field that changed.

    `table` is the lock as read (what the digest covers); the file is read again for the two hint tables
    and for entries in the order the file holds them, so an index it names is the one a reader sees."""
    raw = load_toml(read_text(path, "no such lock file"), path)
    parts, fields = raw.pop(PARTS, None), raw.pop(FIELDS, None)
    raw.pop("digest", None)
    where = explain(table, raw, parts, fields, layers)
    shown_claimed, shown_actual = distinct(claimed, actual)
    return (
        f"the lock's content does not match its digest (recorded {shown_claimed}, content {shown_actual}): "
        f"{where}; the digest proves the lock is intact, not who wrote it (`lock sign` does)"
    )


def distinct(claimed: str, actual: str) -> tuple[str, str]:
    """Both digests shortened alike, to 12 hex digits or as many more as it takes to tell them apart."""
    if not re.fullmatch(r"[0-9a-f]{1,64}", claimed):
        return repr(claimed[:80]), actual[:12]
    common = next((i for i, (a, b) in enumerate(zip(claimed, actual, strict=False)) if a != b), len(claimed))
    n = max(12, common + 1)
    return claimed[:n], actual[:n]


def explain(table: dict[str, Any], raw: dict[str, Any], parts: Any, fields: Any, layers: list[str]) -> str:
    """What changed, as one clause: `layer python, entry python.packages[112] (torch), field wheel.sha256`.

    The parts that changed are those of `table` (the content the digest covers) whose digests differ;
    within them, the entries of `raw` (the same content in the file's order) that no recorded one matches."""
    if not (isinstance(parts, dict) and all(isinstance(v, str) for v in parts.values())):
        return "the lock records no per-layer digests to say where (written before they were kept)"
    now = part_digests(table, layers)
    names = [*layers, *sorted(k for k in parts if k not in layers and k not in (HEAD, MIRROR))]
    changed = [n for n in [HEAD, *names, MIRROR] if n in now.keys() | parts.keys() and now.get(n) != parts.get(n)]
    if not changed:
        return "the `digest` line itself was edited (every layer still matches its own digest)"
    if not isinstance(fields, dict):
        return (
            f"changed in {_parts(changed)} (this lock records no field digests to name the entry and field: "
            "it was written before they were kept)"
        )
    groups = _groups(raw, layers)
    found: list[str] = []
    unplaced: list[str] = []
    for part in changed:
        here: list[str] = []
        for group in sorted(groups.keys() | fields.keys(), key=lambda g: (g.count("."), g)):
            if _part_of(group, names) != part:
                continue
            if group not in groups:  # recorded, and no longer in the lock
                value = fields[group]
                if isinstance(value, list):
                    here.append(f"{_part(part)}: all {len(value)} entries of {group} removed")
                else:
                    here.append(f"{_part(part)} removed" if group == part else f"{_part(part)}: {group} removed")
                continue
            is_list, entries = groups[group]
            here += _compare(part, is_list, entries, _recorded(fields.get(group, []), is_list))
        found += here
        if not here:
            unplaced.append(part)
    if unplaced:
        found.append(f"changed in {_parts(unplaced)} (its field digests do not say where: they were edited too)")
    shown = found[:SHOWN]
    more = len(found) - len(shown)
    return "changed: " + "; ".join(shown) + (f"; and {more} more" if more else "")


def _parts(names: list[str]) -> str:
    return ", ".join(_part(n) for n in names)


def _part(name: str) -> str:
    if name == HEAD:
        return "the head"
    if name == MIRROR:
        return "the mirror table"
    if name == VARIANTS:
        return "the variants table"
    return f"layer {name}"


def _part_of(group: str, names: list[str]) -> str:
    top = group.split(".", 1)[0]
    if top in names or top == MIRROR:
        return top
    return HEAD


def _recorded(value: Any, is_list: bool) -> list[str] | None:
    """The recorded fingerprints of one group ([] when it had none), or None when they are not of their form."""
    if isinstance(value, list) != is_list and value != []:
        return None
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) and _HEX.match(v) for v in items):
        return None
    return items


def _compare(part: str, is_list: bool, entries: list[Entry], recorded: list[str] | None) -> list[str]:
    """The entries of one group that differ from what was recorded, and how."""
    if recorded is None:
        return []
    if not is_list and not recorded:
        return [f"{_part(part)}: {entries[0].where} added"]
    left: Counter[tuple[str, ...]] = Counter(tuple(sorted(_pieces(r))) for r in recorded)
    unmatched: list[Entry] = []
    for entry in entries:  # an unchanged entry matches a recorded fingerprint exactly
        key = tuple(sorted(h for _, h in entry.fields))
        if left[key]:
            left[key] -= 1
        else:
            unmatched.append(entry)
    rest = [Counter(key) for key, n in left.items() for _ in range(n)]
    paired: dict[int, int] = {}
    if len(unmatched) * len(rest) <= MAX_PAIRS:
        scored = [
            (sum((Counter(h for _, h in e.fields) & r).values()), i, j)
            for i, e in enumerate(unmatched)
            for j, r in enumerate(rest)
        ]
        used: set[int] = set()
        for overlap, i, j in sorted(scored, key=lambda s: (-s[0], s[1], s[2])):
            if (overlap or not is_list) and i not in paired and j not in used:  # the closest recorded one it was
                paired[i] = j
                used.add(j)
    elif unmatched:
        group = re.sub(r"\[\d+\]", "", unmatched[0].where)
        return [f"{_part(part)}: {len(unmatched)} entries of {group} changed, added or removed"]
    out = []
    for i, entry in enumerate(unmatched):
        if i in paired:
            out.append(_changed_fields(part, entry, rest[paired[i]]))
        else:
            out.append(f"{_part(part)}, entry {_name(entry)} added")
    removed = len(rest) - len(paired)
    if removed:
        group = re.sub(r"\[\d+\]", "", entries[0].where) if entries else "its list"
        out.append(f"{_part(part)}: {removed} entr{'y' if removed == 1 else 'ies'} of {group} removed")
    return out


def _changed_fields(part: str, entry: Entry, recorded: Counter[str]) -> str:
    """`layer python, entry python.packages[112] (torch), field wheel.sha256`."""
    rest = Counter(recorded)
    names = []
    for field, h in entry.fields:
        if rest[h]:
            rest[h] -= 1
        else:
            names.append(field)
    gone = sum(rest.values()) - len(names)
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    what = f"field{'s' if len(names) > 1 else ''} {shown}" if names else ""
    if gone > 0:
        what += (" and " if what else "") + f"{gone} field{'s' if gone > 1 else ''} removed"
    where = f"entry {_name(entry)}, " if entry.in_list else ""
    return f"{_part(part)}, {where}{what}"


def _name(entry: Entry) -> str:
    return entry.where + (f" ({entry.label})" if entry.label else "")


def _pieces(fingerprint: str) -> list[str]:
    return [fingerprint[i : i + PIECE] for i in range(0, len(fingerprint), PIECE)]


def _groups(table: dict[str, Any], layers: list[str]) -> dict[str, tuple[bool, list[Entry]]]:
    """Every entry of the content, by group: a table is a group of one, a list of tables a group of many."""
    groups: dict[str, tuple[bool, list[Entry]]] = {}
    content = content_table(table)
    head = {k: v for k, v in content.items() if k not in layers and k != MIRROR}
    _walk(HEAD, head, None, groups)
    for key, value in content.items():
        if key in head:
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for i, item in enumerate(value):
                _walk(key, item, i, groups)
        else:
            _walk(key, value if isinstance(value, dict) else {key: value}, None, groups)
    return groups


def _walk(where: str, table: dict[str, Any], index: int | None, out: dict[str, tuple[bool, list[Entry]]]) -> None:
    """Add `table` (at `where`, item `index` of its list) to its group; its lists of tables are groups of their own."""
    group = re.sub(r"\[\d+\]", "", where)
    here = where if index is None else f"{where}[{index}]"
    fields: list[tuple[str, str]] = []
    nested: list[tuple[str, list[dict[str, Any]]]] = []
    _leaves(table, "", fields, nested)
    fields.sort()
    label = next((table[k] for k in _LABEL_KEYS if isinstance(table.get(k), str)), None)
    entry = Entry(here, _safe(label), tuple(fields), in_list=index is not None)
    out.setdefault(group, (index is not None, []))[1].append(entry)
    for key, items in nested:
        for i, item in enumerate(items):
            _walk(f"{here}.{key}", item, i, out)


def _leaves(table: dict[str, Any], prefix: str, fields: list[tuple[str, str]], nested: list[Any]) -> None:
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            _leaves(value, f"{path}.", fields, nested)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            nested.append((path, value))
        else:
            fields.append((path, _hash(path, value)))


def _hash(path: str, value: Any) -> str:
    canonical = json.dumps([path, value], sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:PIECE]


def _safe(label: str | None) -> str | None:
    """A name from the lock, fit for one line of output (the validator refuses control characters anyway)."""
    if label is None:
        return None
    label = label if label.isprintable() else repr(label)
    return label if len(label) <= 60 else label[:57] + "..."
