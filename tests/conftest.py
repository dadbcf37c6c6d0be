"""Shared test helpers: run the real CLI in-process, isolate caches, find the repo."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import settings

# In CI the property tests run a fixed, reproducible set of examples (a red build
# must mean a change broke something, not that a new random example was drawn);
# on a developer's machine they keep exploring.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

from imagelock.cli import main  # noqa: E402 - after the hypothesis profile is chosen


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGELOCK_CACHE", str(tmp_path_factory.getbasetemp() / "imagelock-cache"))


@pytest.fixture
def lock_cli(capsys: pytest.CaptureFixture[str]):
    """`lock ...` in-process, returning the exit code and what it printed."""

    def run(*argv: str) -> Run:
        code = main(list(argv))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def _agents() -> dict[int, str]:
    """pid -> homedir of every running gpg-agent, read from /proc."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as stream:
                argv = stream.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"gpg-agent") and b"--homedir" in argv[:-1]:
            found[int(entry.name)] = argv[argv.index(b"--homedir") + 1].decode(errors="replace")
    return found


# Every process this test run starts inherits this variable (unless a test gives it a whole new environment),
# so what is still running at the end is told apart from another run's on the same machine by its environment.
RUN_MARK = "IMAGELOCK_TEST_RUN"


def _marked(mark: str) -> dict[int, str]:
    """pid -> command of every process whose environment carries RUN_MARK=mark, except this one."""
    needle = f"{RUN_MARK}={mark}".encode()
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as stream:
                environ = stream.read().split(b"\0")
            with open(f"/proc/{entry.name}/cmdline", "rb") as stream:
                argv = stream.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if needle in environ and argv:  # an empty cmdline: a zombie or a kernel thread
            found[int(entry.name)] = argv
    return found


def _stop(pids: dict[int, str], grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL what is still there after `grace` seconds."""
    import signal
    import time

    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + grace
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive = {pid for pid in alive if os.path.exists(f"/proc/{pid}") and _running(pid)}
        time.sleep(0.05)
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            return stream.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


@pytest.fixture(scope="session", autouse=True)
def _no_process_left() -> Iterator[None]:
    """Whatever this run started and did not stop (a dirmngr, a keyboxd, a server a test forgot, a daemon a
    tool forked) is stopped when the run ends; the gpg-agents are first asked to quit by _no_gpg_agent_left."""
    import uuid

    mark = uuid.uuid4().hex
    previous = os.environ.get(RUN_MARK)
    os.environ[RUN_MARK] = mark
    yield
    _stop(_marked(mark))
    if previous is None:
        os.environ.pop(RUN_MARK, None)
    else:
        os.environ[RUN_MARK] = previous


@pytest.fixture(scope="session", autouse=True)
def _no_gpg_agent_left(_no_process_left: None, tmp_path_factory: pytest.TempPathFactory):
    """gpg, rpmsign and the real dnf (librepo checks repomd.xml in a `tmpdir.XXXXXX` home) start a gpg-agent
    per GNUPGHOME; every one this run started is stopped when it ends."""
    before = set(_agents())
    yield
    import shutil
    import signal
    import subprocess

    base = str(tmp_path_factory.getbasetemp())
    ours = {
        pid: home
        for pid, home in _agents().items()
        if pid not in before and (home.startswith(base) or os.path.basename(home).startswith("tmpdir."))
    }
    for home in set(ours.values()):
        if shutil.which("gpgconf") and os.path.isdir(home):
            subprocess.run(["gpgconf", "--homedir", home, "--kill", "gpg-agent"], capture_output=True, timeout=30)
    for pid in ours:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:  # already stopped by gpgconf
            pass
