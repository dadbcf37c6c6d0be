"""OCI image index and manifest documents, and their Docker v2 equivalents, read strictly.

Specs: OCI image-spec v1.1 (image-index.md, manifest.md, descriptor.md) and Docker's Image Manifest
V2 Schema 2 (manifest list and manifest). A digest is the sha256 of the exact bytes served, so the
caller hashes the bytes; this module reads what they say.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from imagelock.domains.containers.entry import Blob
from imagelock.formats.oci_reference import DIGEST

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEXES = (OCI_INDEX, DOCKER_LIST)
MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join((*INDEXES, *MANIFESTS))


class ManifestError(ValueError):
    """A document that is not the index or manifest it claims to be."""


@dataclass(frozen=True)
class Entry:
    """One manifest an index lists, for one platform."""

    platform: str
    digest: str
    size: int
    media_type: str


@dataclass(frozen=True)
class Manifest:
    config: Blob
    layers: list[Blob]


def media_type(body: bytes, served: str) -> str:
    """The document's media type: its own `mediaType` field, else the Content-Type it was served with."""
    document = _load(body)
    declared = document.get("mediaType")
    kind = declared if isinstance(declared, str) else served.split(";", 1)[0].strip()
    if kind not in (*INDEXES, *MANIFESTS):
        raise ManifestError(f"unsupported manifest media type {kind!r} (expected an OCI or Docker v2 index/manifest)")
    return kind


def platform_of(value: Any) -> str:
    """os/architecture[/variant] of an index entry's platform object."""
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("os"), str)
        or not isinstance(value.get("architecture"), str)
    ):
        return ""
    variant = value.get("variant")
    return f"{value['os']}/{value['architecture']}" + (f"/{variant}" if isinstance(variant, str) and variant else "")


def index_entries(body: bytes) -> list[Entry]:
    """The platform manifests an index lists (attestation manifests, which have no platform, are left out)."""
    document = _load(body)
    manifests = document.get("manifests")
    if not isinstance(manifests, list):
        raise ManifestError("an index without a manifests array")
    out = []
    for item in manifests:
        descriptor = _descriptor(item, "manifests[]")
        platform = platform_of(item.get("platform"))
        if platform and platform != "unknown/unknown":
            out.append(Entry(platform, descriptor.digest, descriptor.size, descriptor.media_type))
    return out


def references(body: bytes) -> list[Blob]:
    """Every manifest an index lists, attestations and all: what a registry must hold before it takes the index."""
    manifests = _load(body).get("manifests")
    if not isinstance(manifests, list):
        raise ManifestError("an index without a manifests array")
    return [_descriptor(item, "manifests[]") for item in manifests]


def image_manifest(body: bytes) -> Manifest:
    """The config and the layers, in order, that an image manifest names."""
    document = _load(body)
    if document.get("schemaVersion") != 2:
        raise ManifestError("expected schemaVersion 2")
    layers = document.get("layers")
    if not isinstance(layers, list):
        raise ManifestError("a manifest without a layers array")
    return Manifest(_descriptor(document.get("config"), "config"), [_descriptor(x, "layers[]") for x in layers])


def config_platform(body: bytes) -> str:
    """os/architecture[/variant] an image config says it is for (a single-platform reference's platform)."""
    return platform_of(_load(body))


def _descriptor(value: Any, where: str) -> Blob:
    if not isinstance(value, dict):
        raise ManifestError(f"{where}: expected a descriptor")
    digest, size, kind = value.get("digest"), value.get("size"), value.get("mediaType")
    if not isinstance(digest, str) or not DIGEST.match(digest):
        raise ManifestError(f"{where}: digest {digest!r} is not sha256:<64 hex> (the only algorithm locked)")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ManifestError(f"{where}: size {size!r} is not a byte count")
    if not isinstance(kind, str):
        raise ManifestError(f"{where}: no mediaType")
    return Blob(digest, size, kind)


def _load(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ManifestError("not JSON") from None
    if not isinstance(document, dict):
        raise ManifestError("not a JSON object")
    return document
