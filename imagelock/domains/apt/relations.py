"""Parse relationship fields (Depends, Pre-Depends, Provides) into plain tuples.

Only what binary package resolution needs: or-groups of (name, arch qualifier,
operator, version). Architecture restriction lists (`[amd64]`) and build
profiles (`<!nocheck>`) belong to source packages and are dropped, as apt does
for binary indexes.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple


class Relation(NamedTuple):
    """One alternative: `name[:archqual] [(op version)]`."""

    name: str
    archqual: str | None
    op: str | None
    version: str | None

    def __str__(self) -> str:
        name = f"{self.name}:{self.archqual}" if self.archqual else self.name
        return f"{name} ({self.op} {self.version})" if self.op else name


Group = tuple[Relation, ...]

_ALT = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9+.\-]*)(?::(?P<arch>[A-Za-z0-9\-]+))?\s*"
    r"(?:\(\s*(?P<op><<|<=|=|>=|>>|<|>)\s*(?P<ver>[A-Za-z0-9][^\s)]*)\s*\))?\s*"
    r"(?:\[[^\]]*\]\s*)?(?:<[^>]*>\s*)*$"
)
_OBSOLETE = {"<": "<=", ">": ">="}


class RelationError(ValueError):
    """A relationship field that does not parse."""


@functools.lru_cache(maxsize=131072)
def parse_relations(field: str) -> tuple[Group, ...]:
    """`a (>= 1) | b, c` -> ((a>=1, b), (c,)). Cached: many packages share fields."""
    groups: list[Group] = []
    if not field:
        return ()
    for part in field.replace("\n", " ").split(","):
        if not part.strip():
            continue
        alts = []
        for alt in part.split("|"):
            match = _ALT.match(alt)
            if not match:
                raise RelationError(f"cannot parse relation {alt.strip()!r}")
            op = match["op"]
            alts.append(Relation(match["name"], match["arch"], _OBSOLETE.get(op, op) if op else None, match["ver"]))
        groups.append(tuple(alts))
    return tuple(groups)


def format_group(group: Group) -> str:
    return " | ".join(str(r) for r in group)
