"""Debian version order: ours must agree with `dpkg --compare-versions` on every input."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imagelock.formats.debversion import compare, is_valid, parse, satisfies

UPSTREAM_CHARS = "0123456789abcXYZ.+~"
REVISION_CHARS = "0123456789abuntu.+~"


@st.composite
def versions(draw: st.DrawFn) -> str:
    epoch = draw(st.one_of(st.just(""), st.integers(0, 3).map(lambda n: f"{n}:")))
    upstream = draw(st.integers(0, 9).map(str)) + draw(st.text(UPSTREAM_CHARS, max_size=8))
    revision = draw(st.one_of(st.just(""), st.text(REVISION_CHARS, min_size=1, max_size=8).map(lambda r: f"-{r}")))
    if revision and draw(st.booleans()):
        upstream += "-" + draw(st.text("0123456789a.", min_size=1, max_size=3))  # hyphen inside upstream
    return f"{epoch}{upstream}{revision}"


def dpkg_compare(a: str, b: str) -> int:
    def holds(op: str) -> bool:
        return subprocess.run(["dpkg", "--compare-versions", a, op, b], check=False).returncode == 0

    if holds("eq"):
        return 0
    return -1 if holds("lt") else 1


def sign(n: int) -> int:
    return (n > 0) - (n < 0)


@settings(max_examples=400, deadline=None)
@given(versions(), versions())
def test_agrees_with_dpkg(a: str, b: str) -> None:
    assert is_valid(a) and is_valid(b)
    assert sign(compare(a, b)) == dpkg_compare(a, b)


@settings(max_examples=150, deadline=None)
@given(versions())
def test_agrees_with_dpkg_on_near_neighbours(a: str) -> None:
    """Random pairs are mostly far apart; the interesting cases are one character away."""
    for b in (a + "~", a + "+", a + "0", a + ".", a + "a", a + "~~"):
        assert sign(compare(a, b)) == dpkg_compare(a, b), (a, b)


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("1.0~rc1", "1.0", -1),
        ("1.0", "1.0+b1", -1),
        ("1:0.9", "2.0", 1),
        ("2.8.7-2ubuntu2.2", "2.8.7-2ubuntu2", 1),
        ("5.15.0-105.115", "5.15.0-101.111", 1),
        ("1.0-1", "1.0-1", 0),
        ("0:1.0", "1.0", 0),
        ("1.0~~", "1.0~", -1),
        ("4:11.2.0-1ubuntu1", "4:11.2", 1),
        ("1.2.3", "1.02.3", 0),
    ],
)
def test_known_orders(a: str, b: str, expected: int) -> None:
    assert sign(compare(a, b)) == expected == dpkg_compare(a, b)


def test_parse_and_relations() -> None:
    assert parse("1:2.3-4-5") == (1, "2.3-4", "5")
    assert parse("2.3") == (0, "2.3", "")
    assert satisfies("1.3", ">=", "1.2") and not satisfies("2.1", "<<", "2.0") and satisfies("1.0", "=", "1.0")
    assert satisfies("1.0", "<=", "1.0") and satisfies("1.1", ">>", "1.0") and not satisfies("1.0", ">>", "1.0")


@pytest.mark.parametrize("text", ["a1", "", "1.0 ", "1.0-", "1_0", "x:1.0", "1.0/2"])
def test_invalid_versions(text: str) -> None:
    assert not is_valid(text)
