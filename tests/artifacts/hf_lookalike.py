"""A Hugging Face Hub look-alike on loopback that the real huggingface_hub client talks to.

It answers the three calls the models resolver makes, from tests/fixtures/hf:
  GET /api/models/<org>/<name>/revision/<rev>?blobs=true   model info at a revision
  GET /api/models/<org>/<name>/auth-check                   may this token read the repo
  GET /<org>/<name>/resolve/<rev>/<path>                    a file's bytes
with the Hub's error signalling (status and `X-Error-Code`), and records every
request so tests can see where a token went.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hf"


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class HubState:
    repos: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)
    accepted_tokens: set[str] = field(default_factory=set)  # may read gated repos
    requests: list[Recorded] = field(default_factory=list)
    answered: list[bytes] = field(default_factory=list)
    tampered: dict[tuple[str, str], bytes] = field(default_factory=dict)  # served instead of the listed bytes

    @classmethod
    def from_fixtures(cls, root: Path = FIXTURES) -> HubState:
        state = cls()
        for path in sorted(root.glob("*.json")):
            doc = json.loads(path.read_text())
            repo = doc["answer"]["id"]
            state.repos[repo] = doc
            folder = root / "files" / path.stem
            state.files[repo] = {p.relative_to(folder).as_posix(): p.read_bytes()
                                 for p in sorted(folder.rglob("*")) if p.is_file()}
        return state


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        state = self.server.state
        state.requests.append(Recorded(self.command, self.path, dict(self.headers)))
        parts = [unquote(p) for p in urlsplit(self.path).path.split("/") if p]
        if parts[:2] == ["api", "models"] and len(parts) >= 5 and parts[4] == "revision":
            return self._info("/".join(parts[2:4]), "/".join(parts[5:]))
        if parts[:2] == ["api", "models"] and len(parts) == 5 and parts[4] == "auth-check":
            return self._auth_check("/".join(parts[2:4]))
        if len(parts) >= 5 and parts[2] == "resolve":
            return self._resolve("/".join(parts[:2]), parts[3], "/".join(parts[4:]))
        self._error(404, "EntryNotFound", "no such route")

    def _token(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None

    def _repo(self, repo: str) -> dict[str, Any] | None:
        doc = self.server.state.repos.get(repo)
        if doc is None:
            self._error(401, "RepoNotFound", "Repository not found")
        return doc

    def _commit(self, doc: dict[str, Any], rev: str) -> str | None:
        sha = doc["answer"]["sha"]
        if rev == sha or rev in doc["refs"]:
            return doc["refs"].get(rev, sha)
        self._error(404, "RevisionNotFound", "Invalid rev id")
        return None

    def _info(self, repo: str, rev: str) -> None:
        doc = self._repo(repo)
        if doc is None or (commit := self._commit(doc, rev)) is None:
            return
        answer = json.loads(json.dumps(doc["answer"]))
        answer["sha"] = commit
        bodies = self.server.state.files.get(repo, {})
        siblings = []
        for sibling in answer["siblings"]:
            sibling = {k: v for k, v in sibling.items() if not k.startswith("_")}
            if "lfs" in sibling:
                sibling["size"] = sibling["lfs"]["size"]
                sibling["blobId"] = hashlib.sha1(sibling["lfs"]["sha256"].encode()).hexdigest()
            else:
                body = bodies[sibling["rfilename"]]
                sibling["size"], sibling["blobId"] = len(body), git_blob_id(body)
            siblings.append(sibling)
        answer["siblings"] = siblings
        self._send(200, json.dumps(answer).encode(), "application/json")

    def _auth_check(self, repo: str) -> None:
        doc = self._repo(repo)
        if doc is None:
            return
        if doc["answer"].get("gated") and self._token() not in self.server.state.accepted_tokens:
            return self._error(403, "GatedRepo", "Access to this model is restricted")
        self._send(200, b"{}", "application/json")

    def _resolve(self, repo: str, rev: str, name: str) -> None:
        doc = self._repo(repo)
        if doc is None or self._commit(doc, rev) is None:
            return
        if doc["answer"].get("gated") and self._token() not in self.server.state.accepted_tokens:
            return self._error(403, "GatedRepo", "Access to this model is restricted")
        body = self.server.state.tampered.get((repo, name), self.server.state.files.get(repo, {}).get(name))
        if body is None:
            return self._error(404, "EntryNotFound", "Entry not found")
        self._send(200, body, "application/octet-stream")

    def _error(self, status: int, code: str, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.server.state.answered.append(body)
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.server.state.answered.append(body)
        if self.command != "HEAD":
            self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: HubState


class HubLookalike:
    def __init__(self, state: HubState | None = None) -> None:
        self.state = state or HubState.from_fixtures()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> HubLookalike:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
