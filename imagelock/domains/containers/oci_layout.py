"""`lock mirror --to DIR` for container images: an OCI image layout at DIR/oci, filled by digest.

Spec: OCI image-spec v1.1, image-layout.md: `oci-layout`, `index.json`, `blobs/sha256/<hex>`. Each
locked image's top manifest (index or manifest), the manifests of its locked platforms, their configs
and layers are copied from the registry by digest, each checked (size and sha256) before it is renamed
into place; what is already there with the right bytes is not fetched again. `index.json` names each
image by the reference the intent asked for (annotation org.opencontainers.image.ref.name), so
`skopeo copy oci:DIR/oci:<reference> ...` or `ctr images import` reads it back. Only the locked
platforms' blobs are kept: an index's other platforms are referenced, not copied.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from imagelock.domains.containers.entry import ContainerImage
from imagelock.domains.containers.manifest import OCI_INDEX
from imagelock.domains.containers.registry import Registry
from imagelock.domains.contract import MirrorReport
from imagelock.errors import ImagelockError
from imagelock.hashing import digest_file
from imagelock.net import http
from imagelock.net.upstreams import LIVE

FOLDER = "oci"
REF_NAME = "org.opencontainers.image.ref.name"


def copy(layer: list[ContainerImage], directory: Path | None) -> MirrorReport:
    if directory is None:
        return MirrorReport(
            "containers",
            failed=["container images are mirrored to a directory (an OCI image layout) or to docker://registry"],
        )
    root = directory / FOLDER
    report = MirrorReport(f"containers (OCI image layout {root})")
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    _write(root / "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
    named: list[dict[str, object]] = []
    for i, image in enumerate(layer):
        try:
            _copy_image(image, root, f"containers[{i}] {image.image}", report)
        except ImagelockError as exc:
            report.failed.append(http.redact_text(str(exc)))
            continue
        named.append(
            {
                "mediaType": image.media_type,
                "digest": image.digest,
                "size": image.size,
                "annotations": {REF_NAME: image.image},
            }
        )
    _merge_index(root, named)
    return report


def _copy_image(image: ContainerImage, root: Path, what: str, report: MirrorReport) -> None:
    base = LIVE.registry(image.registry, image.plain_http, (Path("lock"), what))
    client = Registry(base, image.registry, image.repository, what)
    wanted = [(image.digest, image.size, True)]
    for p in image.platforms:
        wanted.append((p.manifest_digest, p.manifest_size, True))
        wanted += [(b.digest, b.size, False) for b in (p.config, *p.layers)]
    for digest, size, is_manifest in wanted:
        final = root / "blobs" / "sha256" / digest.removeprefix("sha256:")
        if final.is_file() and final.stat().st_size == size and digest_file(final).sha256 == final.name:
            report.present += 1
            continue
        if is_manifest:
            _write(final, client.manifest(digest).body)  # Registry.manifest checks the bytes against digest
        else:
            _fetch_blob(client, digest, size, final)
        report.copied += 1


def _fetch_blob(client: Registry, digest: str, size: int, final: Path) -> None:
    """A blob downloaded beside its final name, and renamed into place only once its bytes are the digest's."""
    scratch = final.with_name(final.name + ".download")
    got = client.download(digest, scratch, size)
    if f"sha256:{got.sha256}" != digest or got.size != size:
        scratch.unlink(missing_ok=True)
        raise ImagelockError(
            f"{client.what}: {http.redact(client.blob_url(digest))} served {got.size} bytes with sha256 "
            f"{got.sha256}, the lock records {digest} ({size} bytes)"
        )
    os.chmod(scratch, 0o644)
    os.replace(scratch, final)


def _merge_index(root: Path, named: list[dict[str, object]]) -> None:
    """index.json: what was there, with each image copied now replacing any entry of the same name."""
    path = root / "index.json"
    manifests: list[dict[str, object]] = []
    try:
        existing = json.loads(path.read_text(encoding="utf-8"))
        manifests = [m for m in existing.get("manifests", []) if isinstance(m, dict)]
    except (OSError, ValueError, AttributeError):
        pass
    names = {_name(m) for m in named}
    manifests = [m for m in manifests if _name(m) not in names] + named
    manifests.sort(key=lambda m: (_name(m), str(m.get("digest"))))
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    _write(path, json.dumps(index, indent=2, sort_keys=True).encode() + b"\n")


def _name(entry: dict[str, object]) -> str:
    annotations = entry.get("annotations")
    return str(annotations.get(REF_NAME, "")) if isinstance(annotations, dict) else ""


def _write(path: Path, body: bytes) -> None:
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:16]}.", suffix=".part")
    with os.fdopen(handle, "wb") as out:
        out.write(body)
    os.chmod(temp, 0o644)
    os.replace(temp, path)
