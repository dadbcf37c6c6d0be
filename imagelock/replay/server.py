"""Serve recorded upstream answers on loopback, so a lock can be made with no network.

A snapshot directory holds, per upstream index, the PEP 691 project pages (file
entries without their `url`), the PEP 658 metadata files, optionally real wheel
files, and `upstream.json`, which maps each file name to the URL the real
upstream serves it from. `snapshot.json` at the top maps the index URLs an
intent names to the upstream directories that recorded them; its `"aws"` names
the directory of recorded AWS answers (imagelock/replay/aws.py serves them).

`"apt"` maps apt archive URLs to recorded archives, and `"hf"` names the
directory of a Hugging Face Hub recording (imagelock/replay/hub.py), served
under `/hf`. `"registry"` names the directory of recorded container registries
(imagelock/replay/registry.py), served with the registry v2 API under
`/registry/<host>`.

The server is a real HTTP server: uv talks to it exactly as it talks to PyPI,
huggingface_hub as to the Hub. The lock written from a replay records the
upstream URLs, not loopback ones.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from packaging.utils import canonicalize_name

from imagelock.errors import InputError, UpstreamError
from imagelock.net import aws
from imagelock.net.http import redact
from imagelock.net.upstreams import AptAccess, HubAccess, NotRecorded, RunfileRecord, Where
from imagelock.replay import aws as replay_aws
from imagelock.replay.hub import HubRecording, send
from imagelock.replay.registry import PREFIX as REGISTRY_PREFIX
from imagelock.replay.registry import RegistryRecording
from imagelock.untrusted import load_json, read_bytes, read_text

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
DEFAULT_INDEX_KEY = "default"
HUB_PREFIX = "hf"
PLAIN_PREFIX = "plain"  # where recorded [[files]] downloads are served
RECORDED_FILE_BYTES = 2 << 30  # a recorded wheel or .deb is served whole; a larger one is no recording
STAND_IN = "the replayed snapshot"  # how messages name a replay: a loopback port means nothing to the reader


def _relative_file(value: str) -> bool:
    """A file inside a recording: a plain relative path, no way out of it."""
    return bool(value) and not value.startswith("/") and ".." not in value.split("/") and "\\" not in value


def _relative_dir(value: object) -> bool:
    """A recording's directory: a plain relative path inside the snapshot."""
    return isinstance(value, str) and bool(value) and not value.startswith("/") and ".." not in value.split("/")


def _named_dir(data: dict[str, Any], manifest: Path, key: str, expected: str) -> str | None:
    """A recording's directory snapshot.json names under `key`, if any: a plain relative path."""
    value = data.get(key)
    if value is not None and not _relative_dir(value):
        raise InputError(manifest, key, f"expected {expected}")
    return value


@dataclass
class Snapshot:
    """A recorded set of upstream answers on disk."""

    root: Path
    indexes: dict[str, str]  # intent index URL (or "default") -> upstream directory name
    apt: dict[str, str] = field(default_factory=dict)  # apt archive URL (snapshot included) -> directory
    nvidia: str | None = None  # directory holding runfiles.json: recorded digests of NVIDIA runfiles
    hf: str | None = None  # directory of the Hugging Face Hub recording
    aws: str | None = None  # directory of recorded AWS answers (replay_aws.RECORDING)
    files: str | None = None  # directory of recorded [[files]] downloads: urls.json maps each URL to a file there
    registry: str | None = None  # directory of recorded container registries (imagelock/replay/registry.py)

    @classmethod
    def open(cls, root: str | Path) -> Snapshot:
        root = Path(root)
        if not root.is_dir():
            raise InputError(None, "--replay", f"{root}: expected a snapshot directory holding snapshot.json")
        manifest = root / "snapshot.json"
        data = load_json(read_text(manifest, "no such snapshot manifest"), manifest, "a snapshot manifest")
        if not isinstance(data, dict):
            raise InputError(manifest, None, "expected a JSON object")
        indexes = data.get("indexes", {})
        if not isinstance(indexes, dict):
            raise InputError(manifest, "indexes", "expected a table of index URL -> directory")
        apt = data.get("apt", {})
        if not isinstance(apt, dict):
            raise InputError(manifest, "apt", "expected a table of apt archive URL -> directory")
        nvidia = _named_dir(
            data,
            manifest,
            "nvidia",
            'the directory that holds runfiles.json, relative to the snapshot (such as "nvidia")',
        )
        hf = _named_dir(
            data, manifest, "hf", 'the directory of the Hub recording, relative to the snapshot (such as "hf")'
        )
        aws = _named_dir(
            data, manifest, "aws", 'the directory of the AWS recording, relative to the snapshot (such as "aws")'
        )
        files = _named_dir(
            data, manifest, "files", 'the directory of recorded files, relative to the snapshot ("files")'
        )
        registry = _named_dir(
            data,
            manifest,
            "registry",
            'the directory of recorded container registries, relative to the snapshot ("registry")',
        )
        return cls(
            root=root,
            indexes={str(k): str(v) for k, v in indexes.items()},
            apt={str(k).rstrip("/"): str(v) for k, v in apt.items()},
            nvidia=nvidia,
            hf=hf,
            aws=aws,
            files=files,
            registry=registry,
        )

    def recorded_files(self) -> dict[str, str | NotRecorded]:
        """[[files]] URL -> the recorded copy's path under the files directory, or NotRecorded for a URL listed
        as `{"_unrecorded": "<why>"}` (known, its bytes not recorded) ({} when no files are recorded)."""
        if self.files is None:
            return {}
        path = self.root / self.files / "urls.json"
        urls = load_json(read_text(path, 'no such file (snapshot.json names it under "files")'), path, "URLs")
        if not isinstance(urls, dict):
            raise InputError(path, None, "expected a table of URL -> a file path relative to this directory")
        out: dict[str, str | NotRecorded] = {}
        for url, value in urls.items():
            if isinstance(value, str) and _relative_file(value):
                out[url] = value
            elif isinstance(value, dict) and set(value) == {"_unrecorded"} and isinstance(value["_unrecorded"], str):
                out[url] = NotRecorded(value["_unrecorded"])
            else:
                raise InputError(
                    path,
                    str(url),
                    "expected a file path relative to this directory, "
                    'or {"_unrecorded": "<why the bytes are not here>"}',
                )
        return out

    def recorded_runfiles(self) -> dict[str, dict[str, object]]:
        """Runfile name -> its recorded digests ({} when the snapshot records none).

        A runfile is gigabytes, so a recording keeps what it is (sha256, md5,
        size, and where each value comes from) rather than its bytes.
        """
        if self.nvidia is None:
            return {}
        path = self.root / self.nvidia / "runfiles.json"
        try:
            runfiles = load_json(
                read_text(path, 'no such file (snapshot.json names it under "nvidia")'), path, "recorded runfiles"
            ).get("runfiles", {})
        except AttributeError as exc:
            raise InputError(path, None, f'expected a JSON object with a "runfiles" table ({exc})') from None
        if not isinstance(runfiles, dict):
            raise InputError(path, "runfiles", "expected a table of runfile name -> digests")
        return runfiles

    def hub(self) -> HubRecording | None:
        """The Hub recording `hf` names, read and checked whole; None when there is none."""
        folder = self._folder("hf", self.hf, "the Hub recording (<org>--<name>.json files)")
        return HubRecording.load(folder) if folder else None

    def registries(self) -> RegistryRecording | None:
        """The recorded container registries, each blob checked against its digest; None when there are none."""
        folder = self._folder("registry", self.registry, "<host>/<repository>/ OCI image layouts")
        return RegistryRecording.load(folder) if folder else None

    def _folder(self, key: str, name: str | None, expected: str) -> Path | None:
        """The recording directory snapshot.json names under `key`, which must be one; None when none is named."""
        if name is None:
            return None
        folder = self.root / name
        if not folder.is_dir():
            raise InputError(self.root / "snapshot.json", key, f"{folder} is not a directory: expected {expected}")
        return folder

    def upstream_urls(self) -> dict[str, str]:
        """File name -> upstream URL, across every recorded index."""
        urls: dict[str, str] = {}
        for name in sorted(set(self.indexes.values())):
            path = self.root / name / "upstream.json"
            if path.exists():
                recorded = load_json(read_text(path, "no such file"), path, "upstream URLs")
                if not isinstance(recorded, dict) or not all(isinstance(v, str) for v in recorded.values()):
                    raise InputError(path, None, "expected a table of file name -> upstream URL")
                urls.update(recorded)
        return urls


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive: uv opens many requests at once

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        return

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        parts = [unquote(p) for p in self.path.split("?", 1)[0].split("/") if p]
        root = self.server.root
        if self.path.startswith(f"/{REGISTRY_PREFIX}/") and self.server.registries is not None:
            return self._registry()
        if self.path.startswith(f"/{HUB_PREFIX}/") and self.server.hub is not None:
            return send(self, self.server.hub.reply(self.path[len(HUB_PREFIX) + 1 :]))
        if len(parts) >= 2 and parts[1] == "simple" and (root / parts[0]).is_dir():
            upstream = parts[0]
            if len(parts) == 2:
                return self._project_list(upstream)
            if len(parts) == 3:
                return self._project_page(upstream, parts[2])
        if len(parts) == 3 and parts[1] == "files" and (root / parts[0]).is_dir():
            return self._file(parts[0], parts[2])
        if len(parts) >= 3 and parts[0] == "apt":
            return self._apt_file(parts[1:])
        if len(parts) >= 2 and parts[0] == PLAIN_PREFIX and self.server.files is not None:
            return self._plain_file("/".join(parts[1:]))
        self._send(404, b"not found", "text/plain")

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        """Registries answer HEAD for manifests and blobs; nothing else here does."""
        if self.path.startswith(f"/{REGISTRY_PREFIX}/") and self.server.registries is not None:
            return self._registry()
        self._send(404, b"", "text/plain")

    def _registry(self) -> None:
        assert self.server.registries is not None
        reply = self.server.registries.reply(self.command, self.path[len(REGISTRY_PREFIX) + 1 :])
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def _plain_file(self, relative: str) -> None:
        """A recorded [[files]] download, by its path in the recording (never outside it)."""
        folder = self.server.files
        assert folder is not None
        path = (folder / relative).resolve()
        if not _relative_file(relative) or not path.is_relative_to(folder.resolve()) or not path.is_file():
            return self._send(404, b"not found", "text/plain")
        self._send_file(path)

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        """AWS's EC2 and SSM APIs are POSTs; nothing else here is."""
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.server.aws is None:
            return self._send(404, b"not found", "text/plain")
        answer = replay_aws.respond(self.server.aws, self.path, self.headers.get("X-Amz-Target", ""), body)
        self._send(answer.status, answer.body, answer.content_type)

    def _project_list(self, upstream: str) -> None:
        names = sorted(p.stem for p in (self.server.root / upstream / "pages").glob("*.json"))
        body = json.dumps({"meta": {"api-version": "1.1"}, "projects": [{"name": n} for n in names]})
        self._send(200, body.encode(), SIMPLE_JSON)

    def _project_page(self, upstream: str, project: str) -> None:
        name = canonicalize_name(project)
        page_path = self.server.root / upstream / "pages" / f"{name}.json"
        if not page_path.exists():
            return self._send(404, b"no such project", "text/plain")
        try:
            page = load_json(read_text(page_path, "no such page"), page_path, "a recorded index page")
        except InputError as exc:  # a broken recording answers as a broken upstream would, never a traceback
            return self._send(502, str(exc).encode(), "text/plain")
        files = page.get("files") if isinstance(page, dict) else None
        entries: list[Any] = files if isinstance(files, list) else [None]
        if not all(isinstance(e, dict) and isinstance(e.get("filename"), str) for e in entries):
            return self._send(502, f"{page_path}: files: expected PEP 691 file entries".encode(), "text/plain")
        base = f"http://{self.headers.get('Host', '127.0.0.1')}/{upstream}/files/"
        for entry in entries:
            entry["url"] = base + entry["filename"]
        page.setdefault("meta", {"api-version": "1.1"})
        self._send(200, json.dumps(page).encode(), SIMPLE_JSON)

    def _file(self, upstream: str, filename: str) -> None:
        if "/" in filename or filename.startswith("."):
            return self._send(404, b"not found", "text/plain")
        folder = "metadata" if filename.endswith(".metadata") else "files"
        path = self.server.root / upstream / folder / filename
        if not path.is_file():
            return self._send(404, b"not recorded", "text/plain")
        self._send_file(path)

    def _apt_file(self, parts: list[str]) -> None:
        """A recorded apt archive is served as static files (dists/..., by-hash/...)."""
        if any(p in (".", "..") or p.startswith(".") for p in parts) or parts[0] not in self.server.apt_dirs:
            return self._send(404, b"not found", "text/plain")
        path = self.server.root.joinpath(*parts)
        if not path.is_file():
            return self._send(404, b"not recorded", "text/plain")
        self._send_file(path)

    def _send_file(self, path: Path) -> None:
        """A recorded file's bytes: a regular file (read bounded); anything else is not recorded."""
        try:
            body = read_bytes(path, "not recorded", RECORDED_FILE_BYTES)
        except InputError as exc:
            return self._send(404, f"not recorded: {exc}".encode(), "text/plain")
        self._send(200, body, "application/octet-stream")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=600")
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default (5) drops uv's parallel connects and stalls it for seconds
    root: Path
    apt_dirs: set[str]
    hub: HubRecording | None
    aws: replay_aws.Recording | None
    files: Path | None
    registries: RegistryRecording | None


class ReplayServer:
    """A snapshot served on 127.0.0.1 for as long as the `with` block lasts."""

    def __init__(
        self, snapshot: Snapshot, handler: type[BaseHTTPRequestHandler] = _Handler, port: int | None = None
    ) -> None:
        self.snapshot = snapshot
        hub = snapshot.hub()  # a broken recording is refused before a port is taken
        aws = replay_aws.Recording.open(snapshot.root / snapshot.aws) if snapshot.aws else None
        registries = snapshot.registries()
        self._server = self._bind(handler) if port is None else _Server(("127.0.0.1", port), handler)
        self._server.root = snapshot.root
        self._server.apt_dirs = set(snapshot.apt.values())
        self._server.hub = hub
        self._server.aws = aws
        self._server.registries = registries
        self._recorded_files = snapshot.recorded_files()
        self._server.files = snapshot.root / snapshot.files if snapshot.files else None
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._urls: dict[str, str] | None = None

    def _bind(self, handler: type[BaseHTTPRequestHandler]) -> _Server:
        """A port derived from the snapshot's path, so URLs (and uv's cache keys) repeat
        from run to run; any free port when that one is taken."""
        stable = 20000 + int(hashlib.sha256(str(self.snapshot.root.resolve()).encode()).hexdigest(), 16) % 20000
        try:
            return _Server(("127.0.0.1", stable), handler)
        except OSError:
            return _Server(("127.0.0.1", 0), handler)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}" if isinstance(host, str) else f"http://{host.decode()}:{port}"

    def index_url(self, upstream: str) -> str:
        return f"{self.base_url}/{upstream}/simple"

    def local_index(self, intent_url: str | None) -> str | None:
        """The loopback URL that stands in for an intent's index URL (None: the default index)."""
        key = DEFAULT_INDEX_KEY if intent_url is None else intent_url.rstrip("/")
        for recorded, upstream in self.snapshot.indexes.items():
            if recorded.rstrip("/") == key:
                return self.index_url(upstream)
        return None

    def local_apt(self, archive_url: str) -> str | None:
        """The loopback URL standing in for an apt archive URL (snapshot included), if recorded."""
        folder = self.snapshot.apt.get(archive_url.rstrip("/"))
        return f"{self.base_url}/apt/{folder}" if folder else None

    def hub_endpoint(self) -> str | None:
        """The loopback URL standing in for the Hugging Face Hub, if the snapshot recorded it."""
        return f"{self.base_url}/{HUB_PREFIX}" if self._server.hub is not None else None

    def apt_recording(self, archive_url: str) -> Path | None:
        """The directory recording an apt archive URL (snapshot included), if any."""
        folder = self.snapshot.apt.get(archive_url.rstrip("/"))
        return self.snapshot.root / folder if folder else None

    def apt_keyring(self, archive_url: str) -> Path | None:
        """The keyring a trimmed recording was re-signed with (`keyring.gpg` in its directory).

        Trimming an index breaks the archive's own signature chain, so a recording
        carries the key that signed its trimmed Release. When it also keeps the
        distribution's signed InRelease files (`upstream/`), those are verified
        with the intent's keyring and the lock records the distribution's
        sources; otherwise it records this keyring's digest.
        """
        folder = self.apt_recording(archive_url)
        path = folder / "keyring.gpg" if folder else None
        return path if path is not None and path.is_file() else None

    def local_aws(self, region: str, service: str) -> str | None:
        """The loopback endpoint standing in for an AWS service in a region, if it was recorded."""
        recording = self._server.aws
        if recording is None or region not in recording.regions:
            return None
        return replay_aws.endpoint(self.base_url, region, service)

    # --- imagelock.net.upstreams.Upstreams: what the sources ask ----------------------

    def python_index(self, url: str | None, where: Where) -> str | None:
        local = self.local_index(url)
        if local is None:
            raise InputError(
                where[0],
                where[1],
                f"{redact(url) if url else 'the default index'} is not in {STAND_IN} "
                '(its snapshot.json lists the indexes it recorded under "indexes")',
            )
        return local

    def apt_archive(self, url: str, where: Where) -> AptAccess:
        fetch_base = self.local_apt(url)
        if fetch_base is None:
            raise InputError(
                where[0],
                where[1],
                f"{redact(url)} is not in {STAND_IN} "
                '(its snapshot.json lists the apt archives it recorded under "apt")',
            )
        return AptAccess(fetch_base=fetch_base, keyring=self.apt_keyring(url), recording=self.apt_recording(url))

    def hub(self, where: Where) -> HubAccess:
        local = self.hub_endpoint()
        if local is None:
            raise InputError(
                where[0],
                where[1],
                f'the Hugging Face Hub is not in {STAND_IN} (its snapshot.json has no "hf" entry naming one)',
            )
        return HubAccess(
            endpoint=local,
            token=None,
            stand_in=STAND_IN,
            gated_note="a replay sends no token: lock it against the Hub",
            missing_note='its snapshot.json lists the Hub recording under "hf"',
        )

    def aws_client(self, service: str, region: str, where: Where) -> Any:
        endpoint = self.local_aws(region, service)
        if endpoint is None:
            raise InputError(
                where[0],
                where[1],
                f'{region} is not in {STAND_IN} (its snapshot.json lists the AWS recording under "aws")',
            )
        return aws.client(service, region, endpoint_url=endpoint, unsigned=True)  # no credential is looked up

    def runfile(self, name: str, where: Where) -> RunfileRecord:
        record = self.snapshot.recorded_runfiles().get(name)
        if not isinstance(record, dict):
            raise InputError(
                where[0],
                where[1],
                f'{name} is not in {STAND_IN} (its snapshot.json names the runfile recording under "nvidia")',
            )
        return RunfileRecord(record=record, where=self.snapshot.root / (self.snapshot.nvidia or "") / "runfiles.json")

    def upstream_url(self, served: str, filename: str) -> str:
        urls = self._upstream_urls()
        if filename not in urls:
            raise UpstreamError(f"replay snapshot: no upstream URL recorded for {filename}")
        return urls[filename]

    def plain_file(self, url: str, where: Where) -> str:
        recorded = self._recorded_files.get(url)
        if isinstance(recorded, NotRecorded):
            raise NotRecorded(recorded.why)  # a fresh one per request: a raised exception keeps its traceback
        if recorded is None:
            raise InputError(
                where[0],
                where[1],
                f'{redact(url)} is not in {STAND_IN} (its snapshot.json names the files recording under "files")',
            )
        return f"{self.base_url}/{PLAIN_PREFIX}/{quote(recorded)}"

    def registry(self, host: str, plain_http: bool, where: Where) -> str:
        recorded = self._server.registries
        if recorded is None or host not in recorded.hosts:
            raise InputError(
                where[0],
                where[1],
                f"container registry {host} is not in {STAND_IN} "
                '(its snapshot.json names the registry recording under "registry")',
            )
        return f"{self.base_url}/{REGISTRY_PREFIX}/{quote(host, safe=':')}"

    def registry_image(self, host: str, repository: str, digest: str, where: Where) -> None:
        recorded = self._server.registries
        why = recorded.unrecorded(host, repository, digest) if recorded is not None else None
        if why is not None:
            raise NotRecorded(why)

    def _upstream_urls(self) -> dict[str, str]:
        if self._urls is None:
            self._urls = self.snapshot.upstream_urls()
        return self._urls

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
