"""What counts as a numbered name of a family, and which is newest: numbers compare as numbers (gcc14 over
gcc9), a family ending in a digit takes its numbers after a dot, companions take the same number."""

from __future__ import annotations

import pytest

from imagelock.domains.dnf.numbered import newest, number
from imagelock.intent.dnf import NEWEST_NUMBERED, DnfFamily


@pytest.mark.parametrize(
    ("family", "name", "expected"),
    [
        ("gcc", "gcc", ("", ())),
        ("gcc", "gcc14", ("14", (14,))),
        ("gcc", "gcc9", ("9", (9,))),
        ("lua", "lua5.4", ("5.4", (5, 4))),
        ("python3", "python3.12", (".12", (12,))),
        ("python3", "python39", None),  # after a digit, a number needs its dot
        ("gcc", "gcc-toolset-13", None),
        ("gcc", "gccgo", None),
        ("gcc", "gcc14-c++", None),  # a companion, not a member
        ("gcc", "libgcc14", None),
        ("python3", "python3.12.", None),
    ],
)
def test_number(family: str, name: str, expected: tuple[str, tuple[int, ...]] | None) -> None:
    assert number(family, name) == expected


def test_numbers_compare_as_numbers_and_companions_must_be_offered() -> None:
    gcc = DnfFamily("gcc", NEWEST_NUMBERED)
    assert newest(gcc, ["gcc", "gcc9", "gcc14", "gcc11"]) == ["gcc14"]
    with_cxx = DnfFamily("gcc", NEWEST_NUMBERED, ("gcc-c++",))
    offered = ["gcc", "gcc-c++", "gcc9", "gcc9-c++", "gcc14", "gcc15", "gcc15-devel"]
    assert newest(with_cxx, offered) == ["gcc9", "gcc9-c++"]  # gcc15 and gcc14 have no c++
    assert newest(with_cxx, ["gcc", "gcc-c++", "gcc14"]) == ["gcc", "gcc-c++"]
    assert newest(with_cxx, ["gcc14", "clang"]) is None
    python = DnfFamily("python3", NEWEST_NUMBERED, ("python3-pip",))
    assert newest(python, ["python3.9", "python3.9-pip", "python3.12", "python3.12-pip", "python39"]) == [
        "python3.12",
        "python3.12-pip",
    ]
