"""Ubuntu's and Debian's snapshot services on loopback, each in its real URL layout.

The build machines cannot reach either service, so this serves archive states (real signed
repositories, tests/apt/aptrepo.py) the way each one does:

- Ubuntu (snapshot.ubuntu.com): `/ubuntu/<YYYYMMDDTHHMMSSZ>/…` is the archive as it was at that time,
  served at the asked timestamp (any time after the service began; ubuntu.com's snapshot-service page).
- Debian (snapshot.debian.org): `/archive/debian/<timestamp>/…` is the last import ("mirrorrun") at or
  before the timestamp. A file is served from that import at the asked path; a directory is answered
  with 301 to the import's own timestamp. Both read from the snapshot web frontend's source
  (web/app/snapshot/controllers/archive.py `dir` and `_dir_helper`, and model/snapshotmodel.py
  `mirrorruns_get_mirrorrun_at`: `run <= datespec ORDER BY run DESC LIMIT 1`).
- `/upstream/…`: the live archive, for the build's fallback to the upstream pool.
"""

from __future__ import annotations

import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.apt.aptrepo import RepoServer

_STAMP = re.compile(r"^[0-9]{8}T[0-9]{6}Z$")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        return

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        path = self.path.split("?", 1)[0]
        self.server.requests.append(path)
        parts = path.split("/")
        if path.startswith("/upstream/"):
            return self._file(self.server.upstream, "/".join(parts[2:]))
        if path.startswith("/ubuntu/") and len(parts) > 2 and _STAMP.match(parts[2]):
            run = self._run(parts[2])
            return self._file(self.server.runs[run], "/".join(parts[3:])) if run else self._missing()
        if path.startswith("/archive/debian/") and len(parts) > 3 and _STAMP.match(parts[3]):
            run = self._run(parts[3])
            if run is None:
                return self._missing()
            rest = "/".join(parts[4:])
            target = self.server.runs[run] / rest
            if (target.is_dir() or rest == "") and parts[3] != run:
                self.send_response(301)
                self.send_header("Location", f"/archive/debian/{run}/{rest.strip('/')}{'/' if rest.strip('/') else ''}")
                self.end_headers()
                return None
            return self._file(self.server.runs[run], rest)
        return self._missing()

    def _run(self, stamp: str) -> str | None:
        before = [run for run in self.server.runs if run <= stamp]
        return max(before) if before else None

    def _file(self, root: Path, rest: str) -> None:
        target = root / rest
        if ".." in rest.split("/") or not target.is_file():
            if target.is_dir():
                body = b"<html>directory listing</html>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            return self._missing()
        body = target.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _missing(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    runs: dict[str, Path]
    upstream: Path
    requests: list[str]


class SnapshotServices(RepoServer):
    """`runs`: import timestamp -> that archive state's root; `upstream`: the live archive's root."""

    def __init__(self, runs: dict[str, Path], upstream: Path) -> None:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.runs = dict(runs)
        server.upstream = upstream
        server.requests = []
        super().__init__(upstream, server=server)
