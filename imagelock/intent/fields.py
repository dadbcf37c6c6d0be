"""Strict readers for the values an intent holds: each error names the file, the key and what was expected."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from imagelock.errors import InputError, did_you_mean
from imagelock.lock.model import instant


def check_keys(table: Any, allowed: tuple[str, ...], path: Path, where: str) -> dict[str, Any]:
    """The table itself, after refusing anything that is not a table or has unknown keys."""
    if not isinstance(table, dict):
        raise InputError(path, where, "expected a table")
    for key in table:
        if key not in allowed:
            here = f"{where}.{key}" if where else key
            raise InputError(
                path, here, f"unknown key{did_you_mean(key, allowed)}; expected one of: {', '.join(allowed)}"
            )
    return table


def string(table: dict[str, Any], key: str, path: Path, where: str, default: str | None = None) -> str | None:
    value = table.get(key, default)
    if value is not None and not isinstance(value, str):
        raise InputError(path, f"{where}.{key}", f"expected a string, found {type(value).__name__}")
    return value


def string_list(table: dict[str, Any], key: str, path: Path, where: str) -> list[str] | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(path, f"{where}.{key}", "expected an array of strings")
    return value


def parse_cutoff(value: Any, path: Path | str, key: str) -> str:
    """An RFC 3339 instant, normalised to `YYYY-MM-DDTHH:MM:SSZ` in UTC."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(
                path, key, f'expected an RFC 3339 time such as "2024-12-28T00:00:00Z", found {value!r}'
            ) from None
    else:
        raise InputError(path, key, 'expected an RFC 3339 time such as "2024-12-28T00:00:00Z"')
    if moment.tzinfo is None:
        raise InputError(path, key, "expected a time zone (end the time with Z for UTC)")
    return instant(moment)
