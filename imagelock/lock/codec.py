"""Reading and writing lock files: TOML text <-> Lock, byte-for-byte deterministic.

A lock names its layers by domain; the codec is handed the type of each layer
(imagelock.domains.LAYER_TYPES), so a new domain needs no change here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from imagelock.errors import InputError
from imagelock.lock import tamper
from imagelock.lock.model import SCHEMA_VERSION, VARIANTS, Lock, LockVariant
from imagelock.lock.tables import content_table, convert, digest_table, from_table
from imagelock.lock.validate import validate
from imagelock.untrusted import load_toml, read_text

# The type of each layer a lock may hold, by domain name, in the order a lock writes them.
LayerTypes = Mapping[str, Any]
_HEAD_KEYS = frozenset({"schema", "name", "version", "intent-sha256", "universe", "mirror"})


def dumps(lock: Lock) -> str:
    """The lock's TOML text, byte-for-byte deterministic."""
    table = lock.to_table()
    digest = digest_table(content_table(table))
    head = {"schema": table.pop("schema"), "name": table.pop("name")}
    if "version" in table:
        head["version"] = table.pop("version")
    hints = tamper.hints({**head, **table}, lock.parts())  # outside the digest: where an edit is
    ordered = {**head, "digest": digest, **table, **hints}
    header = "# imagelock lock file: written by `lock update`, do not edit by hand.\n"
    return header + tomli_w.dumps(ordered, multiline_strings=False)


def loads(text: str, path: str | Path, layers: LayerTypes) -> tuple[Lock, str]:
    """Parse a lock; returns it with the digest it claims (checked by `lock check`)."""
    table = load_toml(text, path)
    claimed = table.pop("digest", None)
    table.pop(tamper.PARTS, None)
    table.pop(tamper.FIELDS, None)
    if not isinstance(claimed, str):
        raise InputError(path, "digest", "missing: expected the lock's sha256 digest")
    schema = table.get("schema")
    if schema != SCHEMA_VERSION:
        raise InputError(path, "schema", f"expected {SCHEMA_VERSION}, found {schema!r}")
    for key in table:
        if key == "layers" or (key not in _HEAD_KEYS and key not in layers and key != VARIANTS):
            raise InputError(path, key, "unknown key in lock")
    lock = from_table(Lock, {k: v for k, v in table.items() if k in _HEAD_KEYS}, path, "")
    lock.layers = {name: convert(kind, table[name], path, name) for name, kind in layers.items() if name in table}
    if VARIANTS in table:
        lock.variants = _variants(table[VARIANTS], path, layers)
    return validate(lock, path), claimed


def _variants(table: Any, path: str | Path, layers: LayerTypes) -> dict[str, LockVariant]:
    """`[variants.<name>]`: each variant's intent hash, what it takes, and its own layers, strictly."""
    if not isinstance(table, dict) or not table:
        raise InputError(path, VARIANTS, "expected a table of variants")
    out: dict[str, LockVariant] = {}
    for name, entry in table.items():
        where = f"{VARIANTS}.{name}"
        if not isinstance(entry, dict):
            raise InputError(path, where, "expected a table")
        for key in entry:
            if key not in ("intent-sha256", "take") and key not in layers:
                raise InputError(path, f"{where}.{key}", "unknown key in lock")
        sha = convert(str, entry.get("intent-sha256"), path, f"{where}.intent-sha256")
        take = convert(list[str], entry.get("take", []), path, f"{where}.take")
        own = {
            layer: convert(kind, entry[layer], path, f"{where}.{layer}")
            for layer, kind in layers.items()
            if layer in entry
        }
        out[name] = LockVariant(intent_sha256=sha, take=take, layers=own)
    return out


def read(path: str | Path, layers: LayerTypes) -> tuple[Lock, str]:
    return loads(read_text(path, "no such lock file (run `lock update` to create it)"), path, layers)
