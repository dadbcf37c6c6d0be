"""Resolve `[[containers]]`: each image reference to the digest it names today, and per platform the
manifest, config and layers by digest and size.

An entry already in the previous lock for the same reference and platforms is kept as it is: a tag that
moves changes nothing until `lock update --refresh containers` (or --upgrade) reads it again.
Nothing is downloaded but the manifests and the small image configs. An image the upstream knows by digest
only (a recording made where the registry could not be read: NotRecorded) is locked by that digest alone,
without platforms, and `lock check` says so.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import replace

from imagelock.domains.containers import manifest
from imagelock.domains.containers.entry import Blob, ContainerImage, PlatformImage
from imagelock.domains.containers.manifest import ManifestError
from imagelock.domains.containers.registry import Document, Registry
from imagelock.domains.context import UpdateContext
from imagelock.errors import InputError, UpstreamError, VerificationError
from imagelock.intent.containers import ContainerIntent
from imagelock.lock.model import instant
from imagelock.net.upstreams import NotRecorded


def resolve(ctx: UpdateContext) -> list[ContainerImage]:
    wanted: list[ContainerIntent] = ctx.intent.sections["containers"]
    keep = ctx.previous is not None and not ctx.upgrade and "containers" not in ctx.refresh
    previous: dict[str, ContainerImage] = {}
    if keep and ctx.previous is not None:
        previous = {c.image: c for c in ctx.previous.layers.get("containers") or []}
    out = []
    for entry in wanted:
        kept = previous.get(entry.image)
        if kept is not None and _answers(kept, entry):
            out.append(replace(kept, runtime=entry.runtime))  # where it is pulled is not resolution
            continue
        out.append(_pin(ctx, entry))
    return out


def _answers(kept: ContainerImage, entry: ContainerIntent) -> bool:
    """The locked image is what reading this intent entry again would lock, but for a tag that moved."""
    if not kept.platforms:  # locked by digest alone, its manifests unread: kept until --refresh reads them
        return kept.plain_http == entry.plain_http and kept.digest == entry.ref.digest
    return kept.plain_http == entry.plain_http and [p.platform for p in kept.platforms] == entry.platforms


def _pin(ctx: UpdateContext, entry: ContainerIntent) -> ContainerImage:
    path, ref = ctx.intent.path, entry.ref
    what = f"{path}: {entry.where}.image {entry.image}"
    where = (path, f"{entry.where}.image")
    base = ctx.upstreams.registry(ref.api_host, entry.plain_http, where)
    resolved_at = instant(dt.datetime.now(dt.UTC))
    if ref.digest is not None:
        try:
            ctx.upstreams.registry_image(ref.api_host, ref.repository, ref.digest, where)
        except NotRecorded as unread:
            return _by_digest_only(entry, ref.digest, unread.why)
    client = Registry(base, ref.registry, ref.repository, what)
    top = client.manifest(ref.digest or ref.tag or "")
    try:
        kind = manifest.media_type(top.body, top.content_type)
        if kind in manifest.INDEXES:
            platforms = _from_index(client, top, entry, path)
        else:
            platforms = [_platform_image(client, None, top, kind, entry, path)]
    except ManifestError as exc:
        raise UpstreamError(f"{what}: {exc}") from None
    return ContainerImage(
        image=entry.image,
        registry=ref.registry,
        repository=ref.repository,
        tag=ref.tag,
        digest=top.digest,
        media_type=kind,
        size=len(top.body),
        resolved_at=resolved_at,
        runtime=entry.runtime,
        plain_http=entry.plain_http,
        platforms=platforms,
    )


def _by_digest_only(entry: ContainerIntent, digest: str, why: str) -> ContainerImage:
    """The digest the intent names, its manifests unread: the runtime still pulls and checks exactly those bytes."""
    ref = entry.ref
    print(f"imagelock: {entry.where} {entry.image}: locked by digest only ({why})", file=sys.stderr)
    return ContainerImage(
        image=entry.image,
        registry=ref.registry,
        repository=ref.repository,
        tag=ref.tag,
        digest=digest,
        media_type="",
        size=0,
        resolved_at="",  # nothing was read: the same lock whenever it is made
        runtime=entry.runtime,
        plain_http=entry.plain_http,
    )


def _matches(wanted: str, offered: str) -> bool:
    """linux/arm64 takes linux/arm64/v8: a platform without a variant accepts any one variant."""
    return offered == wanted or (wanted.count("/") == 1 and offered.rsplit("/", 1)[0] == wanted)


def _from_index(client: Registry, top: Document, entry: ContainerIntent, path: object) -> list[PlatformImage]:
    offered = manifest.index_entries(top.body)
    out = []
    for platform in entry.platforms:
        found = [e for e in offered if _matches(platform, e.platform)]
        if len(found) != 1:
            listed = ", ".join(sorted({e.platform for e in offered})) or "none"
            why = "no" if not found else "more than one"
            raise InputError(
                str(path), f"{entry.where}.platforms", f"{entry.image} has {why} {platform} image (it has: {listed})"
            )
        chosen = found[0]
        document = client.manifest(chosen.digest)
        if len(document.body) != chosen.size:
            raise VerificationError(
                f"{client.what}: manifest {chosen.digest} is {len(document.body)} bytes, the index says {chosen.size}"
            )
        kind = manifest.media_type(document.body, chosen.media_type)
        if kind not in manifest.MANIFESTS:
            raise ManifestError(f"{chosen.digest} for {platform} is a {kind}, not an image manifest")
        out.append(_platform_image(client, chosen.platform, document, kind, entry, path))
    return out


def _platform_image(
    client: Registry, platform: str | None, document: Document, kind: str, entry: ContainerIntent, path: object
) -> PlatformImage:
    """One image manifest; a single-platform reference's platform is read from its image config."""
    image = manifest.image_manifest(document.body)
    if platform is None:
        platform = manifest.config_platform(client.blob(image.config.digest))
        if len(entry.platforms) != 1 or not _matches(entry.platforms[0], platform):
            raise InputError(
                str(path),
                f"{entry.where}.platforms",
                f"{entry.image} is a single-platform image for {platform or 'an unnamed platform'}, "
                f"not {', '.join(entry.platforms)}",
            )
    return PlatformImage(
        platform=platform,
        manifest_digest=document.digest,
        manifest_size=len(document.body),
        media_type=kind,
        config=image.config,
        layers=[Blob(b.digest, b.size, b.media_type) for b in image.layers],
    )
