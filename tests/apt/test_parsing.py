"""Relationship fields and Packages indexes, parsed as apt reads them."""

from __future__ import annotations

import pytest

from imagelock.domains.apt.packages_index import parse
from imagelock.domains.apt.relations import Relation, RelationError, format_group, parse_relations
from imagelock.domains.apt.universe import Universe
from imagelock.errors import UpstreamError


def test_relations() -> None:
    groups = parse_relations(
        "libc6 (>= 2.34), gcc | clang:any (<< 15), python3:native, foo [amd64] <!nocheck>, bar (> 1), baz (< 2)"
    )
    assert groups == (
        (Relation("libc6", None, ">=", "2.34"),),
        (Relation("gcc", None, None, None), Relation("clang", "any", "<<", "15")),
        (Relation("python3", "native", None, None),),
        (Relation("foo", None, None, None),),
        (Relation("bar", None, ">=", "1"),),  # obsolete '>' means '>='
        (Relation("baz", None, "<=", "2"),),
    )
    assert format_group(groups[1]) == "gcc | clang:any (<< 15)"
    assert parse_relations("") == ()
    assert parse_relations("a-b (=1.0),\n c+d") == (
        (Relation("a-b", None, "=", "1.0"),),
        (Relation("c+d", None, None, None),),
    )


@pytest.mark.parametrize("bad", ["foo (>= )", "foo (~ 1)", "(>= 1)", "foo bar"])
def test_bad_relations(bad: str) -> None:
    with pytest.raises(RelationError):
        parse_relations(bad)


INDEX = """Package: gcc
Architecture: amd64
Version: 4:12.2.0-3
Multi-Arch: allowed
Priority: optional
Depends: cpp (= 4:12.2.0-3),
 cpp-12 (>= 12.2.0-1~)
Description: GNU C compiler
 Package: not-a-field
 Version: 0
Filename: pool/main/g/gcc-defaults/gcc_12.2.0-3_amd64.deb
Size: 5196
SHA256: 0d0d5e1a0d3e7e7dd1ea6cfb6fe2a8b2a1dd24d3c2b5ef2bbfbd3f0bb25b4eb1
Installed-Size: 50
Package-List: ignored

Package: base-files
Essential: yes
Priority: required
Version: 12.4+deb12u9
Architecture: amd64
Provides: base
Filename: pool/main/b/base-files/base-files_12.4+deb12u9_amd64.deb
Size: 70000
SHA256: aa
"""


def test_packages_index() -> None:
    gcc, base = parse([INDEX], "bookworm", "test index")
    assert (gcc.name, gcc.version, gcc.arch, gcc.multi_arch) == ("gcc", "4:12.2.0-3", "amd64", "allowed")
    assert gcc.depends == "cpp (= 4:12.2.0-3), cpp-12 (>= 12.2.0-1~)"
    assert gcc.size == 5196 and gcc.filename.endswith("gcc_12.2.0-3_amd64.deb") and gcc.suite == "bookworm"
    assert gcc.sha256 == "0d0d5e1a0d3e7e7dd1ea6cfb6fe2a8b2a1dd24d3c2b5ef2bbfbd3f0bb25b4eb1"
    assert base.essential and base.priority == "required" and base.provides == "base"
    assert (base.multi_arch, base.depends, gcc.provides, gcc.essential) == ("no", "", "", False)


def test_stanzas_split_across_chunks_read_as_one_text() -> None:
    """The reader hands over chunks that end between stanzas; any such split parses as the whole text."""
    whole = parse([INDEX], "bookworm", "test index")
    cut = INDEX.index("\n\n") + 2
    assert parse([INDEX[:cut], INDEX[cut:]], "bookworm", "test index") == whole
    assert parse([], "bookworm", "test index") == []


def test_stanza_without_hash_is_refused() -> None:
    text = "Package: x\nVersion: 1\nArchitecture: all\nFilename: pool/x.deb\nSize: 1\n"
    with pytest.raises(UpstreamError, match="test index: stanza of x has no SHA256 field"):
        parse([text], "s", "test index")


def test_bad_size_is_refused() -> None:
    text = "Package: x\nVersion: 1\nArchitecture: all\nFilename: pool/x.deb\nSize: big\nSHA256: aa\n"
    with pytest.raises(UpstreamError, match="bad Size"):
        parse([text], "s", "test index")


def _entry(name: str, version: str, provides: str) -> str:
    return (
        f"Package: {name}\nVersion: {version}\nArchitecture: amd64\nProvides: {provides}\n"
        f"Filename: pool/{name}_{version}.deb\nSize: 1\nSHA256: aa\n\n"
    )


def test_providers_give_each_provided_version_grouped_by_package() -> None:
    """Every (version, provided version) pair, a package's versions together, as apt's cache lists them."""
    text = _entry("a", "1", "x (= 1), y") + _entry("b", "1", "x") + _entry("a", "2", "x (= 2), x (= 2.1)")
    universe = Universe(parse([text], "s", "test index"), ["amd64"])
    found = [(s.name, s.version, provided) for s, provided in universe.providers("x")]
    assert found == [("a", "1", "1"), ("a", "2", "2"), ("a", "2", "2.1"), ("b", "1", None)]
    assert [(s.name, pv) for s, pv in universe.providers("y")] == [("a", None)]
    assert universe.providers("z") == []
