"""Untrusted files: one bounded reader for intents, locks, facts and recordings, and one lock validator
for every command. Each case is one line naming the file (and the key), exit 2, nothing written, and no
process left behind; random documents never give a traceback."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import string
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imagelock_testing import tree_digest

from imagelock import domains
from imagelock.drift.compare import LockIndex, audit
from imagelock.errors import ImagelockError
from imagelock.lock import codec
from imagelock.replay.server import ReplayServer, Snapshot

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "locks"
COMMANDS = {
    "check": lambda lock: ["check", "--lock", str(lock), str(lock.with_suffix(".toml"))],
    "generate": lambda lock: ["generate", str(lock), "-o", str(lock.parent / "out")],
    "mirror": lambda lock: ["mirror", str(lock), "--to", str(lock.parent / "mirror")],
    "drift": lambda lock: ["drift", str(lock), "--facts", str(lock.parent / "facts.json")],
    "diff": lambda lock: ["diff", str(lock), str(lock)],
}


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    """A copy of the shipped seed intent, lock and keys; returns the lock's path."""
    shutil.copytree(SEED, tmp_path / "locks")
    (tmp_path / "locks" / "facts.json").write_text('{"facts_version": 1}')
    return tmp_path / "locks" / "seed.lock"


def _rewrite(lock_path: Path, change) -> None:  # type: ignore[no-untyped-def]
    """Edit the parsed lock and write it back with its digest recomputed, as a careful forger would."""
    lock, _ = domains.read_lock(lock_path)
    change(lock)
    lock_path.write_text(codec.dumps(lock))


def _dup_python(lock) -> None:  # type: ignore[no-untyped-def]
    lock.python.packages.append(dataclasses.replace(lock.python.packages[0]))


def _dup_apt(lock) -> None:  # type: ignore[no-untyped-def]
    other = dataclasses.replace(lock.apt.packages[3], version="9:9.9")
    lock.apt.packages.append(other)


FORGERIES = {
    "file URL": (
        lambda lock: setattr(lock.python.packages[0].wheel, "url", "file:///etc/passwd"),
        "python.packages[0].wheel.url: expected an https, http or s3 URL, found scheme 'file'",
    ),
    "negative size": (
        lambda lock: setattr(lock.apt.packages[0], "size", -5),
        "apt.packages[0].size: expected a size in bytes (0 or more), found -5",
    ),
    "newline in a wheel filename": (
        lambda lock: setattr(lock.python.packages[1].wheel, "filename", "x.whl\nrm -rf /"),
        "python.packages[1].wheel.filename: contains a control character",
    ),
    "duplicate python package": (
        _dup_python,
        "duplicate entry (name = 'aiohappyeyeballs'), already at python.packages[0]",
    ),
    "duplicate apt package": (_dup_apt, "duplicate entry (name = "),
    "short sha256": (
        lambda lock: setattr(lock.nvidia, "sha256", "abc123"),
        "nvidia.sha256: expected a sha256 (64 lowercase hex digits), found 'abc123'",
    ),
    "upper-case sha256": (
        lambda lock: setattr(lock.models[0].files[1], "sha256", lock.models[0].files[1].sha256.upper()),
        "models[0].files[1].sha256: expected a sha256 (64 lowercase hex digits)",
    ),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_every_command_refuses_a_forged_lock(seed: Path, lock_cli, command: str, forgery: str) -> None:
    change, expected = FORGERIES[forgery]
    _rewrite(seed, change)
    before = tree_digest(seed.parent)
    run = lock_cli(*COMMANDS[command](seed))
    assert run.code == 2, run.out + run.err
    [line] = run.err.splitlines()
    assert line.startswith(f"lock: error: {seed}: ") and expected in line, line
    assert tree_digest(seed.parent) == before


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: os.mkfifo(p), "is not a regular file (a pipe, socket or device is not read)"),
        (lambda p: p.mkdir(), "is a directory, not a file"),
        (lambda p: p.write_text("a = " + "[" * 100_000 + "]" * 100_000), "nests tables or arrays deeper than 32"),
        (lambda p: p.write_bytes(b"name = '\xff'"), "is not UTF-8 text"),
    ],
)
@pytest.mark.parametrize("command", ["check", "update", "generate"])
def test_a_file_that_is_not_a_document_is_one_line(tmp_path: Path, lock_cli, make, expected: str, command: str) -> None:
    target = tmp_path / "image.toml"
    make(target)
    argv = {"check": ["check", str(target)], "update": ["update", str(target)], "generate": ["generate", str(target)]}
    start = time.monotonic()
    run = lock_cli(*argv[command])
    assert time.monotonic() - start < 10  # a FIFO is refused, not waited on
    assert run.code == 2
    [line] = run.err.splitlines()
    assert line == f"lock: error: {target}: {expected}" or (expected in line and str(target) in line)


def test_dev_zero_is_refused_at_once(lock_cli) -> None:
    start = time.monotonic()
    run = lock_cli("check", "/dev/zero")
    assert run.code == 2 and time.monotonic() - start < 5
    assert run.err.strip() == "lock: error: /dev/zero: is not a regular file (a pipe, socket or device is not read)"


def test_200000_requirements_fail_fast(tmp_path: Path, lock_cli) -> None:
    """An intent far beyond any real one is refused before any resolution, in seconds."""
    intent = tmp_path / "big.toml"
    reqs = ", ".join(f'"pkg{i}==1.0"' for i in range(200_000))
    intent.write_text(f'name = "big"\n[python]\nversion = "3.11"\nvenv = "/opt/v"\nrequirements = [{reqs}]\n')
    start = time.monotonic()
    run = lock_cli("update", str(intent))
    elapsed = time.monotonic() - start
    assert run.code == 2, run.err
    assert elapsed < 15, elapsed
    [line] = run.err.splitlines()
    assert line == f"lock: error: {intent}: python.requirements: 200000 requirements: at most 5000 are read"


# --- properties: random documents never give a traceback ------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
FACT_KEYS = [
    "facts_version",
    "complete",
    "dpkg",
    "python",
    "kernel",
    "nvidia",
    "models",
    "files",
    "fingerprint",
    "rpm",
    "containers",
    "hostname",
    "root",
    "errors",
    "deep",
]
facts_docs = st.dictionaries(st.sampled_from(FACT_KEYS), json_values, max_size=8).map(
    lambda d: {**d, "facts_version": d.get("facts_version", 1)}
)


@pytest.fixture(scope="module")
def seed_index() -> LockIndex:
    lock, _ = domains.read_lock(SEED / "seed.lock")
    return LockIndex(lock)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(facts=facts_docs | json_values)
def test_random_facts_are_audited_or_could_not_be(seed_index: LockIndex, facts: object) -> None:
    """One machine's facts never raise: they are compared, or that machine "could not be audited"."""
    result = audit(seed_index, facts, "machine-1")
    assert result.error is None or isinstance(result.error, str)


toml_keys = st.text(alphabet=string.ascii_lowercase + "-", min_size=1, max_size=10)
toml_values = st.recursive(
    st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(toml_keys, inner, max_size=3),
    max_leaves=12,
)
SECTIONS = [
    "name",
    "universe",
    "python",
    "apt",
    "kernel",
    "nvidia",
    "models",
    "base",
    "files",
    "dnf",
    "containers",
    "schema",
    "digest",
    "version",
    "intent-sha256",
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.dictionaries(st.sampled_from(SECTIONS), toml_values, max_size=6))
def test_random_toml_never_escapes_as_a_traceback(tmp_path: Path, doc: dict) -> None:
    import tomli_w

    target = tmp_path / "random.toml"
    target.write_text(tomli_w.dumps(doc))
    for read in (domains.read_intent, domains.read_lock):
        try:
            read(target)
        except ImagelockError:
            pass


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(max_size=300), name=st.sampled_from(["snapshot.json", "hf/a--b.json", "aws/images.json"]))
def test_random_bytes_in_a_recording_are_one_error(tmp_path: Path, blob: bytes, name: str) -> None:
    root = tmp_path / "snap"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    if name != "snapshot.json":
        (root / "snapshot.json").write_text(json.dumps({name.split("/")[0]: name.split("/")[0]}))
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_bytes(blob)
    try:
        with ReplayServer(Snapshot.open(root), port=0):
            pass
    except ImagelockError:
        pass


# --- facts from machines: each malformed case is that machine's one line; a fleet goes on --------------

MALFORMED_FACTS = {
    "models.files as strings": (
        lambda f: f.__setitem__("models", [{"dest": "/workspace/models/gte-modernbert-base", "files": ["a", "b"]}]),
        "models[0].files[0]: expected {path, size, sha256}",
    ),
    "nvidia.cuda_version a number": (
        lambda f: f["nvidia"].__setitem__("cuda_version", 12),
        "nvidia.cuda_version: expected a version string, found 12",
    ),
    "nvidia.sources a list": (
        lambda f: f["nvidia"].__setitem__("sources", [1]),
        "nvidia.sources: expected an object of where -> driver version strings",
    ),
    "kernel.installed a number": (
        lambda f: f["kernel"].__setitem__("installed", 5),
        "kernel.installed: expected a list of kernel release strings",
    ),
    "kernel.running a number": (
        lambda f: f["kernel"].__setitem__("running", 5),
        "kernel.running: expected a kernel release string, found 5",
    ),
    "a list where a path belongs": (lambda f: f.__setitem__("root", ["/"]), "root: expected a string"),
}


@pytest.fixture(scope="module")
def clean_facts() -> dict:
    from imagelock.drift.synthetic import facts_for

    lock, _ = domains.read_lock(SEED / "seed.lock")
    facts = facts_for(lock, "clean-worker")
    facts["python"] = {
        "venv": lock.python.venv,
        "distributions": [{"name": p.name, "version": p.version} for p in lock.python.packages],
    }
    facts["nvidia"] = {
        "driver_version": lock.nvidia.driver_version,
        "cuda_version": lock.nvidia.cuda_version,
        "sources": {"proc": lock.nvidia.driver_version},
    }
    facts["models"] = [
        {"dest": m.dest, "exists": True, "files": [{"path": f.path, "size": f.size or 1} for f in m.files]}
        for m in lock.models
    ]
    return facts


@pytest.mark.parametrize("case", sorted(MALFORMED_FACTS))
def test_malformed_facts_are_one_line_alone_and_one_machine_in_a_fleet(
    tmp_path: Path, lock_cli, clean_facts: dict, case: str
) -> None:
    import copy

    change, expected = MALFORMED_FACTS[case]
    bad = copy.deepcopy(clean_facts)
    change(bad)
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    (tmp_path / "clean.json").write_text(json.dumps(clean_facts))
    lock = str(SEED / "seed.lock")
    before = tree_digest(tmp_path)
    alone = lock_cli("drift", lock, "--facts", str(tmp_path / "bad.json"))
    assert alone.code == 2
    [line] = alone.err.splitlines()
    assert line == f"lock: error: {tmp_path / 'bad.json'}: {expected}"
    fleet = lock_cli(
        "drift",
        lock,
        "--format",
        "json",
        "--facts",
        str(tmp_path / "clean.json"),
        "--facts",
        str(tmp_path / "bad.json"),
    )
    assert fleet.code == 1, fleet.err
    machines = {Path(m["target"]).name: m for m in json.loads(fleet.out)["machines"]}
    assert machines["clean.json"]["status"] == "clean", machines["clean.json"]
    assert machines["bad.json"]["status"] == "unreachable" and expected in machines["bad.json"]["error"]
    assert tree_digest(tmp_path) == before


def test_a_worker_cannot_forge_another_machine_s_line_drive_the_terminal_or_break_junit(
    tmp_path: Path, lock_cli, clean_facts: dict
) -> None:
    """Text a machine sends (a version, a name) is shown with its control characters escaped."""
    import copy
    from xml.etree import ElementTree

    forged = f"3\n\n{tmp_path / 'b.json'}: drifted: 9 findings\x1b]0;pwned\x07\x1b[2J\x01\u2028\u202e"
    bad = copy.deepcopy(clean_facts)
    [row] = [r for r in bad["dpkg"] if r[0] == "adduser"]
    row[1] = forged
    (tmp_path / "a.json").write_text(json.dumps(bad))
    (tmp_path / "b.json").write_text(json.dumps(clean_facts))
    argv = ["drift", str(SEED / "seed.lock"), "--facts", str(tmp_path / "a.json"), "--facts", str(tmp_path / "b.json")]
    text = lock_cli(*argv)
    assert text.code == 1
    starts = [line for line in text.out.splitlines() if line.startswith(f"{tmp_path / 'b.json'}: ")]
    image = domains.read_lock(SEED / "seed.lock")[0].image_name()
    assert starts == [f"{tmp_path / 'b.json'}: clean: no drift from {image}"]  # and no forged line
    assert "adduser: 3.118ubuntu5 → 3\\n\\n" in text.out and "\\x1b]0;pwned\\x07\\x1b[2J\\x01\\u2028\\u202e" in text.out
    assert all(c.isprintable() for line in text.out.splitlines() for c in line)
    junit = lock_cli(*argv, "--format", "junit")
    assert junit.code == 1
    suites = ElementTree.fromstring(junit.out.encode())
    assert [s.get("name") for s in suites] == [str(tmp_path / "a.json"), str(tmp_path / "b.json")]
