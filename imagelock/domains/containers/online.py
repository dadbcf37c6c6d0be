"""`lock check --online` for container images: does each registry still serve what the lock pins, and does
each tag still name the locked digest?

A tag that moved is a note, not a failure: the lock keeps its digest, and builds its bytes, until `lock
update --refresh containers`. A digest the registry no longer serves (the index, a locked platform's
manifest, its config or a layer: HEAD answered 404, or an error) is gone: the lock no longer builds from
there. Nothing is downloaded but the tag's manifest, to hash it.
"""

from __future__ import annotations

from pathlib import Path

from imagelock.domains.containers.entry import ContainerImage
from imagelock.domains.containers.registry import Registry
from imagelock.domains.contract import OnlineAnswer
from imagelock.errors import UpstreamError
from imagelock.net import http
from imagelock.net.upstreams import LIVE


def probe(layer: list[ContainerImage]) -> list[OnlineAnswer]:
    return [_probe(image, f"container {image.image}") for image in layer]


def _probe(image: ContainerImage, what: str) -> OnlineAnswer:
    answer = OnlineAnswer(what)
    base = LIVE.registry(image.registry, image.plain_http, (Path("lock"), what))
    client = Registry(base, image.registry, image.repository, what)
    wanted = [("manifests", image.digest)]
    for p in image.platforms:
        if p.manifest_digest != image.digest:
            wanted.append(("manifests", p.manifest_digest))
        wanted += [("blobs", b.digest) for b in (p.config, *p.layers)]
    try:
        missing = [f"{kind[:-1]} {digest}" for kind, digest in wanted if _status(client, kind, digest) != 200]
        if missing:
            answer.gone = f"{image.name} no longer serves: {', '.join(missing)}"
        if image.tag:
            answer.moved = _tag_moved(client, image)
    except UpstreamError as exc:
        message = http.redact_text(str(exc))
        answer.gone = message
        answer.unreachable = "unreachable" in message
    return answer


def _status(client: Registry, kind: str, digest: str) -> int:
    status = client.status(kind, digest)
    if status not in (200, 404):
        raise UpstreamError(f"{client.what}: HEAD {kind} {digest}: HTTP {status}", status)
    return status


def _tag_moved(client: Registry, image: ContainerImage) -> str | None:
    """A note when the tag names another digest now (or nothing); None when it still names the locked one."""
    try:
        now = client.manifest(image.tag or "").digest
    except UpstreamError as exc:
        if exc.status == 404:
            return f"tag {image.tag} is gone from {image.name}; the lock keeps {image.digest}"
        raise
    if now == image.digest:
        return None
    return f"tag {image.tag} now names {now}; the lock keeps {image.digest} until `lock update --refresh containers`"
