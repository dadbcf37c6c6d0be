"""Shared pieces of the artifact-domain tests: real loopback servers, an isolated cache."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from imagelock import domains
from imagelock.domains.context import UpdateContext
from imagelock.errors import EXIT_ERROR, InputError
from imagelock.intent import document as intent_document
from imagelock.lock.model import Lock
from imagelock.net import aws

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CUTOFF = "2025-01-15T00:00:00Z"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own download cache and no ambient credentials or endpoints."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("IMAGELOCK_CACHE", str(cache))
    for name in (
        "HF_TOKEN",
        "HUGGINGFACE_HUB_TOKEN",
        "HF_ENDPOINT",
        "IMAGELOCK_NVIDIA_BASE_URL",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    aws.reset()
    return cache


def _raw(section: object, path: Path) -> object:
    return section


def make_ctx(
    tmp_path: Path, text: str, *, previous: Lock | None = None, refresh: list[str] | None = None, cutoff: str = CUTOFF
) -> UpdateContext:
    path = tmp_path / "seed.toml"
    path.write_text(text)
    # Sections stay raw here: each test hands the context to one domain's resolve(), which parses its
    # own section, so a bad section is refused by the resolver under test.
    intent = intent_document.loads(text, path, {domain.name: _raw for domain in domains.DOMAINS})
    return UpdateContext(intent=intent, previous=previous, cutoff=cutoff, refresh=list(refresh or []), workdir=tmp_path)


def assert_input_error(
    resolve: Callable[[UpdateContext], object], ctx: UpdateContext, key: str, expected: str
) -> InputError:
    """`resolve(ctx)` fails with one line naming the intent file, the key, and what was expected."""
    with pytest.raises(InputError) as caught:
        resolve(ctx)
    error = caught.value
    assert (error.path, error.key) == (str(ctx.intent.path), key)
    assert expected in error.message, error.message
    assert str(error).startswith(f"{ctx.intent.path}: {key}: ") and "\n" not in str(error)
    assert error.exit_code == EXIT_ERROR
    return error


# --- a plain file server with Range support and planted faults -------------------------


@dataclass
class FileServerState:
    files: dict[str, bytes] = field(default_factory=dict)
    drop_after: dict[str, int] = field(default_factory=dict)  # path -> bytes sent before the next drop
    ignore_range: bool = False
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    headers_seen: list[dict[str, str]] = field(default_factory=list)


class _FileHandler(BaseHTTPRequestHandler):
    server: _FileServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return

    def do_GET(self) -> None:  # noqa: N802
        state = self.server.state
        path = self.path.split("?", 1)[0]
        asked = self.headers.get("Range")
        state.requests.append((path, asked))
        state.headers_seen.append(dict(self.headers))
        body = state.files.get(path)
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start = 0
        if asked and not state.ignore_range:
            start = int(asked.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        rest = body[start:]
        self.send_header("Content-Length", str(len(rest)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        limit = state.drop_after.pop(path, None)
        if limit is not None:
            self.wfile.write(rest[:limit])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)  # the peer sees the stream end early
            return
        self.wfile.write(rest)


class _FileServer(ThreadingHTTPServer):
    daemon_threads = True
    state: FileServerState


@dataclass
class FileServer:
    state: FileServerState
    base_url: str


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    server = _FileServer(("127.0.0.1", 0), _FileHandler)
    server.state = FileServerState()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield FileServer(state=server.state, base_url=f"http://{host}:{port}")
    finally:
        server.shutdown()
        server.server_close()


# --- moto in server mode: real HTTP S3 / EC2 / SSM endpoints ---------------------------


@dataclass
class MotoServer:
    url: str


@pytest.fixture(scope="session")
def _moto_endpoint() -> Iterator[str]:
    """One moto server for the session (starting one costs about a second); each test resets it."""
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture
def moto_server(_moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoServer]:
    import datetime as dt
    import json

    import requests
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.amis import Ami

    url = _moto_endpoint
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    requests.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing-key-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    aws.reset()
    seed = json.loads((FIXTURES / "aws" / "amis.json").read_text())
    for image in seed["images"]:
        backend = ec2_backends[DEFAULT_ACCOUNT_ID][image["region"]]
        created = dt.datetime.fromisoformat(image["creation_date"].replace("Z", "+00:00"))
        backend.amis[image["ami_id"]] = Ami(
            backend,
            ami_id=image["ami_id"],
            name=image["name"],
            owner_id=image["owner_id"],
            creation_date=created,
            architecture=image["architecture"],
            virtualization_type="hvm",
            root_device_type="ebs",
            root_device_name="/dev/sda1",
            public=True,
            state="available",
            region_name=image["region"],
        )

    for parameter in seed["ssm"]:  # reserved /aws/ names cannot be put through the API
        seed_parameter(parameter["region"], parameter["name"], parameter["versions"])
    yield MotoServer(url=url)
    aws.reset()


def seed_parameter(region: str, name: str, versions: list[dict[str, Any]]) -> None:
    """Versions of an SSM parameter, each with its number and write date, in moto's store as SSM keeps them."""
    import datetime as dt

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ssm.models import Parameter, ssm_backends

    store = ssm_backends[DEFAULT_ACCOUNT_ID][region]._parameters
    for version in versions:
        store[name].append(
            Parameter(
                account_id=DEFAULT_ACCOUNT_ID,
                name=name,
                value=version["value"],
                parameter_type="String",
                description=None,
                allowed_pattern=None,
                keyid=None,
                last_modified_date=dt.datetime.fromisoformat(version["modified"].replace("Z", "+00:00")),
                version=version["version"],
                data_type="aws:ec2:image",
            )
        )


# The Python domain on main imports `imagelock.domains.python.conflicts`, which this branch
# does not have yet. `update()` never calls it for intents without [python] (the only
# ones these tests give it), so an empty module stands in until the branches meet; once
# the real module is present this does nothing.
try:
    import imagelock.domains.python.conflicts  # noqa: F401
except ImportError:
    import sys
    import types

    sys.modules["imagelock.domains.python.conflicts"] = types.ModuleType("imagelock.domains.python.conflicts")
