"""`lock mirror --to DIR|s3://…|http(s)://…` for container images: an OCI image layout under `oci/`, by digest.

Spec: OCI image-spec v1.1, image-layout.md: `oci-layout`, `index.json`, `blobs/sha256/<hex>`. The layout is
written through the mirror's store (imagelock.domains.contract.MirrorStore), so a directory, an S3 prefix and
an HTTP prefix hold the same files. Each locked image's locked platforms' configs and layers, then their
manifests, then its top manifest (index or manifest) are copied from the registry by digest; each is checked
(size and sha256) in a scratch directory before it is stored, and the store checks what it holds after. A
blob that does not match stops its image there, so nothing that names it is stored; `index.json` is written
last, naming only the images stored whole. What the store already holds is not fetched again. `index.json`
names each image by the reference the intent asked for (annotation org.opencontainers.image.ref.name), so
`skopeo copy oci:DIR/oci:<reference> ...` or `ctr images import` reads it back. Only the locked platforms'
blobs are kept: an index's other platforms are referenced, not copied.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from imagelock.domains.containers.entry import ContainerImage
from imagelock.domains.containers.manifest import OCI_INDEX
from imagelock.domains.containers.registry import Registry
from imagelock.domains.contract import MirrorReport, MirrorStore
from imagelock.errors import ImagelockError, VerificationError
from imagelock.net import http
from imagelock.net.upstreams import LIVE

FOLDER = "oci"
REF_NAME = "org.opencontainers.image.ref.name"


def copy(layer: list[ContainerImage], store: MirrorStore | None) -> MirrorReport:
    if store is None:
        return MirrorReport(
            "containers",
            failed=[
                "container images are mirrored to a directory, s3:// or http(s):// (an OCI image layout) "
                "or to docker://registry"
            ],
        )
    report = MirrorReport(f"containers (OCI image layout {store.name}/{FOLDER})")
    named: list[dict[str, object]] = []
    staging = http.cache_dir() / "downloads"  # where `lock mirror` stages every download, not a small /tmp
    staging.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="oci-", dir=staging) as scratch:
        for i, image in enumerate(layer):
            try:
                _copy_image(image, store, Path(scratch), f"containers[{i}] {image.image}", report)
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
    if named:  # last: a reader that finds index.json finds every blob it names
        try:
            _write_changed(store, f"{FOLDER}/oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
            _merge_index(store, named)
        except ImagelockError as exc:
            report.failed.append(http.redact_text(f"{FOLDER}/index.json: {exc}"))
    return report


def _copy_image(image: ContainerImage, store: MirrorStore, scratch: Path, what: str, report: MirrorReport) -> None:
    """What names a blob is stored after it: each platform's config and layers, its manifest, then the top."""
    base = LIVE.registry(image.registry, image.plain_http, (Path("lock"), what))
    client = Registry(base, image.registry, image.repository, what)
    wanted: list[tuple[str, int, bool]] = []
    for p in image.platforms:
        wanted += [(b.digest, b.size, False) for b in (p.config, *p.layers)]
        wanted.append((p.manifest_digest, p.manifest_size, True))
    wanted.append((image.digest, image.size, True))
    seen: set[str] = set()
    for digest, size, is_manifest in wanted:
        if digest in seen:  # a single-manifest image: its top manifest is its platform's
            continue
        seen.add(digest)
        hexdigest = digest.removeprefix("sha256:")
        path = f"{FOLDER}/blobs/sha256/{hexdigest}"
        if store.holds(path, hexdigest, size):
            report.present += 1
            continue
        local = scratch / hexdigest
        try:
            if is_manifest:
                _fetch_manifest(client, digest, size, local)
            else:
                _fetch_blob(client, digest, size, local)
            store.put(path, local, hexdigest)
        finally:
            local.unlink(missing_ok=True)
        report.copied += 1


def _fetch_manifest(client: Registry, digest: str, size: int, local: Path) -> None:
    body = client.manifest(digest).body  # Registry.manifest checks the bytes against the digest
    if len(body) != size:
        raise VerificationError(f"{client.what}: manifest {digest} is {len(body)} bytes, the lock records {size}")
    local.write_bytes(body)


def _fetch_blob(client: Registry, digest: str, size: int, local: Path) -> None:
    """A blob downloaded to scratch and kept only once its bytes are the digest's."""
    got = client.download(digest, local, size)
    if f"sha256:{got.sha256}" != digest or got.size != size:
        raise VerificationError(
            f"{client.what}: {http.redact(client.blob_url(digest))} served {got.size} bytes with sha256 "
            f"{got.sha256}, the lock records {digest} ({size} bytes); not stored, nor anything naming it"
        )


def _merge_index(store: MirrorStore, named: list[dict[str, object]]) -> None:
    """index.json: what was there, with each image copied now replacing any entry of the same name."""
    manifests: list[dict[str, object]] = []
    held = store.read(f"{FOLDER}/index.json")
    try:
        existing = json.loads(held or b"{}")
        manifests = [m for m in existing.get("manifests", []) if isinstance(m, dict)]
    except (ValueError, AttributeError):
        pass
    names = {_name(m) for m in named}
    manifests = [m for m in manifests if _name(m) not in names] + named
    manifests.sort(key=lambda m: (_name(m), str(m.get("digest"))))
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    body = json.dumps(index, indent=2, sort_keys=True).encode() + b"\n"
    if body != held:
        store.write(f"{FOLDER}/index.json", body)


def _write_changed(store: MirrorStore, path: str, body: bytes) -> None:
    """A document stored only when the store does not hold these very bytes: a second run uploads nothing."""
    if store.read(path) != body:
        store.write(path, body)


def _name(entry: dict[str, object]) -> str:
    annotations = entry.get("annotations")
    return str(annotations.get(REF_NAME, "")) if isinstance(annotations, dict) else ""
