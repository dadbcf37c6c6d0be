"""`[dnf.choose] gcc = "newest-numbered"`: the habit of taking a family's highest-numbered package (gcc14
over gcc11 over gcc) written as intent, and resolved against the verified repository metadata to real names.

A family's numbered names are its name followed by a version: right after a name that ends in a letter
(gcc14, openssl3), after a dot for one that ends in a digit (python3.12, so that python39 is not taken for
python3 number 9). The family's own name is number nothing, below every number. Companions (`gcc-c++`)
take the chosen number at the same place (gcc14-c++, python3.12-pip); the choice is the highest number at
which the family's name and every companion are offered, so gcc15 without a gcc15-c++ is passed over.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from imagelock.errors import InputError
from imagelock.intent.dnf import DnfFamily
from imagelock.lock.model import DnfChoice

_AFTER_LETTER = r"([0-9]+(?:\.[0-9]+)*)"
_AFTER_DIGIT = r"(\.[0-9]+(?:\.[0-9]+)*)"


def number(family: str, name: str) -> tuple[str, tuple[int, ...]] | None:
    """`name`'s number in `family`, as written and as compared: ("14", (14,)) for gcc14 in gcc,
    (".12", (12,)) for python3.12 in python3, ("", ()) for the family's own name; None for another name."""
    if name == family:
        return "", ()
    if not name.startswith(family):
        return None
    pattern = _AFTER_DIGIT if family[-1:].isdigit() else _AFTER_LETTER
    match = re.fullmatch(pattern, name[len(family) :])
    if match is None:
        return None
    text = match.group(1)
    return text, tuple(int(part) for part in text.lstrip(".").split("."))


def names_at(family: DnfFamily, text: str) -> list[str]:
    """The family's name and its companions at one number: gcc14, gcc14-c++."""
    base = family.family
    return [base + text] + [base + text + companion[len(base) :] for companion in family.companions]


def newest(family: DnfFamily, offered: Iterable[str]) -> list[str] | None:
    """The highest number at which the family and all its companions are offered, as real names."""
    available = set(offered)
    numbered = [(found[1], found[0]) for name in available if (found := number(family.family, name)) is not None]
    for _, text in sorted(numbered, reverse=True):
        names = names_at(family, text)
        if all(name in available for name in names):
            return names
    return None


def _kept(family: DnfFamily, previous: list[DnfChoice], offered: set[str]) -> DnfChoice | None:
    """The previous lock's choice for the same family, rule and companions, if all its names are offered."""
    for choice in previous:
        same = (choice.family, choice.rule, tuple(choice.companions)) == (
            family.family,
            family.rule,
            family.companions,
        )
        if same and all(name in offered for name in choice.names):
            return choice
    return None


def choose(
    families: list[DnfFamily],
    offered: set[str],
    previous: list[DnfChoice],
    *,
    upgrade: bool,
    path: Path,
    releasever: str,
) -> list[DnfChoice]:
    """Each family's names: the previous lock's while still offered (until `--upgrade`), else the newest."""
    chosen = []
    for family in families:
        kept = None if upgrade else _kept(family, previous, offered)
        if kept is not None:
            chosen.append(kept)
            continue
        names = newest(family, offered)
        if names is None:
            also = f" with {', '.join(family.companions)} at the same number" if family.companions else ""
            raise InputError(
                path,
                family.key,
                f"no {family.family!r} or numbered {family.family!r} package{also} in the repositories at "
                f"releasever {releasever}",
            )
        chosen.append(DnfChoice(family.family, family.rule, names, list(family.companions)))
    return sorted(chosen, key=lambda c: c.family)
