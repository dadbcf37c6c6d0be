"""Lock paths: one value of a lock named by where it is in the lock file, for any domain.

    nvidia.driver-version                 a key of a layer that is one table
    files[/opt/efa/installer.tar.gz].url  an entry of a list, by its identity (its `dest`)
    python.packages[torch].wheel.sha256   nested tables, as `[python.packages.wheel]` holds them
    apt.packages[dkms:amd64].version      a two-field identity joined by ':' (or its first field when unique)
    nvidia.install-flags                  a list of plain values is one value too

A path walks the lock's own dataclasses by the keys the lock file writes (kebab-case),
and picks a list's entry by the identity the lock validator uses
(imagelock.lock.validate.IDENTITY), so every domain's entries are addressable
without a line for any of them. An entry type with no identity is picked by position,
`[0]`. What a path names must be a value the lock records: a string, an integer,
true or false, or a list of those; a table, or a key the lock leaves out, is an error.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from imagelock.lock.model import Lock
from imagelock.lock.validate import IDENTITY

Scalar = str | int | bool
Value = Scalar | list[Scalar]

_KEY = r"[a-z0-9][a-z0-9-]*"
_STEP = re.compile(rf"\.({_KEY})|\[([^\]\x00-\x1f\x7f]+)\]")
_FIRST = re.compile(_KEY)


class PathError(ValueError):
    """A lock path that is malformed, or names nothing in this lock; the message says what is there."""


@dataclass(frozen=True)
class LockPath:
    """A parsed lock path: its text and its steps, each a key ("key", name) or a selector ("select", text)."""

    text: str
    steps: tuple[tuple[str, str], ...]

    def __str__(self) -> str:
        return self.text


def parse(text: str) -> LockPath:
    """`nvidia.driver-version` -> its steps; a PathError says where the grammar breaks."""
    first = _FIRST.match(text)
    if not first:
        raise PathError(f"{text!r} is not a lock path: it starts with a layer name, such as nvidia.driver-version")
    steps: list[tuple[str, str]] = [("key", first.group(0))]
    at = first.end()
    while at < len(text):
        step = _STEP.match(text, at)
        if not step:
            raise PathError(
                f"{text!r} is not a lock path at {text[at:]!r}: expected .key (lower-case, as the lock file "
                "writes it) or [entry]"
            )
        steps.append(("key", step.group(1)) if step.group(1) is not None else ("select", step.group(2)))
        at = step.end()
    return LockPath(text, tuple(steps))


def resolve(lock: Lock, path: LockPath) -> Value:
    """The value at `path` in `lock`; a PathError names the path, the step that finds nothing and what is there."""
    try:
        return _walk(lock, path)
    except PathError as error:
        raise PathError(f"{path}: {error}") from None


def _walk(lock: Lock, path: LockPath) -> Value:
    where = path.steps[0][1]
    node: Any = lock.layers.get(where)
    if node is None or node == []:
        have = ", ".join(name for name, layer in lock.layers.items() if layer not in (None, []))
        raise PathError(f"the lock has no {where} layer (it has: {have or 'none'})")
    for kind, name in path.steps[1:]:
        if kind == "key":
            node = _key(node, name, where)
            where = f"{where}.{name}"
        else:
            node = _select(node, name, where)
            where = f"{where}[{name}]"
    return _value(node, where)


def _key(node: Any, name: str, where: str) -> Any:
    if not (dataclasses.is_dataclass(node) and not isinstance(node, type)):
        raise PathError(f"{where} is {_what(node)}, which has no key {name!r}")
    keys = _keys(node)
    if name not in keys:
        raise PathError(f"{where} has no {name!r}; it has: {', '.join(keys) or 'nothing'}")
    return getattr(node, keys[name])


def _keys(node: Any) -> dict[str, str]:
    """The keys the lock file writes for this entry (what it records), to their field names."""
    return {
        f.name.replace("_", "-"): f.name
        for f in dataclasses.fields(node)
        if getattr(node, f.name) is not None and getattr(node, f.name) != []
    }


def _select(node: Any, selector: str, where: str) -> Any:
    if not isinstance(node, list):
        raise PathError(f"{where} is {_what(node)}, not a list to pick [{selector}] from")
    fields = IDENTITY.get(type(node[0])) if node and dataclasses.is_dataclass(node[0]) else None
    if not fields:
        if selector.isdigit() and int(selector) < len(node):
            return node[int(selector)]
        raise PathError(
            f"{where} has no entry [{selector}]: its entries are picked by position, [0] to [{len(node) - 1}]"
        )
    names = [":".join(str(getattr(entry, f)) for f in fields) for entry in node]
    exact = [entry for entry, name in zip(node, names, strict=True) if name == selector]
    if exact:
        return exact[0]  # the validator allows each identity once
    first = [entry for entry in node if str(getattr(entry, fields[0])) == selector]
    if len(first) == 1:
        return first[0]
    if first:
        which = ", ".join(n for n in names if n.split(":", 1)[0] == selector)
        raise PathError(f"{where}[{selector}] is ambiguous: it matches {len(first)} entries ({which}); name one")
    key = "-".join(f.replace("_", "-") for f in fields)
    sample = ", ".join(sorted(names)[:5]) + (", ..." if len(names) > 5 else "")
    raise PathError(f"{where} has no entry whose {key} is {selector!r}; it has: {sample or 'none'}")


def _value(node: Any, where: str) -> Value:
    if isinstance(node, (str, int, bool)):
        return node
    if isinstance(node, list) and all(isinstance(x, (str, int, bool)) for x in node):
        return list(node)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        raise PathError(f"{where} is a table, not a value; name one of its keys: {', '.join(_keys(node))}")
    raise PathError(f"{where} is {_what(node)}, not a value; pick one entry with [...]")


def _what(node: Any) -> str:
    if isinstance(node, list):
        return "a list"
    if dataclasses.is_dataclass(node):
        return "a table"
    return f"the value {node!r}"
