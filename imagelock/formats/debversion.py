"""Debian version comparison, exactly as dpkg does it (lib/dpkg/version.c).

apt and dpkg agree on this algorithm; any disagreement here would make the
lock pick a version apt would not, so it is tested against `dpkg
--compare-versions` itself.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

# Policy 5.6.12: [epoch:]upstream[-revision]; upstream starts with a digit.
_VALID = re.compile(r"^(?:[0-9]+:)?[0-9][A-Za-z0-9.+~-]*(?:-[A-Za-z0-9.+~]+)?$")


class Version(NamedTuple):
    epoch: int
    upstream: str
    revision: str


def is_valid(text: str) -> bool:
    """True when dpkg would accept the version (used for intent checking, not ordering)."""
    return bool(_VALID.match(text)) and not text.endswith("-")


@functools.lru_cache(maxsize=65536)
def parse(text: str) -> Version:
    """Split into epoch, upstream and revision the way dpkg's parseversion does."""
    text = text.strip()
    epoch = 0
    colon = text.find(":")
    if colon > 0 and text[:colon].isdigit():
        epoch = int(text[:colon])
        text = text[colon + 1 :]
    hyphen = text.rfind("-")
    if hyphen >= 0:
        return Version(epoch, text[:hyphen], text[hyphen + 1 :])
    return Version(epoch, text, "")


def _order(char: str) -> int:
    if char.isdigit():
        return 0
    if char.isalpha():
        return ord(char)
    if char == "~":
        return -1
    if char:
        return ord(char) + 256
    return 0


def _verrevcmp(a: str, b: str) -> int:
    i = j = 0
    la, lb = len(a), len(b)
    while i < la or j < lb:
        first_diff = 0
        while (i < la and not a[i].isdigit()) or (j < lb and not b[j].isdigit()):
            ac = _order(a[i]) if i < la else 0
            bc = _order(b[j]) if j < lb else 0
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        while i < la and a[i] == "0":
            i += 1
        while j < lb and b[j] == "0":
            j += 1
        while i < la and a[i].isdigit() and j < lb and b[j].isdigit():
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < la and a[i].isdigit():
            return 1
        if j < lb and b[j].isdigit():
            return -1
        if first_diff:
            return first_diff
    return 0


@functools.lru_cache(maxsize=262144)
def compare(a: str, b: str) -> int:
    """<0, 0 or >0 as a sorts before, equal to, or after b."""
    if a == b:
        return 0
    va, vb = parse(a), parse(b)
    if va.epoch != vb.epoch:
        return -1 if va.epoch < vb.epoch else 1
    result = _verrevcmp(va.upstream, vb.upstream)
    if result:
        return result
    return _verrevcmp(va.revision, vb.revision)


key = functools.cmp_to_key(compare)


def satisfies(version: str, op: str, wanted: str) -> bool:
    """Does `version` satisfy `(op wanted)`?"""
    c = compare(version, wanted)
    if op == ">=" or op == ">":
        return c >= 0
    if op == "<=" or op == "<":
        return c <= 0
    if op == "=":
        return c == 0
    if op == ">>":
        return c > 0
    if op == "<<":
        return c < 0
    raise ValueError(f"unknown relation operator {op!r}")
