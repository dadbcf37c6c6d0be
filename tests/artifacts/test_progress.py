"""One progress display per layer on a terminal, plain lines in a pipe, and never a byte of it on stdout.

The terminal is a real pseudo-terminal (os.openpty) on the command's stderr, as a person's shell gives it;
the pipe is what a CI runner gives. Each run is the real `lock` in a process of its own, with `--json`, so
stdout must stay one JSON document whatever stderr is.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest

from .conftest import FileServer
from .test_mirror import lock_path, upstreams  # noqa: F401 - the fixtures the mirror tests use

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "locks" / "seed.toml"
SEED_SNAPSHOT = ROOT / "snapshots" / "seed"
SEED_LAYERS = ["python", "apt", "kernel", "nvidia", "models", "base"]
ESC = "\x1b"
REDRAW = re.compile(r"\x1b\[(\d+)F")


def _lock(*argv: str, terminal: bool) -> tuple[int, str, str]:
    """`lock ARGV` with stderr on a pseudo-terminal (400 columns: no line wraps) or a pipe: exit code, stdout,
    stderr."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm"}
    command = [sys.executable, "-m", "imagelock.cli", *argv]
    if not terminal:
        run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
        return run.returncode, run.stdout, run.stderr
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 400, 0, 0))
    seen = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the last writer closed the terminal
                return
            if not chunk:
                return
            seen.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=follower, text=True, env=env) as process:
            os.close(follower)
            out, _ = process.communicate(timeout=300)
        reader.join(timeout=30)
    finally:
        os.close(leader)
    return process.returncode, out, seen.decode().replace("\r\n", "\n")


def _screen(err: str) -> list[str]:
    """What the terminal shows at the end, played back from what was written to it: the display's three
    sequences (up N lines to their start, erase the line, erase to the end of the screen), lines, text."""
    lines, row = [""], 0
    for token in re.split(r"(\x1b\[\d*[A-Za-z]|\n)", err):
        if token == "\n":
            row += 1
            lines += [""] * (row + 1 - len(lines))
        elif token.startswith(ESC):
            count, code = token[2:-1], token[-1]
            if code == "F":
                row = max(row - int(count or 1), 0)
            elif code == "K":
                lines[row] = ""
            elif code == "J":
                del lines[row + 1 :]
                lines[row] = ""
            else:
                raise AssertionError(f"a sequence the display does not write: {token!r}")
        else:
            lines[row] += token
    return [line for line in lines if line]


def _last_frame(err: str, command: str = "") -> list[str]:
    """The display's rows on the final screen."""
    return [line for line in _screen(err) if line.startswith(f"{command or line.split(':')[0]}: ")]


def _quiet_stdout(out: str) -> dict[str, object]:
    assert ESC not in out and "\r" not in out
    return json.loads(out)  # the whole of stdout is the one answer


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "pipe"])
def test_update_shows_each_layer(tmp_path: Path, terminal: bool) -> None:
    lock = tmp_path / "seed.lock"
    code, out, err = _lock(
        "update", str(SEED), "--replay", str(SEED_SNAPSHOT), "--lock", str(lock), "--json", terminal=terminal
    )
    assert code == 0, err
    assert _quiet_stdout(out)["written"] is True
    assert "update:" not in out
    if terminal:
        assert {int(m[1]) for m in REDRAW.finditer(err)} == {len(SEED_LAYERS)}  # one row per layer, redrawn
        frame = _last_frame(err)
        assert _screen(err) == frame  # nothing but the rows, each once: every frame drawn over the last
        assert [row.split()[1] for row in frame] == SEED_LAYERS
        assert re.fullmatch(r"update: python +done: 133 python packages \(\d+\.\d s\)", frame[0]), frame
        assert re.fullmatch(r"update: apt +done: 179 apt packages \(\d+\.\d s\)", frame[1]), frame
        assert re.fullmatch(r"update: kernel +done \(\d+\.\d s\)", frame[2]), frame
    else:
        assert ESC not in err and "\r" not in err
        lines = err.splitlines()
        for layer in SEED_LAYERS:
            assert f"update: {layer}: resolving" in lines
        assert any(re.fullmatch(r"update: apt: done: 179 apt packages \(\d+\.\d s\)", line) for line in lines)
        assert len(lines) == 2 * len(SEED_LAYERS)


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "pipe"])
def test_mirror_counts_each_layer(tmp_path: Path, lock_path: Path, upstreams: FileServer, terminal: bool) -> None:  # noqa: F811
    target = tmp_path / "mirror"
    code, out, err = _lock("mirror", str(lock_path), "--to", str(target), "--json", terminal=terminal)
    assert code == 0, err
    assert _quiet_stdout(out)["uploaded"] == 5
    layers = {"nvidia": 1, "python": 1, "apt": 1, "models": 2}
    if terminal:
        assert "\r" not in err  # no download's own one-line bar tears the rows: each file is counted in its row
        frame = _last_frame(err)
        assert sorted(row.split()[1] for row in frame) == sorted(layers)
        for row in frame:
            name = row.split()[1]
            total = layers[name]
            assert re.fullmatch(
                rf"mirror: {name} +{total} copied, 0 already there, 0 failed \({total}/{total} artifacts, \d+\.\d s\)",
                row,
            ), row
    else:
        assert ESC not in err and "\r" not in err
        lines = err.splitlines()
        assert "mirror: models: 1/2 artifacts" in lines  # a line at each tenth of a layer's count
        for name, total in layers.items():
            assert f"mirror: {name}: copying {total} artifacts" in lines
            assert any(
                re.fullmatch(
                    rf"mirror: {name}: {total} copied, 0 already there, 0 failed \({total}/{total} artifacts, \d+\.\d s\)",
                    line,
                )
                for line in lines
            ), lines


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "pipe"])
def test_online_check_counts_each_layer(lock_path: Path, upstreams: FileServer, terminal: bool) -> None:  # noqa: F811
    code, out, err = _lock("check", "--lock", str(lock_path), "--online", "--jobs", "3", "--json", terminal=terminal)
    assert code == 0, err
    assert _quiet_stdout(out)["ok"] is True
    layers = {"apt": 1, "models": 2, "nvidia": 1, "python": 1}
    if terminal:
        frame = _last_frame(err)
        assert sorted(row.split()[1] for row in frame) == sorted(layers)
        assert all(re.search(r" done \((\d)/\1 artifacts, \d+\.\d s\)$", row) for row in frame), frame
    else:
        assert ESC not in err and "\r" not in err
        lines = err.splitlines()
        for name, total in layers.items():
            assert f"online: {name}: checking {total} artifacts" in lines
            assert any(
                re.fullmatch(rf"online: {name}: done \({total}/{total} artifacts, \d+\.\d s\)", line) for line in lines
            )


def test_a_stderr_without_a_descriptor_gets_no_progress(lock_path: Path, upstreams: FileServer, lock_cli) -> None:  # noqa: F811
    """In-process, with stderr an object of the caller's (pytest's capture): the answer, and no progress."""
    run = lock_cli("check", "--lock", str(lock_path), "--online")
    assert run.code == 0 and "online:" not in run.err  # (the loopback file server logs dropped connections there)
    assert run.out.splitlines()[-1].endswith("online: all 5 artifacts are fetchable from at least one source")


def test_what_a_layer_prints_goes_above_the_rows(tmp_path: Path) -> None:
    """The pcluster example's files layer says which files it locks without a hash while the display is drawn:
    each line stays on the screen, above the rows, and the rows stay whole below them."""
    lock = tmp_path / "pcluster.lock"
    intent, snapshot = ROOT / "locks" / "pcluster.toml", ROOT / "snapshots" / "pcluster"
    code, out, err = _lock(
        "update", str(intent), "--replay", str(snapshot), "--lock", str(lock), "--json", terminal=True
    )
    assert code == 0, err
    assert _quiet_stdout(out)["written"] is True
    screen = _screen(err)
    notes = [line for line in screen if line.startswith("imagelock: files[")]
    assert len(notes) == 8 and all("locked without a hash" in line for line in notes)
    assert [re.match(r"imagelock: files\[(\d)\]", line)[1] for line in notes] == [str(i) for i in range(1, 9)]  # type: ignore[index]
    assert screen[: len(notes)] == notes
    assert [row.split()[1] for row in screen[len(notes) :]] == ["nvidia", "files"]
    assert re.fullmatch(r"update: files +done: 9 files \(\d+\.\d s\)", screen[-1]), screen
