"""Resolve `[[files]]`: each URL's bytes pinned by sha256, checked against the intent's hash or a signed
SHA256SUMS before the lock records them.

A file already in the previous lock, from the same URL and with the same checks, is kept without a
download: locks of images with multi-gigabyte installers update in seconds. `lock update --refresh files`
downloads and hashes every file again.
"""

from __future__ import annotations

import os
import sys

from imagelock.domains.context import UpdateContext
from imagelock.domains.signed_sums import SignedSums, listed_sha256
from imagelock.errors import VerificationError
from imagelock.hashing import sha256_bytes, sha256_file
from imagelock.intent.files import FileIntent
from imagelock.lock.model import PlainFile
from imagelock.net import http
from imagelock.net.upstreams import NotRecorded


def resolve(ctx: UpdateContext) -> list[PlainFile]:
    wanted: list[FileIntent] = ctx.intent.sections["files"]
    keep = ctx.previous is not None and not ctx.upgrade and "files" not in ctx.refresh
    previous = {f.dest: f for f in ctx.previous.files} if keep and ctx.previous else {}
    out = []
    for entry in wanted:
        keyring_sha256 = sha256_file(entry.keyring) if entry.keyring else None
        kept = previous.get(entry.dest)
        if kept is not None and _same_checks(kept, entry, keyring_sha256):
            out.append(kept)
            continue
        out.append(_pin(ctx, entry, keyring_sha256))
    return out


def _same_checks(kept: PlainFile, entry: FileIntent, keyring_sha256: str | None) -> bool:
    """The locked entry answers this intent entry as a new download would (same URL, hash rules, placement).
    A hash learned from a build (`lock update --learn`) is kept the same way."""
    return (
        kept.url == entry.url
        and entry.sha256 in (None, kept.sha256)
        and kept.mode == entry.mode
        and kept.extract == entry.extract
        and kept.sums_url == entry.sums_url
        and kept.keyring_sha256 == keyring_sha256
    )


def _pin(ctx: UpdateContext, entry: FileIntent, keyring_sha256: str | None) -> PlainFile:
    path = ctx.intent.path
    expected, sums_sha256 = entry.sha256, None
    if entry.sums_url is not None:
        assert entry.keyring is not None  # the parser asks for it beside a sums file
        signed = SignedSums(entry.sums_url, entry.keyring, entry.signature_url)
        listed, sums_sha256 = listed_sha256(ctx, signed, entry.name, entry.where)
        if expected is not None and expected != listed:
            raise VerificationError(
                f"{path}: {entry.where}.sha256: {expected}, but the signed {http.redact(entry.sums_url)} "
                f"lists {listed} for {entry.name}"
            )
        expected = listed
    try:
        source = ctx.upstreams.plain_file(entry.url, (path, f"{entry.where}.url"))
    except NotRecorded as unread:
        # No bytes to read: lock the hash the intent or the signed sums state (the build verifies it), or no
        # hash at all, which `lock check` reports and the build measures for `lock update --learn`.
        if expected is None:
            print(
                f"imagelock: {entry.where} {entry.name}: locked without a hash ({unread.why})",
                file=sys.stderr,
            )
        return _locked(entry, expected, None, sums_sha256, keyring_sha256)
    scratch = http.cache_dir() / "downloads" / f"file-{sha256_bytes(entry.url.encode())[:16]}.download"
    digest = http.download(source, scratch, what=f"{entry.where} {entry.name}")
    if expected is not None and digest.sha256 != expected:
        scratch.unlink(missing_ok=True)
        said = "the signed sha256sums lists" if entry.sums_url else "the intent says"
        raise VerificationError(
            f"{path}: {entry.where}: {http.redact(entry.url)} served sha256 {digest.sha256} ({digest.size} bytes); "
            f"{said} {expected}"
        )
    blob = http.blob_path(digest.sha256)  # kept by content, where `lock mirror` looks first
    blob.parent.mkdir(parents=True, exist_ok=True)
    os.replace(scratch, blob)
    return _locked(entry, digest.sha256, digest.size, sums_sha256, keyring_sha256)


def _locked(
    entry: FileIntent, sha256: str | None, size: int | None, sums_sha256: str | None, keyring_sha256: str | None
) -> PlainFile:
    """The lock's entry for an intent entry: its placement as asked, its hash and size as found."""
    return PlainFile(
        url=entry.url,
        dest=entry.dest,
        sha256=sha256,
        size=size,
        mode=entry.mode,
        extract=entry.extract,
        sums_url=entry.sums_url,
        sums_sha256=sums_sha256,
        keyring_sha256=keyring_sha256,
    )
