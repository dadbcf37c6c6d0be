"""Properties beside test_untrusted.py's: no input to an untrusted-format reader ends in a traceback.

There, random documents; here, the real ones (the collector's facts, the seed intent and lock) with one
value replaced, deleted or repeated, so that the examples reach past the first key into every check;
random text; random bytes from a machine; and random bytes and random JSON in every file of a recorded
snapshot, and in an index page as the replay serves it. A reader may refuse (an ImagelockError: one
line, exit 2) and must raise nothing else. 200 examples a property.
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile.hostile_support import SEED_INTENT, SEED_LOCK
from imagelock import domains
from imagelock.drift.compare import LockIndex, audit_text
from imagelock.drift.synthetic import facts_for
from imagelock.errors import ImagelockError
from imagelock.lock.model import AptSource
from imagelock.replay import aws as replay_aws
from imagelock.replay.server import ReplayServer, Snapshot

EXAMPLES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SNAPSHOT = SEED_LOCK.parents[1] / "snapshots" / "seed"

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20,
)
toml_scalars = st.one_of(
    st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False), st.text(max_size=12), st.datetimes()
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20,
)


# --- mutations of a real document ------------------------------------------------------------------


def _paths(value: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a document (the root excluded), by the keys and indices that lead to it."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield (*here, key)
        yield from _paths(child, (*here, key))


@st.composite
def mutated(draw: st.DrawFn, document: Any, values: st.SearchStrategy[Any]) -> Any:
    """The document with one place replaced by a random value, deleted, or (an array entry) repeated."""
    out = copy.deepcopy(document)
    path = draw(st.sampled_from(sorted(_paths(out), key=repr)))
    parent = out
    for key in path[:-1]:
        parent = parent[key]
    how = draw(st.sampled_from(["replace", "delete", "repeat"]))
    if how == "delete":
        del parent[path[-1]]
    elif how == "repeat" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[path[-1]]))
    else:
        parent[path[-1]] = draw(values)
    return out


def _small_lock_table() -> dict[str, Any]:
    """The seed lock with a few entries a layer, so each example parses in milliseconds."""
    table = tomllib.loads(SEED_LOCK.read_text())
    for layer, key in (("python", "packages"), ("apt", "packages"), ("apt", "sources"), ("python", "indexes")):
        table[layer][key] = table[layer][key][:3]
    table["models"] = table["models"][:1]
    table["models"][0]["files"] = table["models"][0]["files"][:3]
    return table


LOCK_TABLE = _small_lock_table()
INTENT_TABLE = tomllib.loads(SEED_INTENT.read_text())


def _toml(table: Any) -> str | None:
    try:
        return tomli_w.dumps(table)
    except (TypeError, ValueError):  # not a table, or a value TOML cannot hold: no document to feed
        return None


def _reads_or_refuses(read: Any, *args: Any) -> None:
    try:
        read(*args)
    except ImagelockError:
        pass


# --- facts ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def index() -> LockIndex:
    return LockIndex(domains.read_lock(SEED_LOCK)[0])


@EXAMPLES
@given(data=st.data())
def test_real_facts_with_one_value_changed_are_an_audit_never_a_traceback(index: LockIndex, data: Any) -> None:
    document = data.draw(mutated(facts_for(index.lock), json_values))
    result = audit_text(index, json.dumps(document), "worker")
    assert result.error is None or "\n" not in result.error


@EXAMPLES
@given(answer=st.binary(max_size=200))
def test_random_bytes_from_a_machine_are_an_audit_never_a_traceback(index: LockIndex, answer: bytes) -> None:
    assert audit_text(index, answer, "worker").error is not None


# --- intent and lock --------------------------------------------------------------------------------


@EXAMPLES
@given(text=st.text(max_size=300))
def test_random_text_as_an_intent_or_a_lock_is_refused_never_a_traceback(text: str) -> None:
    _reads_or_refuses(domains.loads_intent, text, "x.toml")
    _reads_or_refuses(domains.loads_lock, text, "x.lock")


@EXAMPLES
@given(data=st.data())
def test_the_seed_intent_with_one_value_changed_is_read_or_refused(data: Any) -> None:
    text = _toml(data.draw(mutated(INTENT_TABLE, toml_values)))
    if text is not None:
        _reads_or_refuses(domains.loads_intent, text, SEED_INTENT)


@EXAMPLES
@given(data=st.data())
def test_the_seed_lock_with_one_value_changed_is_read_or_refused(data: Any) -> None:
    text = _toml(data.draw(mutated(LOCK_TABLE, toml_values)))
    if text is not None:
        _reads_or_refuses(domains.loads_lock, text, "seed.lock")


# --- recorded snapshots -----------------------------------------------------------------------------

HUB_DOC = {
    "refs": {"main": "a" * 40},
    "answer": {
        "id": "org/model",
        "sha": "a" * 40,
        "siblings": [{"rfilename": "w.bin", "lfs": {"sha256": "0" * 64, "size": 1}}],
    },
}
RECORDED = {
    "snapshot.json": {"indexes": {"default": "pypi"}, "nvidia": "nvidia", "hf": "hf", "aws": "aws", "files": "files"},
    "pypi/upstream.json": {"six-1.17.0-py2.py3-none-any.whl": "https://files.example.org/six.whl"},
    "files/urls.json": {"https://example.org/tool.sh": "tool.sh"},
    "hf/org--model.json": HUB_DOC,
    "apt/provenance.json": {"suites": {"jammy": {"inrelease-sha256": "0" * 64, "indexes": []}}},
}
COPIED = {
    "nvidia/runfiles.json": SNAPSHOT / "nvidia" / "runfiles.json",
    "aws/images.json": SNAPSHOT / "aws" / "images.json",
    "pypi/pages/six.json": SNAPSHOT / "pypi" / "pages" / "six.json",
}


def _snapshot(root: Path) -> Path:
    """A small recorded snapshot, valid as written: every reader reads it without a refusal."""
    for name, document in RECORDED.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(json.dumps(document))
    for name, source in COPIED.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, root / name)
    (root / "files" / "tool.sh").write_text("#!/bin/sh\n")
    (root / "apt" / "upstream").mkdir(exist_ok=True)
    return root


def _read_snapshot(root: Path) -> None:
    """Everything a replay reads of a snapshot before it serves it, and the apt recording's provenance."""
    from imagelock.domains.apt.recording import upstream_sources

    snapshot = Snapshot.open(root)
    snapshot.recorded_files()
    snapshot.recorded_runfiles()
    snapshot.upstream_urls()
    snapshot.hub()
    replay_aws.Recording.open(root / "aws")
    source = AptSource(
        suite="jammy", uri="http://archive.example.org/ubuntu", components=[], architectures=[], inrelease_sha256=""
    )
    upstream_sources(root / "apt", [source], root / "keyring.gpg")


@pytest.fixture(scope="module")
def recorded() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="imagelock-hostile-") as folder:
        yield _snapshot(Path(folder))


def test_the_small_snapshot_is_valid(recorded: Path) -> None:
    """So the properties below start from a snapshot every reader accepts, and each refusal is the change's."""
    from imagelock.errors import VerificationError

    with pytest.raises(VerificationError, match="keeps no upstream InRelease"):  # the one file it leaves out
        _read_snapshot(recorded)


@EXAMPLES
@given(name=st.sampled_from(sorted([*RECORDED, *COPIED])), data=st.binary(max_size=300))
def test_random_bytes_in_any_recorded_file_are_refused_never_a_traceback(
    recorded: Path, name: str, data: bytes
) -> None:
    path = recorded / name
    kept = path.read_bytes()
    path.write_bytes(data)
    try:
        _reads_or_refuses(_read_snapshot, recorded)
    finally:
        path.write_bytes(kept)


@EXAMPLES
@given(name=st.sampled_from(sorted([*RECORDED, *COPIED])), document=json_values)
def test_random_json_in_any_recorded_file_is_refused_never_a_traceback(
    recorded: Path, name: str, document: Any
) -> None:
    path = recorded / name
    kept = path.read_bytes()
    path.write_text(json.dumps(document))
    try:
        _reads_or_refuses(_read_snapshot, recorded)
    finally:
        path.write_bytes(kept)


@pytest.fixture(scope="module")
def served(recorded: Path) -> Iterator[str]:
    """The small snapshot on loopback: the page's URL (the page is read at each request)."""
    with ReplayServer(Snapshot.open(recorded), port=0) as server:
        yield f"{server.index_url('pypi')}/six/"


@settings(EXAMPLES, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode())))
def test_a_random_recorded_page_is_served_as_an_error_never_a_traceback(
    recorded: Path, served: str, capfd: pytest.CaptureFixture[str], data: bytes
) -> None:
    page = recorded / "pypi" / "pages" / "six.json"
    kept = page.read_bytes()
    page.write_bytes(data)
    try:
        with urllib.request.urlopen(served, timeout=10) as answer:  # noqa: S310 - loopback
            status = answer.status
    except urllib.error.HTTPError as error:
        status = error.code
    finally:
        page.write_bytes(kept)
    assert status in (200, 502)
    assert "Traceback" not in capfd.readouterr().err
