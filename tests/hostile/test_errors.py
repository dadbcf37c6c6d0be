"""Errors by cause, never a secret: a refused password is an authentication failure, not a conflict, and
no URL's user:password reaches a message, a lock or a generated file."""

from __future__ import annotations

import base64
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from indexbuilder import Dist, build_snapshot

from imagelock.replay.server import ReplayServer, Snapshot

SECRET = "hunter2-planted-secret"
GOOD = "Basic " + base64.b64encode(f"bob:{SECRET}".encode()).decode()


class _Gate(BaseHTTPRequestHandler):
    """A private index: the replayed one behind HTTP basic auth, 403 for a known user with the wrong password."""

    upstream = ""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        return

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        given = self.headers.get("Authorization")
        if given != GOOD:
            self.send_response(403 if given else 401)
            self.send_header("WWW-Authenticate", 'Basic realm="private"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with urllib.request.urlopen(self.upstream + self.path) as answer:  # noqa: S310 - loopback only
            body = answer.read()
            kind = answer.headers.get("Content-Type", "text/html")
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def private_index(tmp_path: Path) -> Iterator[str]:
    """`http://127.0.0.1:<port>/simple`, answering only bob with SECRET."""
    snapshot = build_snapshot(tmp_path / "snap", [Dist("alpha", "1.0", "2024-01-01T00:00:00Z")])
    with ReplayServer(Snapshot.open(snapshot), port=0) as replay:
        local = replay.local_index(None)
        assert local is not None and local.endswith("/simple")
        handler = type("Gate", (_Gate,), {"upstream": local.removesuffix("/simple")})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/simple"
        finally:
            server.shutdown()
            server.server_close()


def _intent(folder: Path, index: str) -> Path:
    path = folder / "image.toml"
    path.write_text(
        'name = "private"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n[python]\nversion = "3.11"\n'
        f'venv = "/opt/venvs/ai"\nrequirements = ["alpha"]\nbootstrap = []\nindex-url = "{index}"\n'
    )
    return path


@pytest.mark.parametrize(
    ("password", "status", "reason"),
    [("", 401, "no valid credentials were sent"), ("wrong", 403, "the credentials may not read it")],
)
def test_a_refused_password_is_an_authentication_failure_not_a_conflict(
    tmp_path: Path, private_index: str, lock_cli, password: str, status: int, reason: str
) -> None:
    userinfo = f"bob:{password}@" if password else ""
    intent = _intent(tmp_path, private_index.replace("http://", f"http://{userinfo}"))
    run = lock_cli("update", str(intent))
    assert run.code == 2
    assert run.err == (
        f"lock: error: authentication failed for {private_index} (HTTP {status}: {reason}); nothing was written\n"
    )
    assert run.out == "" and not intent.with_suffix(".lock").exists()


def test_a_planted_password_reaches_no_message_lock_or_generated_file(
    tmp_path: Path, private_index: str, lock_cli
) -> None:
    intent = _intent(tmp_path, private_index.replace("http://", f"http://bob:{SECRET}@"))
    outputs = []
    for argv in (
        ("update", str(intent)),
        ("check", str(intent)),
        ("generate", str(intent.with_suffix(".lock")), "-o", str(tmp_path / "out")),
        ("why", "--lock", str(intent.with_suffix(".lock")), "alpha"),
    ):
        run = lock_cli(*argv)
        assert run.code == 0, (argv, run.err)
        outputs += [run.out, run.err]
    assert all(SECRET not in text for text in outputs)
    written = [intent.with_suffix(".lock"), *(tmp_path / "out").iterdir()]
    assert all(SECRET.encode() not in path.read_bytes() for path in written), [p.name for p in written]
    assert private_index in intent.with_suffix(".lock").read_text()  # the index is named, without its password


def test_a_credentialed_url_missing_from_a_recording_is_named_without_its_password(tmp_path: Path, lock_cli) -> None:
    snapshot = build_snapshot(tmp_path / "snap", [Dist("alpha", "1.0", "2024-01-01T00:00:00Z")])
    intent = _intent(tmp_path, f"https://bob:{SECRET}@private.example.invalid/simple")
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 2
    assert run.err == (
        f"lock: error: {intent}: python.index-url: https://private.example.invalid/simple is not in the replayed "
        'snapshot (its snapshot.json lists the indexes it recorded under "indexes")\n'
    )
    assert not intent.with_suffix(".lock").exists()


def test_lock_init_never_echoes_a_password(tmp_path: Path, lock_cli) -> None:
    target = tmp_path / "image.toml"
    run = lock_cli(
        "init", f"cu124 torch 2.6 --index-url https://u:{SECRET}@h.example.invalid/simple", "-o", str(target)
    )
    assert run.code == 2
    assert SECRET not in run.out + run.err
    assert run.err.startswith("lock: error: lock init: ") and run.err.count("\n") == 1
    assert not target.exists()


def test_replay_pointing_at_a_file_is_one_line(tmp_path: Path, lock_cli) -> None:
    intent = _intent(tmp_path, "https://private.example.invalid/simple")
    a_file = tmp_path / "not-a-snapshot"
    a_file.write_text("x")
    run = lock_cli("update", str(intent), "--replay", str(a_file))
    assert (run.code, run.err) == (
        2,
        f"lock: error: --replay: {a_file}: expected a snapshot directory holding snapshot.json\n",
    )
    assert not intent.with_suffix(".lock").exists()


def test_a_lock_path_that_cannot_be_written_is_one_line(tmp_path: Path, lock_cli) -> None:
    snapshot = build_snapshot(tmp_path / "snap", [Dist("alpha", "1.0", "2024-01-01T00:00:00Z")])
    intent = _intent(tmp_path, "https://private.example.invalid/simple")
    intent.write_text(intent.read_text().replace('index-url = "https://private.example.invalid/simple"\n', ""))
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    run = lock_cli("update", str(intent), "--replay", str(snapshot), "--lock", str(blocker / "image.lock"))
    assert (run.code, run.err) == (2, f"lock: error: {blocker / 'image.lock'}: cannot be written (Not a directory)\n")
    assert blocker.read_text() == "keep me"
