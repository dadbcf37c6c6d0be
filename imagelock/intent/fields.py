"""Strict readers for the values an intent holds: each error names the file, the key and what was expected."""

from __future__ import annotations

import datetime as dt
import re
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


# An http(s) URL as an intent may give one: no whitespace or control characters.
HTTP_URL = re.compile(r"^https?://[^\s\x00-\x1f\x7f]+$")


def http_url(
    table: dict[str, Any], key: str, path: Path, where: str, grammar: re.Pattern[str] = HTTP_URL
) -> str | None:
    """An optional http(s) URL; credentials in it are refused, since the lock would hold them."""
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not grammar.match(value):
        raise InputError(path, f"{where}.{key}", f"expected an http(s) URL, found {value!r}")
    if "@" in value.split("/", 3)[2]:
        raise InputError(path, f"{where}.{key}", "credentials do not belong in an intent: the lock would hold them")
    return value


def signed_sums(
    table: dict[str, Any], path: Path, where: str, grammar: re.Pattern[str] = HTTP_URL
) -> tuple[str | None, str | None, Path | None]:
    """`sha256sums`, `signature` and `keyring` (a file relative to the intent), as `[[files]]` and
    `[output.base]` take them: a sums file only with the keyring that must have signed it."""
    sums_url = http_url(table, "sha256sums", path, where, grammar)
    signature_url = http_url(table, "signature", path, where, grammar)
    keyring = None
    if "keyring" in table:
        raw = table["keyring"]
        if not isinstance(raw, str):
            raise InputError(path, f"{where}.keyring", "expected the path of an OpenPGP keyring file")
        keyring = (path.parent / raw).resolve()
        if not keyring.is_file():
            raise InputError(path, f"{where}.keyring", f"no such keyring file {raw!r}")
    if sums_url is not None and keyring is None:
        raise InputError(
            path,
            f"{where}.keyring",
            "missing: a sha256sums file is trusted only with the keyring whose signature it carries",
        )
    if sums_url is None and (signature_url is not None or keyring is not None):
        raise InputError(path, f"{where}.sha256sums", "missing: signature and keyring check a sha256sums file")
    return sums_url, signature_url, keyring
