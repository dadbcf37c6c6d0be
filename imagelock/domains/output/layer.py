"""Resolve a disk image's `[output.base]` whose sha256 comes from a signed SHA256SUMS.

The sums and their signature are fetched and checked as `[[files]]` checks them
(imagelock.domains.signed_sums); the sha256 they list for the image's file name is what the lock
records and the build verifies. A base already in the previous lock, from the same URLs and keyring,
is kept without a request; `lock update --refresh output` asks again.
"""

from __future__ import annotations

from imagelock.domains.context import UpdateContext
from imagelock.domains.output.entry import CloudImage, OutputLayer
from imagelock.domains.signed_sums import SignedSums, listed_sha256
from imagelock.errors import VerificationError
from imagelock.hashing import sha256_file
from imagelock.intent.output import BaseImage
from imagelock.net import http

WHERE = "output.base"


def resolve(ctx: UpdateContext) -> OutputLayer:
    base: BaseImage = ctx.intent.sections["output"]
    assert base.sums_url is not None and base.keyring is not None  # the parser hands only a signed base here
    keyring_sha256 = sha256_file(base.keyring)
    kept = _kept(ctx, base, keyring_sha256)
    if kept is not None:
        return OutputLayer(kept)
    signed = SignedSums(base.sums_url, base.keyring, base.signature_url)
    listed, sums_sha256 = listed_sha256(ctx, signed, base.name, WHERE)
    if base.sha256 is not None and base.sha256 != listed:
        raise VerificationError(
            f"{ctx.intent.path}: {WHERE}.sha256: {base.sha256}, but the signed {http.redact(base.sums_url)} "
            f"lists {listed} for {base.name}"
        )
    return OutputLayer(
        CloudImage(
            url=base.url,
            sha256=listed,
            sums_url=base.sums_url,
            sums_sha256=sums_sha256,
            keyring_sha256=keyring_sha256,
            signature_url=base.signature_url,
        )
    )


def _kept(ctx: UpdateContext, base: BaseImage, keyring_sha256: str) -> CloudImage | None:
    """The previous lock's base, when it answers this intent as a new check would."""
    if ctx.previous is None or ctx.upgrade or "output" in ctx.refresh:
        return None
    layer = ctx.previous.layers.get("output")
    old = layer.base if isinstance(layer, OutputLayer) else None
    if old is None:
        return None
    same = (old.url, old.sums_url, old.signature_url, old.keyring_sha256) == (
        base.url,
        base.sums_url,
        base.signature_url,
        keyring_sha256,
    )
    return old if same and base.sha256 in (None, old.sha256) else None
