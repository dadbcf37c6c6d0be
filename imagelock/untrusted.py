"""Reading what imagelock did not write: intents, locks, facts from machines, recorded snapshots.

Each is read through one bounded reader: a regular file only (a FIFO would block, `/dev/zero` never
ends, a directory is no file), at most a size limit, and parsed documents at most a nesting depth.
Every refusal is one InputError naming the file (and the key where there is one), so a hostile or
broken file costs one line and exit 2, never a hang, a traceback or a RecursionError.
"""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path
from typing import Any

from imagelock.errors import InputError

MAX_BYTES = 64 * 1024 * 1024  # the seed's lock is 0.2 MiB and a fleet machine's facts ~1 MiB
MAX_DEPTH = 32  # no document imagelock reads nests deeper than 8


def read_bytes(path: str | Path, missing: str, limit: int = MAX_BYTES) -> bytes:
    """A regular file's bytes, at most `limit`; `missing` says what to do when there is no such file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise InputError(path, None, missing) from None
    except IsADirectoryError:
        raise InputError(path, None, "is a directory, not a file") from None
    except OSError as exc:
        raise InputError(path, None, f"cannot be read ({exc.strerror or exc.__class__.__name__})") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputError(path, None, "is a directory, not a file")
        if not stat.S_ISREG(mode):
            raise InputError(path, None, "is not a regular file (a pipe, socket or device is not read)")
        with os.fdopen(fd, "rb", closefd=False) as stream:
            data = stream.read(limit + 1)
    except OSError as exc:
        raise InputError(path, None, f"cannot be read ({exc.strerror or exc.__class__.__name__})") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise InputError(path, None, f"is larger than {limit} bytes: refused")
    return data


def read_text(path: str | Path, missing: str, limit: int = MAX_BYTES) -> str:
    """A regular UTF-8 text file, bounded as read_bytes."""
    try:
        return read_bytes(path, missing, limit).decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(path, None, "is not UTF-8 text") from None


def check_depth(value: Any, path: str | Path, limit: int = MAX_DEPTH) -> Any:
    """`value` unchanged, unless tables and arrays nest deeper than `limit` (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            raise InputError(path, None, f"nests tables or arrays deeper than {limit} levels: refused")
        stack.extend((child, depth + 1) for child in children)
    return value


def load_toml(text: str, path: str | Path) -> dict[str, Any]:
    """TOML text -> a table no deeper than MAX_DEPTH; one InputError otherwise."""
    try:
        return check_depth(tomllib.loads(text), path)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, None, f"not valid TOML ({exc})") from None
    except RecursionError:
        raise InputError(path, None, f"nests tables or arrays deeper than {MAX_DEPTH} levels: refused") from None


def load_json(text: str | bytes, path: str | Path, expected: str) -> Any:
    """JSON text -> a value no deeper than MAX_DEPTH; `expected` names what the file should be."""
    try:
        return check_depth(json.loads(text), path)
    except json.JSONDecodeError as exc:
        raise InputError(path, None, f"not valid JSON ({exc.msg} at line {exc.lineno}); expected {expected}") from None
    except (ValueError, TypeError) as exc:  # bytes that are not UTF-8, a number too long
        raise InputError(path, None, f"not valid JSON ({exc.__class__.__name__}); expected {expected}") from None
    except RecursionError:
        raise InputError(path, None, f"nests arrays or objects deeper than {MAX_DEPTH} levels: refused") from None
