"""The suite leaves no process running: what a test starts and forgets is stopped when the run ends."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FORGETFUL = """
import subprocess
from pathlib import Path


def test_starts_a_daemon_and_forgets_it(tmp_path_factory):
    # a daemon of its own session, as gpg's dirmngr/keyboxd or a server a test forgot to stop
    proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
    Path({pidfile!r}).write_text(str(proc.pid))
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            return stream.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def test_a_forgotten_daemon_is_stopped_when_the_run_ends(tmp_path: Path) -> None:
    pidfile = tmp_path / "daemon.pid"
    test = tmp_path / "test_forgetful.py"
    test.write_text(FORGETFUL.format(pidfile=str(pidfile)))
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'tests'}{os.pathsep}{ROOT}"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "conftest", "-p", "no:cacheprovider", "-c", os.devnull, str(test)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), f"the inner run left pid {pid} running"
