"""`lock mirror --to DIR` and `--to http(s)://prefix`: the same layout as S3, checked after every write."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from imagelock import domains
from imagelock.commands.mirror import artifacts, run_mirror

from .conftest import FileServer
from .test_mirror import lock_path, upstreams  # noqa: F401 - the fixtures the S3 tests use

USER, PASSWORD = "ci", "s3cr3t-put-password"


class _PutHandler(SimpleHTTPRequestHandler):
    """A static server that stores what is PUT to it (as nginx's dav module does), for one user."""

    server: _PutServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        return

    def _authorized(self) -> bool:
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if self.headers.get("Authorization") == expected:
            return True
        self.send_error(401)
        return False

    def do_PUT(self) -> None:  # noqa: N802 - stdlib naming
        if not self._authorized():
            return
        if self.server.refuse_puts:
            self.send_error(403)
            return
        self.server.puts.append(self.path)
        target = Path(self.translate_path(self.path))
        target.parent.mkdir(parents=True, exist_ok=True)
        length = int(self.headers["Content-Length"])
        target.write_bytes(self.rfile.read(length) if not self.server.truncate else self.rfile.read(length)[:-1])
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()


class _PutServer(ThreadingHTTPServer):
    daemon_threads = True
    refuse_puts = False
    truncate = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.puts: list[str] = []  # each PUT's path, in the order they arrived


@pytest.fixture
def put_server(tmp_path: Path) -> Iterator[tuple[_PutServer, Path, str]]:
    root = tmp_path / "served"
    root.mkdir()
    server = _PutServer(("127.0.0.1", 0), lambda *a, **k: _PutHandler(*a, directory=str(root), **k))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server, root, f"http://127.0.0.1:{server.server_address[1]}/imagelock"
    finally:
        server.shutdown()
        server.server_close()


def _objects(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (folder / "sha256").iterdir()} if (folder / "sha256").exists() else {}


def test_a_directory_mirror_holds_every_artifact_by_sha256_and_the_lock_names_it_only_when_asked(
    tmp_path: Path, lock_path: Path, upstreams: FileServer
) -> None:
    lock, _ = domains.read_lock(lock_path)
    wanted = {a.sha256 for a in artifacts(lock)}
    before = lock_path.read_bytes()
    folder = tmp_path / "mirror"
    summary = run_mirror(lock_path, str(folder), jobs=3)
    assert summary.exit_code == 0 and len(summary.uploaded) == len(wanted) == 5
    objects = _objects(folder)
    assert set(objects) == wanted
    assert all(hashlib.sha256(data).hexdigest() == name for name, data in objects.items())
    assert {stat.S_IMODE(p.stat().st_mode) for p in (folder / "sha256").iterdir()} == {0o644}
    assert lock_path.read_bytes() == before and summary.unrecorded
    assert "a build reads this directory as IMAGELOCK_MIRROR=" in "\n".join(summary.lines())

    # A file edited in place is not "already there": it is written again, whole.
    edited = folder / "sha256" / sorted(wanted)[0]
    edited.write_bytes(b"not it")
    again = run_mirror(lock_path, str(folder), jobs=2, record_as="https://mirror.example.invalid/imagelock")
    assert len(again.uploaded) == 1 and len(again.skipped) == 4
    assert hashlib.sha256(edited.read_bytes()).hexdigest() == edited.name
    assert sorted(os.listdir(folder / "sha256")) == sorted(wanted)  # no temp file left
    assert domains.read_lock(lock_path)[0].mirror.url == "https://mirror.example.invalid/imagelock"


def test_a_directory_that_is_a_file_or_a_bad_record_url_is_one_line_and_touches_nothing(
    tmp_path: Path, lock_path: Path, upstreams: FileServer, lock_cli
) -> None:
    before = lock_path.read_bytes()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    run = lock_cli("mirror", str(lock_path), "--to", str(blocker))
    assert (run.code, run.err) == (2, f"lock: error: --to: {blocker} exists and is not a directory\n")
    run = lock_cli("mirror", str(lock_path), "--to", str(tmp_path / "m"), "--record-as", "file:///srv/m")
    assert (run.code, run.err) == (
        2,
        "lock: error: --record-as: expected the http(s):// or s3:// URL a build reads, found 'file:///srv/m'\n",
    )
    assert lock_path.read_bytes() == before and not (tmp_path / "m").exists()


def test_an_http_prefix_takes_puts_and_the_lock_records_it_without_the_password(
    lock_path: Path, upstreams: FileServer, put_server: tuple[_PutServer, Path, str], lock_cli
) -> None:
    server, root, url = put_server
    with_password = url.replace("http://", f"http://{USER}:{PASSWORD}@")
    run = lock_cli("mirror", str(lock_path), "--to", with_password, "--jobs", "2")
    assert run.code == 0, run.out + run.err
    assert run.out.startswith(f"mirror {url}: 5 uploaded (")
    assert PASSWORD not in run.out + run.err + lock_path.read_text()
    lock, _ = domains.read_lock(lock_path)
    assert lock.mirror.url == url
    assert set(_objects(root / "imagelock")) == {a.sha256 for a in artifacts(lock)}
    again = lock_cli("mirror", str(lock_path), "--to", with_password)
    assert again.code == 0 and " 0 uploaded" in again.out and "5 already there" in again.out


@pytest.mark.parametrize(("refuse", "truncate", "reason"), [(True, False, "HTTP 403"), (False, True, "does not serve")])
def test_an_http_prefix_that_refuses_or_keeps_wrong_bytes_fails_and_the_lock_is_unchanged(
    lock_path: Path,
    upstreams: FileServer,
    put_server: tuple[_PutServer, Path, str],
    lock_cli,
    refuse: bool,
    truncate: bool,
    reason: str,
) -> None:
    server, _, url = put_server
    server.refuse_puts, server.truncate = refuse, truncate
    before = lock_path.read_bytes()
    run = lock_cli("mirror", str(lock_path), "--to", url.replace("http://", f"http://{USER}:{PASSWORD}@"))
    assert run.code == 2
    assert " 5 failed" in run.out.splitlines()[0]
    failures = [line for line in run.out.splitlines() if line.startswith("  failed ")]
    assert len(failures) == 5 and all(reason in line for line in failures), failures
    assert PASSWORD not in run.out + run.err
    assert lock_path.read_bytes() == before
