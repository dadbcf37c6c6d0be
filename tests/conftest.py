"""Shared test helpers: run the real CLI in-process, isolate caches, find the repo."""

from __future__ import annotations

import os
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


@pytest.fixture(scope="session", autouse=True)
def _no_gpg_agent_left(tmp_path_factory: pytest.TempPathFactory):
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
