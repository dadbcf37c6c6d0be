"""What test_untrusted.py leaves open: the lock validator's rules beyond the issue's examples, each the
same line from every command that reads a lock; an intent that asks for a URL no lock may hold; and each
untrusted file that is a FIFO, a device or a directory, refused by a real `lock` process without blocking.

Each case: one line naming the file and the key, exit 2, nothing written, no process left behind.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hostile.hostile_support import ROOT, SEED_INTENT, SEED_LOCK, children, one_line, state
from imagelock import domains
from imagelock.drift.synthetic import facts_for
from imagelock.lock import codec
from imagelock.lock.model import Lock, PythonPackage


@pytest.fixture(scope="module")
def seed() -> Lock:
    return domains.read_lock(SEED_LOCK)[0]


@pytest.fixture
def work(tmp_path: Path, seed: Lock) -> Path:
    """A folder with a clean facts document for the seed lock (drift needs one to get as far as the lock)."""
    (tmp_path / "clean.json").write_text(json.dumps(facts_for(seed)))
    return tmp_path


def _refused(lock_cli, folder: Path, *argv: str) -> str:
    before, running = state(folder), children()
    run = lock_cli(*argv)
    assert run.code == 2, (run.out, run.err)
    assert run.out == ""
    assert state(folder) == before
    assert children() <= running
    return one_line(run.err)


# --- the validator: one line, the same from every command ------------------------------------------


def _python_name_twice(lock: Lock) -> None:
    """`AIOHAPPYEYEBALLS` and `aiohappyeyeballs` are one package (PEP 503), whatever their versions."""
    twin: PythonPackage = copy.deepcopy(lock.python.packages[0])
    twin.name, twin.version = twin.name.upper().replace("-", "_"), "0.0.1"
    lock.python.packages.append(twin)


def _plain_http_wheel(lock: Lock) -> None:
    """The seed names no http:// Python index: a wheel over plain HTTP is not what the intent asked for."""
    lock.python.packages[0].wheel.url = "http://files.example.org/six.whl"


def _plain_http_runfile(lock: Lock) -> None:
    lock.nvidia.url = "http://developer.download.example.org/cuda.run"


def _gopher_mirror(lock: Lock) -> None:
    lock.nvidia.mirror_url = "gopher://mirror.example.org/x.run"


def _no_host(lock: Lock) -> None:
    lock.python.packages[0].wheel.url = "https:///etc/passwd"


def _c1_control(lock: Lock) -> None:
    lock.apt.packages[0].filename = "pool/main/a/adduser/adduser\x9b31m.deb"  # CSI: a terminal escape


def _line_separator(lock: Lock) -> None:
    lock.models[0].files[0].path = "config.json\u2028rm -rf /"


def _url_in_any_field(lock: Lock) -> None:
    lock.python.packages[0].original = "six @ file:///srv/six.whl"


CASES: list[tuple[str, Callable[[Lock], None], str, str]] = [
    (
        "python name twice",
        _python_name_twice,
        "python.packages[*]",
        "duplicate entry (name = '*'), already at python.packages[*]",
    ),
    (
        "plain http wheel",
        _plain_http_wheel,
        "python.packages[*].wheel.url",
        "plain http:// where the intent named no http:// source for this layer: 'http://files.example.org/six.whl'",
    ),
    (
        "plain http runfile",
        _plain_http_runfile,
        "nvidia.url",
        "plain http:// where the intent named no http:// source for this layer: *",
    ),
    ("gopher mirror", _gopher_mirror, "nvidia.mirror-url", "expected an https, http or s3 URL, found scheme 'gopher'"),
    ("no host", _no_host, "python.packages[*].wheel.url", "expected a URL naming a host, found 'https:///etc/passwd'"),
    ("C1 control", _c1_control, "apt.packages[*].filename", "contains a control character (*): refused"),
    ("line separator", _line_separator, "models[*].files[*].path", "contains a control character (*): refused"),
    (
        "URL in any field",
        _url_in_any_field,
        "python.packages[*].original",
        "expected an https, http or s3 URL, found scheme 'file'",
    ),
]


def _matches(line: str, pattern: str) -> bool:
    """`*` stands for any run of characters (the index a sorted lock gives an entry, a name)."""
    return fnmatch.fnmatchcase(line, pattern.replace("[", "[[]"))


@pytest.mark.parametrize(("name", "mutate", "key", "message"), CASES, ids=[c[0] for c in CASES])
def test_every_command_refuses_the_lock_with_the_same_line(
    lock_cli, work: Path, seed: Lock, name: str, mutate: Callable[[Lock], None], key: str, message: str
) -> None:
    """The digest is recomputed (`codec.dumps`): the lock is intact, its content is not valid."""
    lock = copy.deepcopy(seed)
    mutate(lock)
    path = work / "seed.lock"
    path.write_text(codec.dumps(lock))
    lines = {
        "check": _refused(lock_cli, work, "check", str(SEED_INTENT), "--lock", str(path)),
        "generate": _refused(lock_cli, work, "generate", str(path), "-o", str(work / "out")),
        "mirror": _refused(lock_cli, work, "mirror", str(path), "--to", str(work / "mirror")),
        "drift": _refused(lock_cli, work, "drift", str(path), "--facts", str(work / "clean.json")),
        "diff": _refused(lock_cli, work, "diff", str(SEED_LOCK), str(path)),
        "why": _refused(lock_cli, work, "why", "six", "--lock", str(path)),
    }
    assert len(set(lines.values())) == 1, lines
    assert _matches(lines["check"], f"{path}: {key}: {message}"), lines["check"]


def test_plain_http_stays_valid_where_the_intent_chose_it(seed: Lock) -> None:
    """The seed's apt archive is http:// (Ubuntu's, signed), so its .debs are; loopback is always allowed."""
    assert seed.apt is not None and seed.apt.archive.startswith("http://")
    lock = copy.deepcopy(seed)
    lock.python.packages[0].wheel.url = "http://127.0.0.1:8080/six.whl"
    lock.nvidia.mirror_url = "http://[::1]:9000/cuda.run"
    domains.loads_lock(codec.dumps(lock), "seed.lock")


def test_the_committed_locks_are_valid() -> None:
    for path in [SEED_LOCK, *sorted((ROOT / "tests" / "fixtures" / "locks").glob("*.lock"))]:
        domains.read_lock(path)


# --- an intent never asks for what its lock could not hold ------------------------------------------


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ('[python]\nindex-url = "file:///srv/simple"\n', "python.index-url"),
        ('[python]\n[python.torch]\ncuda = "cu124"\nindex-url = "file:///srv/whl"\n', "python.torch.index-url"),
        (
            '[python]\n[[python.index]]\nname = "local"\nurl = "file:///srv/simple"\npackages = ["six"]\n',
            "python.index[0].url",
        ),
    ],
)
def test_an_intent_with_a_file_index_is_refused(lock_cli, work: Path, section: str, key: str) -> None:
    intent = work / "local.toml"
    intent.write_text('name = "local"\n' + section)
    line = _refused(lock_cli, work, "update", str(intent), "--replay", str(ROOT / "snapshots" / "seed"))
    assert line.startswith(f"{intent}: {key}: expected the http(s) URL of a PEP 503 simple index")


# --- not a regular file, in a real process ----------------------------------------------------------


def _cli(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The real `lock` in a process of its own: a read that blocked fails the test, never hangs it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "imagelock.cli", *argv], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory"])
@pytest.mark.parametrize("role", ["intent", "lock", "facts"])
def test_a_fifo_a_device_or_a_directory_is_refused_without_blocking(work: Path, kind: str, role: str) -> None:
    special = work / f"special.{role}"
    if kind == "fifo":
        os.mkfifo(special)  # no writer ever opens it: a blocking open or read would wait forever
    elif kind == "dev-zero":
        special.symlink_to("/dev/zero")  # endless bytes: an unbounded read would never end
    else:
        special.mkdir()
    lock = work / "seed.lock"
    lock.write_bytes(SEED_LOCK.read_bytes())
    argv = {
        "intent": ["check", str(special), "--lock", str(lock)],
        "lock": ["check", str(SEED_INTENT), "--lock", str(special)],
        "facts": ["drift", str(lock), "--facts", str(special)],
    }[role]
    before = state(work)
    started = time.monotonic()
    run = _cli(*argv)
    assert time.monotonic() - started < 30
    assert run.returncode == 2 and run.stdout == "", run.stderr
    expected = "is a directory, not a file" if kind == "directory" else "is not a regular file"
    assert one_line(run.stderr).startswith(f"{special}: {expected}")
    assert state(work) == before
