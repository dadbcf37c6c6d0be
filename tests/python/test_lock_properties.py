"""Properties of the lock model and the intent hash (hypothesis)."""

from __future__ import annotations

import dataclasses
import tomllib

from hypothesis import given, settings
from hypothesis import strategies as st

from imagelock import domains
from imagelock.intent.document import intent_hash
from imagelock.lock import codec as lockfile
from imagelock.lock.model import Lock, PythonIndex, PythonLayer, PythonPackage, Universe, Wheel

names = st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True)
versions = st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}(\+cu12[0-9])?", fullmatch=True)
hexes = st.from_regex(r"[0-9a-f]{64}", fullmatch=True)
# Any text a valid lock may hold: every character but surrogates and control characters (which the lock
# validator refuses, tests/hostile/test_untrusted.py).
text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
urls = st.builds(lambda t: "https://h.example/" + t, text)

wheels = st.builds(
    Wheel,
    filename=text,
    url=urls,
    sha256=hexes,
    size=st.one_of(st.none(), st.integers(0, 2**40)),
    upload_time=st.one_of(st.none(), text),
)
packages = st.builds(
    PythonPackage,
    name=names,
    version=versions,
    index=names,
    requested=st.booleans(),
    wheel=wheels,
    original=st.one_of(st.none(), text),
    dependencies=st.lists(names, max_size=4),
)
layers = st.builds(
    PythonLayer,
    version=st.just("3.11"),
    platform=text,
    venv=text,
    engine=st.just("uv"),
    indexes=st.lists(
        st.builds(PythonIndex, name=names, url=urls, packages=st.lists(names, max_size=3), default=st.booleans()),
        max_size=3,
        unique_by=lambda i: i.name,
    ),
    packages=st.lists(packages, max_size=6, unique_by=lambda p: p.name),
)
locks = st.builds(
    Lock,
    name=names,
    intent_sha256=hexes,
    universe=st.builds(Universe, cutoff=text, source=st.sampled_from(["intent", "update-time"])),
    layers=st.one_of(st.just({}), st.builds(lambda layer: {"python": layer}, layers)),
)


@settings(max_examples=60, deadline=None)
@given(locks)
def test_write_read_write_is_identity(lock: Lock) -> None:
    first = lockfile.dumps(lock)
    parsed, claimed = domains.loads_lock(first, "x.lock")
    assert claimed == parsed.digest()
    assert lockfile.dumps(parsed) == first


@settings(max_examples=60, deadline=None)
@given(locks, st.data())
def test_digest_changes_when_any_locked_field_changes(lock: Lock, data: st.DataObject) -> None:
    if lock.python is None or not lock.python.packages:
        return
    before = lock.digest()
    package = data.draw(st.sampled_from(lock.python.packages))
    field = data.draw(st.sampled_from(["version", "sha256", "size", "url", "requested"]))
    if field in ("sha256", "size", "url"):
        old = getattr(package.wheel, field)
        if field == "sha256":
            new = "0" * 64 if old != "0" * 64 else "1" * 64
        elif field == "size":
            new = (old or 0) + 1
        else:
            new = f"{old}x"
        package.wheel = dataclasses.replace(package.wheel, **{field: new})
    elif field == "version":
        package.version = package.version + ".1"
    else:
        package.requested = not package.requested
    assert lock.digest() != before


toml_values = st.recursive(
    st.one_of(st.integers(-(10**6), 10**6), st.booleans(), st.text(max_size=10)),
    lambda children: st.lists(children, max_size=3),
    max_leaves=8,
)
tables = st.dictionaries(
    st.from_regex(r"[a-z]{1,6}", fullmatch=True),
    st.one_of(toml_values, st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), toml_values, max_size=4)),
    max_size=5,
)


def _toml(table: dict, reverse: bool) -> str:
    import tomli_w

    def order(value):
        if isinstance(value, dict):
            keys = sorted(value, reverse=reverse)
            return {k: order(value[k]) for k in keys}
        return value

    return tomli_w.dumps(order(table))


@settings(max_examples=150, deadline=None)
@given(tables)
def test_intent_hash_ignores_key_order_and_line_endings(table: dict) -> None:
    forward = _toml(table, reverse=False)
    backward = _toml(table, reverse=True).replace("\n", "\r\n")
    assert intent_hash(tomllib.loads(forward)) == intent_hash(tomllib.loads(backward))
