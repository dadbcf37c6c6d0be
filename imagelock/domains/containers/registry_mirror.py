"""`lock mirror --to docker://HOST[:PORT][/PREFIX]`: each locked image copied by digest into a mirror registry.

The mirror keeps each image under the same repository path (after PREFIX), as containerd's `hosts.toml`
mirrors and Docker's `registry-mirrors` expect. What is copied is everything the locked digest names, so the
mirror serves `<mirror>/<repository>@<digest>` as the source did: an index's every manifest (a registry takes
an index only once it holds what it lists), each manifest's config and layers. Each manifest is checked
against its digest as it arrives (imagelock.domains.containers.registry); each blob is downloaded, its size
and sha256 compared with the descriptor that names it, and only then uploaded; the mirror checks the digest
again as it stores it. What the mirror already holds is not copied again. Nothing is tagged.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from imagelock.domains.containers import manifest
from imagelock.domains.containers.entry import ContainerImage
from imagelock.domains.containers.manifest import Blob, ManifestError
from imagelock.domains.containers.registry import Document, Registry
from imagelock.domains.contract import MirrorReport
from imagelock.errors import ImagelockError, InputError, VerificationError
from imagelock.formats.oci_reference import is_loopback
from imagelock.net import http
from imagelock.net.upstreams import LIVE

SCHEME = "docker://"


def split(target: str) -> tuple[str, str]:
    """`docker://HOST[:PORT][/PREFIX]` -> (host[:port], prefix without slashes); bad -> InputError on --to."""
    host, _, prefix = target.removeprefix(SCHEME).partition("/")
    prefix = prefix.strip("/")
    if not host or "@" in host or any(c.isspace() for c in target) or (prefix and prefix != prefix.lower()):
        raise InputError(None, "--to", f"expected docker://host[:port][/lower-case/prefix], found {target!r}")
    return host, prefix


def copy(layer: list[ContainerImage], target: str) -> MirrorReport:
    host, prefix = split(target)
    report = MirrorReport(f"containers (registry {host}{'/' + prefix if prefix else ''})")
    base = f"{'http' if is_loopback(host) else 'https'}://{host}"  # plain HTTP only on loopback, as Docker
    with tempfile.TemporaryDirectory(prefix="imagelock-mirror-") as scratch:
        for i, image in enumerate(layer):
            what = f"containers[{i}] {image.image}"
            source = Registry(
                LIVE.registry(image.registry, image.plain_http, (Path("lock"), what)),
                image.registry,
                image.repository,
                what,
            )
            path = f"{prefix}/{image.repository}" if prefix else image.repository
            mirror = Registry(base, host, path, f"{what} -> {host}/{path}", actions="pull,push")
            try:
                _copy_manifest(source, mirror, Blob(image.digest, image.size, image.media_type), Path(scratch), report)
            except (ImagelockError, ManifestError) as exc:
                report.failed.append(http.redact_text(f"{what}: {exc}" if isinstance(exc, ManifestError) else str(exc)))
    return report


def _copy_manifest(source: Registry, mirror: Registry, wanted: Blob, scratch: Path, report: MirrorReport) -> None:
    """A manifest or index, after everything it names; the source's bytes checked against `wanted`."""
    if mirror.status("manifests", wanted.digest) == 200:
        report.present += 1
        return
    document: Document = source.manifest(wanted.digest)  # checked: its bytes hash to the digest asked for
    if len(document.body) != wanted.size:
        raise VerificationError(
            f"{source.what}: manifest {wanted.digest} is {len(document.body)} bytes, not {wanted.size}"
        )
    kind = manifest.media_type(document.body, wanted.media_type)
    if kind in manifest.INDEXES:
        for child in manifest.references(document.body):
            _copy_manifest(source, mirror, child, scratch, report)
    else:
        image = manifest.image_manifest(document.body)
        for blob in (image.config, *image.layers):
            _copy_blob(source, mirror, blob, scratch, report)
    mirror.push_manifest(document.digest, document.body, kind)
    report.copied += 1


def _copy_blob(source: Registry, mirror: Registry, blob: Blob, scratch: Path, report: MirrorReport) -> None:
    if mirror.status("blobs", blob.digest) == 200:
        report.present += 1
        return
    path = scratch / blob.digest.removeprefix("sha256:")
    try:
        got = source.download(blob.digest, path, blob.size)
        if f"sha256:{got.sha256}" != blob.digest or got.size != blob.size:
            raise VerificationError(
                f"{source.what}: {http.redact(source.blob_url(blob.digest))} served {got.size} bytes with sha256 "
                f"{got.sha256}, the manifest names {blob.digest} ({blob.size} bytes); nothing was uploaded"
            )
        mirror.push_blob(blob.digest, blob.size, path)
    finally:
        path.unlink(missing_ok=True)
    report.copied += 1
