"""The containers domain: `[[containers]]` -> images pinned by digest, pre-pulled by the build.

Container images are not Artifacts (imagelock.lock.artifact): their blobs are fetched through a
registry's token auth and pulled by the image's container runtime, which verifies each digest itself,
not by the build's generic file step. So `lock mirror` copies them through this domain's own step (an
OCI image layout in a directory, S3 or HTTP mirror, imagelock.domains.containers.oci_layout, or a mirror registry,
imagelock.domains.containers.registry_mirror), bootstrap.sh pulls
them by digest (imagelock.build.bootstrap's CONTAINER_IMAGES) and drift compares the runtime's
image list with the lock. docs/containers.md.
"""

from __future__ import annotations

from collections.abc import Iterator

from imagelock.domains.containers import sbom
from imagelock.domains.containers.entry import ContainerImage
from imagelock.domains.contract import Domain
from imagelock.formats.oci_reference import DIGEST, is_loopback
from imagelock.intent import containers as intent
from imagelock.intent.document import Intent
from imagelock.lock.diff import Item
from imagelock.lock.finding import NOT_VERIFIED, Finding
from imagelock.lock.model import Lock


def items(layer: list[ContainerImage]) -> Iterator[Item]:
    for image in layer:
        size = sum(p.manifest_size + p.config.size + sum(b.size for b in p.layers) for p in image.platforms)
        yield Item(image.image, image.digest, image.digest.removeprefix("sha256:"), size)


def problems(lock: Lock, wanted: Intent) -> list[str]:
    """Every digest well-formed, and plain HTTP only where Docker would allow it or the intent says so."""
    out = []
    insecure = {c.image: c.insecure for c in wanted.sections.get("containers") or []}
    for i, image in enumerate(lock.layers.get("containers") or []):
        where = f"containers[{i}] {image.image}"
        digests = [image.digest]
        for p in image.platforms:
            digests += [p.manifest_digest, p.config.digest, *(b.digest for b in p.layers)]
        out += [f"{where}: {d!r} is not a sha256 digest" for d in digests if not DIGEST.match(d)]
        if image.plain_http and not (is_loopback(image.registry) or insecure.get(image.image)):
            out.append(f"{where}: plain HTTP to {image.registry}, which is not loopback and not `insecure = true`")
        if image.runtime not in intent.RUNTIMES:
            out.append(f"{where}: runtime {image.runtime!r} is not one of {', '.join(intent.RUNTIMES)}")
    return out


def findings(lock: Lock, wanted: Intent) -> list[Finding]:
    """Images locked by digest alone: the build pulls those exact bytes, but the lock holds no manifest of them."""
    unread = [image.name for image in lock.layers.get("containers") or [] if not image.platforms]
    if not unread:
        return []
    return [
        Finding(
            NOT_VERIFIED,
            "containers",
            f"{len(unread)} images pinned by digest only, their manifests not read ({', '.join(unread)}): "
            "the lock holds no platform manifest, config or layer digest for them (the build still pulls "
            "exactly those digests)",
            "lock update --refresh containers where the registry can be read",
        )
    ]


def summary(layer: list[ContainerImage]) -> str:
    return f"{len(layer)} container images"


DOMAIN = Domain(
    name="containers",
    layer=list[ContainerImage],
    parse=intent.parse,
    resolver="imagelock.domains.containers.layer:resolve",
    summary=summary,
    items=items,
    problems=problems,
    findings=findings,
    components=sbom.components,
    image_order=7,
    mirror="imagelock.domains.containers.mirror:copy",
    online="imagelock.domains.containers.online:probe",
    identity="image",
)
