"""Recorded container registry answers, served as a registry serves them (the v2 API's read side).

A recording holds, per registry host and repository, an OCI image layout (image-spec image-layout.md):

    <host>/<repository>/oci-layout
    <host>/<repository>/index.json          one descriptor per recorded tag: its digest, media type and
                                            size, the tag in `org.opencontainers.image.ref.name`
    <host>/<repository>/blobs/sha256/<hex>  the manifests, indexes and image configs as served, byte for byte

`<host>` is the host[:port] the v2 API was read from (`registry-1.docker.io` for docker.io). Layers are
not recorded: `lock update` reads manifests and, for a single-platform image, its config, never a layer.
A recording is refused when a blob's bytes do not hash to its name, so what is served is what the
registry served. Descriptors may carry `io.imagelock.source` (where the bytes were read or quoted
from) and `io.imagelock.recorded-at` annotations: the recording's provenance, not served.

Where a public source quotes an image's digest but not its bytes, `<host>/<repository>/unrecorded.json`
lists it, `{"sha256:<hex>": "<why the bytes are not here, and who quotes the digest>"}`: the replay
answers such a reference with NotRecorded (imagelock.net.upstreams), and `lock update` locks the image
by that digest alone, which `lock check` reports.

Answers follow the distribution spec: `GET /v2/` (200, `Docker-Distribution-API-Version: registry/2.0`),
`GET|HEAD /v2/<name>/manifests/<tag or digest>` with the manifest's media type as Content-Type and
`Docker-Content-Digest`, `GET|HEAD /v2/<name>/blobs/<digest>`, and the spec's JSON errors
(NAME_UNKNOWN, MANIFEST_UNKNOWN, BLOB_UNKNOWN) with 404. The replay server mounts each host under
`/registry/<host>`, so the client's base URL names the host and its requests are the ordinary v2 paths.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imagelock.errors import InputError
from imagelock.formats.oci_reference import DIGEST
from imagelock.hashing import sha256_bytes
from imagelock.untrusted import load_json, read_bytes, read_text

PREFIX = "registry"  # where the replay server mounts the recorded hosts
UNRECORDED = "unrecorded.json"
REF_NAME = "org.opencontainers.image.ref.name"
SOURCE = "io.imagelock.source"
RECORDED_AT = "io.imagelock.recorded-at"
LAYOUT = '{"imageLayoutVersion":"1.0.0"}'
MAX_BLOB = 4 << 20  # manifests and configs only; distribution refuses manifests over 4 MiB
API_VERSION = ("Docker-Distribution-API-Version", "registry/2.0")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@dataclass
class Repository:
    """One recorded repository: tag -> digest, digest -> bytes and media type."""

    tags: dict[str, str] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    media_types: dict[str, str] = field(default_factory=dict)
    unrecorded: dict[str, str] = field(default_factory=dict)  # digest -> why its bytes are not recorded


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class RegistryRecording:
    """Every recorded repository, by host and repository name."""

    hosts: dict[str, dict[str, Repository]] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path) -> RegistryRecording:
        """Read every layout under `root`; a broken one is one InputError naming its file."""
        recording = cls()
        markers = {*root.glob("*/**/oci-layout"), *root.glob(f"*/**/{UNRECORDED}")}
        for layout in sorted({marker.parent for marker in markers}):
            host, *path = layout.relative_to(root).parts
            recording.hosts.setdefault(host, {})["/".join(path)] = _repository(layout)
        return recording

    def unrecorded(self, host: str, repository: str, digest: str) -> str | None:
        """Why an image's bytes are not recorded, for one the recording lists by digest only."""
        found = self.hosts.get(host, {}).get(repository)
        return found.unrecorded.get(digest) if found is not None else None

    def reply(self, method: str, path: str) -> Reply:
        """The answer to one request under /registry/<host>/v2/."""
        parts = [p for p in path.split("?", 1)[0].split("/") if p]
        if len(parts) < 2 or parts[1] != "v2" or parts[0] not in self.hosts:
            return _error(404, "NAME_UNKNOWN", "repository name not known to registry")
        if len(parts) == 2:
            return Reply(200, b"{}", "application/json", (API_VERSION,))
        if len(parts) < 5 or parts[-2] not in ("manifests", "blobs"):
            return _error(404, "UNSUPPORTED", "the replayed recording answers manifests and blobs only")
        repository = self.hosts[parts[0]].get("/".join(parts[2:-2]))
        if repository is None:
            return _error(404, "NAME_UNKNOWN", "repository name not known to registry")
        if parts[-2] == "manifests":
            return _manifest(repository, parts[-1])
        return _blob(repository, parts[-1])


def _manifest(repository: Repository, reference: str) -> Reply:
    digest = reference if DIGEST.match(reference) else repository.tags.get(reference)
    media_type = repository.media_types.get(digest or "")
    if digest is None or media_type is None or digest not in repository.blobs:
        return _error(404, "MANIFEST_UNKNOWN", "manifest unknown")
    return Reply(200, repository.blobs[digest], media_type, (("Docker-Content-Digest", digest), API_VERSION))


def _blob(repository: Repository, digest: str) -> Reply:
    body = repository.blobs.get(digest)
    if body is None:
        return _error(404, "BLOB_UNKNOWN", "blob unknown to registry (layers are not recorded)")
    return Reply(200, body, "application/octet-stream", (("Docker-Content-Digest", digest), API_VERSION))


def _error(status: int, code: str, message: str) -> Reply:
    body = json.dumps({"errors": [{"code": code, "message": message, "detail": None}]}).encode()
    return Reply(status, body, "application/json", (API_VERSION,))


def _repository(layout: Path) -> Repository:
    """One layout: its blobs checked against their names, its tags and every manifest's media type."""
    repository = Repository(unrecorded=_unrecorded(layout / UNRECORDED))
    if not (layout / "oci-layout").exists():
        return repository
    for blob in sorted((layout / "blobs" / "sha256").glob("*")):
        body = read_bytes(blob, "no such blob", MAX_BLOB)
        if sha256_bytes(body) != blob.name:
            raise InputError(blob, None, f"its bytes hash to sha256:{sha256_bytes(body)}, not to its name")
        repository.blobs["sha256:" + blob.name] = body
    path = layout / "index.json"
    index = load_json(read_text(path, "no such file (an OCI image layout lists its tags there)"), path, "tags")
    entries = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(entries, list):
        raise InputError(path, "manifests", "expected an OCI image index: a list of descriptors")
    for i, entry in enumerate(entries):
        digest, media_type, tag = _descriptor(path, i, entry)
        if digest not in repository.blobs:
            raise InputError(path, f"manifests[{i}].digest", f"{digest} is not under blobs/sha256")
        repository.tags[tag] = digest
        repository.media_types[digest] = media_type
    for body in repository.blobs.values():  # the manifests an index lists, by the type it lists them as
        for child in _children(body):
            repository.media_types.setdefault(child[0], child[1])
    for digest, body in repository.blobs.items():  # a manifest by digest alone: the type it declares
        declared = _declared(body)
        if declared is not None:
            repository.media_types.setdefault(digest, declared)
    return repository


def _unrecorded(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    listed = load_json(read_text(path, "no such file"), path, "images known by digest only")
    if not isinstance(listed, dict):
        raise InputError(path, None, 'expected a table of "sha256:<hex>" -> why its bytes are not recorded')
    for digest, why in listed.items():
        if not DIGEST.match(digest) or not isinstance(why, str) or not why:
            raise InputError(path, digest, "expected a sha256:<64 hex> digest -> why its bytes are not recorded")
    return dict(listed)


def _descriptor(path: Path, i: int, entry: Any) -> tuple[str, str, str]:
    where = f"manifests[{i}]"
    if not isinstance(entry, dict):
        raise InputError(path, where, "expected a descriptor")
    digest, media_type = entry.get("digest"), entry.get("mediaType")
    annotations = entry.get("annotations")
    tag = annotations.get(REF_NAME) if isinstance(annotations, dict) else None
    if not isinstance(digest, str) or not DIGEST.match(digest):
        raise InputError(path, f"{where}.digest", "expected sha256:<64 hex>")
    if not isinstance(media_type, str) or not media_type:
        raise InputError(path, f"{where}.mediaType", "expected the media type the registry served it with")
    if not isinstance(tag, str) or not _TAG.match(tag):
        raise InputError(path, f"{where}.annotations", f"expected the tag in {REF_NAME}")
    return digest, media_type, tag


def _document(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return document if isinstance(document, dict) else {}


def _children(body: bytes) -> list[tuple[str, str]]:
    manifests = _document(body).get("manifests")
    if not isinstance(manifests, list):
        return []
    return [
        (m["digest"], m["mediaType"])
        for m in manifests
        if isinstance(m, dict) and isinstance(m.get("digest"), str) and isinstance(m.get("mediaType"), str)
    ]


def _declared(body: bytes) -> str | None:
    document = _document(body)
    declared = document.get("mediaType")
    return declared if isinstance(declared, str) and ("manifests" in document or "layers" in document) else None
