"""A disk image as an OCI artifact (OCI image spec 1.1, "Guidelines for Artifact Usage"): an image manifest
with an `artifactType`, the empty config (`application/vnd.oci.empty.v1+json`, the two bytes `{}`), and one
layer, the disk image itself, titled with its file name as ORAS does, so `oras pull` writes it under that
name. The manifest carries no time: the same file from the same lock is the same manifest digest.
"""

from __future__ import annotations

import json
from typing import Any

from imagelock.disk.record import Release
from imagelock.hashing import sha256_bytes

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ARTIFACT_TYPE = "application/vnd.imagelock.disk.v1"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
EMPTY = b"{}"
LAYER = {"raw": "application/vnd.imagelock.disk.raw", "qcow2": "application/vnd.imagelock.disk.qcow2"}
TITLE = "org.opencontainers.image.title"
VERSION = "org.opencontainers.image.version"
LOCK_DIGEST = "dev.imagelock.lock.digest"
IMAGE = "dev.imagelock.image"
SHA256 = "dev.imagelock.disk.sha256"


def empty_digest() -> str:
    return "sha256:" + sha256_bytes(EMPTY)


def manifest(release: Release) -> bytes:
    """The manifest's exact bytes (what its digest is taken over)."""
    body: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "config": {"mediaType": EMPTY_CONFIG, "digest": empty_digest(), "size": len(EMPTY), "data": "e30="},
        "layers": [
            {
                "mediaType": LAYER[release.kind],
                "digest": f"sha256:{release.sha256}",
                "size": release.size,
                "annotations": {TITLE: release.file},
            }
        ],
        "annotations": {
            TITLE: release.file,
            VERSION: release.version,
            IMAGE: release.image,
            LOCK_DIGEST: release.lock_digest,
            SHA256: release.sha256,
        },
    }
    return json.dumps(body, indent=None, separators=(",", ":"), sort_keys=True).encode("utf-8")
