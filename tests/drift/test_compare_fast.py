"""Property: the clean-machine fast paths never change a finding, and validate's C-level checks never an error.

Each layer of a facts document is first checked for "nothing to report" by one equality
in C (compare._apt_clean, _python_clean, _folder_clean); the full comparison runs only
when that says no. Here both are run on the same perturbed documents, with the fast
paths on and forced off, and must give the same findings.
"""

from __future__ import annotations

import random
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imagelock.drift import compare as drift
from imagelock.drift.compare import LockIndex, compare, validate
from imagelock.drift.synthetic import facts_for
from imagelock.errors import InputError
from imagelock.lock.model import (
    AptLayer,
    AptPackage,
    Lock,
    Model,
    ModelFile,
    PythonLayer,
    PythonPackage,
    Universe,
    Wheel,
)

# libc6 is locked for two arches: the fast path must handle a name on two locked rows.
APT = [
    ("base-files", "12.4", "amd64"),
    ("dkms", "2.8.7-2", "all"),
    ("libc6", "2.36-9", "amd64"),
    ("libc6", "2.36-9", "i386"),
    ("python3.11", "3.11.2-6", "amd64"),
    ("zlib1g", "1:1.2.13", "amd64"),
]
PYTHON = [
    ("filelock", "3.18.0"),
    ("markupsafe", "2.1.5"),
    ("torch", "2.5.1+cu124"),
    ("typing-extensions", "4.12.2"),
    ("pip", "24.0"),
]
MODELS = {"/models/a": [("config.json", 900), ("model.safetensors", 2_600_000)], "/models/b": [("tokenizer.json", 7)]}


def fast_lock() -> Lock:
    lock = Lock(name="fast", intent_sha256="0" * 64, universe=Universe(cutoff="2025-01-01T00:00:00Z", source="intent"))
    lock.apt = AptLayer(
        archive="http://deb.debian.org/debian",
        keyring_sha256="0" * 64,
        packages=[
            AptPackage(name=n, version=v, arch=a, filename="f", sha256="0" * 64, size=1, suite="bookworm")
            for n, v, a in APT
        ],
    )
    lock.python = PythonLayer(
        version="3.11",
        platform="x86_64-manylinux_2_35",
        venv="/opt/venv",
        engine="uv",
        packages=[
            PythonPackage(n, v, "pypi", True, Wheel(f"{n}.whl", "https://x.invalid/w", "0" * 64)) for n, v in PYTHON
        ],
    )
    lock.models = [
        Model(
            repo=f"org/{dest[-1]}",
            revision="main",
            commit="1" * 40,
            dest=dest,
            files=[ModelFile(path=p, sha256=f"{i:064x}", size=s) for i, (p, s) in enumerate(files)],
        )
        for dest, files in MODELS.items()
    ]
    return lock


def perturb_apt(rows: list[list[str]], rng: random.Random) -> None:
    row = rng.choice(rows)
    kind = rng.choice(["bump", "remove", "other-arch", "half", "duplicate", "unlocked", "shuffle"])
    if kind == "bump":
        row[1] += "+1"
    elif kind == "remove":
        rows.remove(row)
    elif kind == "other-arch":
        rows.append([row[0], row[1], rng.choice(["i386", "arm64", "amd64", "all"])])
    elif kind == "half" and len(row) == 3:
        row.append("half-configured")
    elif kind == "duplicate":
        rows.append(list(row))
    elif kind == "unlocked":
        rows.append([rng.choice(["base-pkg-x", "aaa", "zzz"]), "1.0", "amd64"])
    else:
        rng.shuffle(rows)


def perturb_python(dists: list[dict[str, Any]], rng: random.Random) -> None:
    dist = rng.choice(dists)
    kind = rng.choice(["bump", "same-meaning", "remove", "extra", "seed", "twice", "spelling"])
    if kind == "bump":
        dist["version"] += ".post1"
    elif kind == "same-meaning":
        dist["version"] += ".0" if "+" not in dist["version"] else ""  # 3.18.0 -> 3.18.0.0: equal by PEP 440
    elif kind == "remove":
        dists.remove(dist)
    elif kind == "extra":
        dists.append({"name": "Flash_Attn", "version": "2.7.0"})
    elif kind == "seed":
        dists.append({"name": rng.choice(["setuptools", "wheel", "pip"]), "version": "68.0"})
    elif kind == "twice":
        dists.append({"name": dist["name"], "version": rng.choice([dist["version"], "0.1"])})
    else:
        dist["name"] = dist["name"].replace("-", "_").title()  # MarkupSafe, Typing_Extensions: the same by PEP 503


def perturb_models(folders: list[dict[str, Any]], rng: random.Random) -> None:
    folder = rng.choice(folders)
    kind = rng.choice(["size", "remove", "extra", "hash", "wrong-hash", "twice", "gone"])
    item = rng.choice(folder["files"]) if folder["files"] else None
    if kind == "gone":
        folder["exists"] = False
        folder["files"] = []
    elif item is None or kind == "extra":
        folder["files"].append({"path": "extra.bin", "size": 1})
    elif kind == "size":
        item["size"] += 1
    elif kind == "remove":
        folder["files"].remove(item)
    elif kind == "hash":
        locked = {f.path: f.sha256 for m in fast_lock().models for f in m.files}
        item["sha256"] = locked.get(item["path"], "0" * 64)
    elif kind == "wrong-hash":
        item["sha256"] = "f" * 64
    else:
        folder["files"].append(dict(item, size=item["size"] + rng.choice([0, 1])))


def full_only(index: LockIndex, facts: dict[str, Any]) -> list[drift.Finding]:
    """The findings with every fast path answering no: the full comparison alone."""
    with mock.patch.multiple(
        drift, _apt_clean=lambda *_: False, _python_clean=lambda *_: False, _folder_clean=lambda *_: False
    ):
        return compare(index, facts)


@settings(max_examples=400, deadline=None)
@given(seed=st.integers(0, 2**32), changes=st.integers(0, 4), strict=st.booleans(), deep=st.booleans())
def test_fast_paths_give_the_findings_of_the_full_comparison(seed: int, changes: int, strict: bool, deep: bool) -> None:
    rng = random.Random(seed)
    index = LockIndex(fast_lock(), strict_apt=strict)
    facts = facts_for(index.lock, base_packages=rng.randrange(4), seed=seed)
    facts["deep"] = deep
    for _ in range(changes):
        layer = rng.choice([perturb_apt, perturb_python, perturb_models])
        target = {
            perturb_apt: facts["dpkg"],
            perturb_python: facts["python"]["distributions"],
            perturb_models: facts["models"],
        }[layer]
        layer(target, rng)
    validate(facts, "facts")
    assert compare(index, facts) == full_only(index, facts)


def test_a_clean_document_takes_every_fast_path() -> None:
    """So the property above compares two different paths, not one path with itself."""
    index = LockIndex(fast_lock())
    facts = facts_for(index.lock, base_packages=50)
    have = {drift.normalize(d["name"]): d["version"] for d in facts["python"]["distributions"]}
    assert drift._apt_clean(index, [row for row in facts["dpkg"] if row[0] in index.apt_names])
    assert drift._python_clean(index, have)
    assert all(
        drift._folder_clean(sizes, folder["files"])
        for (_, _, _, sizes), folder in zip(index.models, facts["models"], strict=True)
    )


def test_each_fast_path_says_no_to_a_change_it_cannot_judge() -> None:
    index = LockIndex(fast_lock())
    facts = facts_for(index.lock)
    owned = [row for row in facts["dpkg"] if row[0] in index.apt_names]
    assert not drift._apt_clean(index, [*owned, ["libc6", "2.36-9", "arm64"]])  # a third arch of a locked name
    assert not drift._apt_clean(index, owned[::-1])  # not in the collector's order
    assert not drift._python_clean(index, {"filelock": "3.18.0.0"})  # equal by PEP 440: the full path decides
    assert not drift._folder_clean({"config.json": 900}, [{"path": "config.json", "size": 900, "sha256": "0" * 64}])


def reference_validate_rows(rows: list[Any]) -> str | None:
    """validate's per-row check, one row at a time (what it was before its C-level fast check)."""
    for i, row in enumerate(rows):
        if not (isinstance(row, list) and 3 <= len(row) <= 4 and all(isinstance(x, str) for x in row)):
            return f"dpkg[{i}]"
    return None


JUNK = st.one_of(
    st.text(max_size=3),
    st.integers(),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.lists(st.text(max_size=2), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)
ROW = st.one_of(st.lists(st.text(max_size=4), min_size=3, max_size=4), st.lists(JUNK, max_size=5), JUNK)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(ROW, max_size=8))
def test_validate_names_the_same_bad_row_as_the_row_by_row_check(rows: list[Any]) -> None:
    try:
        validate({"facts_version": 1, "dpkg": rows}, "facts")
        got = None
    except InputError as error:
        got = error.key
    assert got == reference_validate_rows(rows)


@pytest.mark.parametrize(
    "dists",
    [
        [{"name": "a", "version": "1"}, {"name": "b"}],
        [{"name": 1, "version": "1"}],
        [["a", "1"]],
        [{"name": "a", "version": None}],
    ],
)
def test_validate_refuses_a_malformed_distribution(dists: list[Any]) -> None:
    with pytest.raises(InputError) as error:
        validate({"facts_version": 1, "python": {"distributions": dists}}, "facts")
    assert error.value.key == "python.distributions"
