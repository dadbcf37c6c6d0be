"""Lock tables: dataclasses to TOML-ready tables and back, strictly, and the digest over them.

Keys are kebab-case; None values and empty lists are left out; arrays whose
order carries no meaning are sorted, so the same content always gives the same
table and the same digest. The digest is the sha256 of the canonical JSON form
(sorted keys, no whitespace), so reformatting the TOML never changes it.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from imagelock.errors import InputError

T = TypeVar("T")


# Arrays whose order carries no meaning are written sorted by these keys.
_SORT_KEYS: dict[str, tuple[str, ...]] = {
    "packages": ("name", "arch", "version"),
    "indexes": ("name", "path"),
    "sources": ("suite", "uri"),
    "files": ("path", "dest"),  # a model's files by path; [[files]] by where they go
    "amis": ("region",),
    "models": ("repo", "dest"),
    "envs": ("name",),  # a lock's Python envs, by name
}


def sorted_lock_table(value: Any) -> Any:
    """The table with every order-free array sorted by its keys."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            item = sorted_lock_table(item)
            keys = _SORT_KEYS.get(key)
            if keys and isinstance(item, list) and item and all(isinstance(x, dict) for x in item):
                item = sorted(item, key=lambda t: tuple(str(t.get(k, "")) for k in keys))
            out[key] = item
        return out
    if isinstance(value, list):
        return [sorted_lock_table(x) for x in value]
    return value


def content_table(table: dict[str, Any]) -> dict[str, Any]:
    """The part of a lock table its digest covers: everything but the version label."""
    return {key: value for key, value in table.items() if key != "version"}


def digest_table(table: dict[str, Any]) -> str:
    """sha256 over the canonical JSON of a table (sorted keys, no whitespace)."""
    canonical = json.dumps(table, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- generic conversion between dataclasses and TOML tables ----------------------


def _key(name: str) -> str:
    return name.replace("_", "-")


def to_table_fields(values: dict[str, Any]) -> dict[str, Any]:
    """Named values -> table entries, as `to_table` converts a dataclass's fields."""
    return {_key(name): to_table(value) for name, value in values.items() if value is not None and value != []}


def to_table(obj: Any) -> Any:
    """Dataclass -> table with kebab-case keys; None values and empty lists are left out."""
    if dataclasses.is_dataclass(obj):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if value is None or value == []:
                continue
            out[_key(f.name)] = to_table(value)
        return out
    if isinstance(obj, list):
        return [to_table(x) for x in obj]
    return obj


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is list:
        return "an array"
    if dataclasses.is_dataclass(tp):
        return "a table"
    return {str: "a string", int: "an integer", bool: "true or false"}.get(tp, str(tp))


@functools.cache
def _schema(cls: type) -> tuple[dict[str, Any], dict[str, dataclasses.Field[Any]]]:
    """A dataclass's resolved field types and its fields by TOML key, computed once per class."""
    return typing.get_type_hints(cls), {_key(f.name): f for f in dataclasses.fields(cls)}


def from_table(cls: type[T], table: Any, path: str | Path, where: str) -> T:
    """Table -> dataclass, strictly: unknown keys, missing keys and wrong types are InputErrors."""
    if not isinstance(table, dict):
        raise InputError(path, where, "expected a table")
    hints, fields = _schema(cls)  # type: ignore[arg-type]  # every dataclass is hashable as a class
    for key in table:
        if key not in fields:
            raise InputError(path, f"{where}.{key}" if where else key, "unknown key in lock")
    kwargs: dict[str, Any] = {}
    for key, f in fields.items():
        here = f"{where}.{key}" if where else key
        if key not in table:
            no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if no_default and not _optional(hints[f.name]):
                raise InputError(path, here, "missing")
            if no_default:  # TOML has no null: an optional field is written by leaving it out
                kwargs[f.name] = None
            continue
        kwargs[f.name] = convert(hints[f.name], table[key], path, here)
    return cls(**kwargs)


def _optional(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


def convert(tp: Any, value: Any, path: str | Path, where: str) -> Any:
    """A table value as type `tp` (a dataclass, list, or scalar), strictly."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return convert(options[0], value, path, where)
    if origin is list:
        (item_type,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise InputError(path, where, f"expected {_type_name(tp)}")
        return [convert(item_type, v, path, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return from_table(tp, value, path, where)
    if tp is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise InputError(path, where, "expected an integer")
    if tp is bool and not isinstance(value, bool):
        raise InputError(path, where, "expected true or false")
    if tp is str and not isinstance(value, str):
        raise InputError(path, where, "expected a string")
    return value
