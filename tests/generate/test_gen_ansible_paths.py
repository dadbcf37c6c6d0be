"""Lock paths address every value of every domain with no line per domain: each scalar (or list of scalars) a
lock records is reached by the path its place in the lock file spells, and only there."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from gen_sample import H
from test_gen_ansible import sample_lock

from imagelock.lock import paths
from imagelock.lock.model import DnfLayer, DnfPackage, DnfRepo, Lock
from imagelock.lock.validate import IDENTITY


def every_value(node: Any, where: str) -> Iterator[tuple[str, Any]]:
    """(path, value) for every value under `node`, spelled as the lock file places it."""
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if value is not None and value != []:
                yield from every_value(value, f"{where}.{f.name.replace('_', '-')}")
    elif isinstance(node, list) and node and dataclasses.is_dataclass(node[0]):
        fields = IDENTITY.get(type(node[0]))
        for i, entry in enumerate(node):
            selector = ":".join(str(getattr(entry, f)) for f in fields) if fields else str(i)
            yield from every_value(entry, f"{where}[{selector}]")
    else:
        yield where, node


def every_domain_lock() -> Lock:
    lock = sample_lock()
    lock.dnf = DnfLayer(
        releasever="2023.6.20241212",
        basearch="x86_64",
        repos=[DnfRepo("amazonlinux", "https://al2023.example.invalid/", H, "KEY", H, "repodata/p.xml.gz", H, 9)],
        packages=[
            DnfPackage("gcc14", "14.2.1", "3.amzn2023", "x86_64", "amazonlinux", "Packages/gcc14.rpm", H, 10),
            DnfPackage("kernel-devel", "6.1.0", "1.amzn2023", "x86_64", "amazonlinux", "Packages/k.rpm", H, 11, 1),
        ],
    )
    return lock


def test_every_value_of_every_layer_is_addressable() -> None:
    lock = every_domain_lock()
    found = 0
    for name, layer in lock.layers.items():
        for text, value in every_value(layer, name):
            assert paths.resolve(lock, paths.parse(text)) == value, text
            found += 1
    assert found > 100
    assert {
        text.split(".")[0].split("[")[0] for name in lock.layers for text, _ in every_value(lock.layers[name], name)
    } == {"python", "apt", "kernel", "dnf", "nvidia", "models", "files", "base"}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("dnf.packages[gcc14].version", "14.2.1"),
        ("dnf.packages[gcc14:x86_64].release", "3.amzn2023"),
        ("dnf.packages[kernel-devel].epoch", 1),
        ("dnf.repos[amazonlinux].baseurl", "https://al2023.example.invalid/"),
        ("base.amis[us-east-1].id", None),
    ],
)
def test_the_documented_forms(text: str, value: Any) -> None:
    lock = every_domain_lock()
    if value is None:  # whatever the sample holds: the path reaches it
        assert isinstance(paths.resolve(lock, paths.parse(text)), str)
    else:
        assert paths.resolve(lock, paths.parse(text)) == value


def test_a_name_two_arches_share_must_say_which() -> None:
    lock = every_domain_lock()
    assert lock.dnf is not None
    lock.dnf.packages.append(dataclasses.replace(lock.dnf.packages[0], arch="i686"))
    with pytest.raises(paths.PathError, match=r"dnf.packages\[gcc14\] is ambiguous: it matches 2 entries"):
        paths.resolve(lock, paths.parse("dnf.packages[gcc14].version"))
    assert paths.resolve(lock, paths.parse("dnf.packages[gcc14:i686].arch")) == "i686"
