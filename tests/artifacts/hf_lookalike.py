"""A Hugging Face Hub look-alike on loopback that the real huggingface_hub client talks to.

It serves tests/fixtures/hf with the product's answers (imagelock/replay/hub.py,
which `lock update --replay` uses) and adds what only tests need: tokens that may
read gated repos, bytes planted in place of the listed ones, and a log of every
request and answer so tests can see where a token went.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from imagelock.replay.hub import HubRecording, send

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hf"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class HubState(HubRecording):
    accepted_tokens: set[str] = field(default_factory=set)  # may read gated repos
    requests: list[Recorded] = field(default_factory=list)
    answered: list[bytes] = field(default_factory=list)
    tampered: dict[tuple[str, str], bytes] = field(default_factory=dict)  # served instead of the listed bytes

    @classmethod
    def from_fixtures(cls, root: Path = FIXTURES) -> HubState:
        state = cls.load(root)
        assert isinstance(state, HubState)
        return state

    def body(self, repo: str, name: str) -> bytes | None:
        return self.tampered.get((repo, name), super().body(repo, name))


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        state = self.server.state
        state.requests.append(Recorded(self.command, self.path, dict(self.headers)))
        auth = self.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        reply = state.reply(self.path, reads_gated=token is not None and token in state.accepted_tokens)
        state.answered.append(reply.body)
        send(self, reply)


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
