"""A file's sha256 taken from a vendor's signed SHA256SUMS: what `[[files]]` and a disk image's
`[output.base]` trust instead of a hash the intent states.

The sums file (and its detached signature, if any) is fetched through the run's upstreams and the one
HTTP layer; gpgv checks the signature against the intent's keyring alone (imagelock.formats.openpgp), and
only what the signature covers is read (a clearsigned file's signed text, or the exact bytes a detached
signature covers). Anything short of a valid signature over a sums file that lists the name is an error
naming the intent file and key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from imagelock.domains.context import UpdateContext
from imagelock.errors import InputError
from imagelock.formats import sha256sums
from imagelock.formats.openpgp import dearmor_keyring, gpgv_verify
from imagelock.hashing import sha256_bytes
from imagelock.net import http
from imagelock.net.upstreams import NotRecorded


@dataclass(frozen=True)
class SignedSums:
    """Where the sums are, how they are signed, and by whom: as the intent says it."""

    sums_url: str
    keyring: Path
    signature_url: str | None = None  # None: the sums file is clearsigned


def listed_sha256(ctx: UpdateContext, sums: SignedSums, name: str, where: str) -> tuple[str, str]:
    """The sha256 the signed sums list for `name`, and the sums file's own sha256.

    `where` is the intent's key for the entry (`files[2]`, `output.base`): every error names
    `<where>.sha256sums` (or `.signature`) in the intent file."""
    path = ctx.intent.path
    key = f"{where}.sha256sums"
    data = _fetch(ctx, sums.sums_url, key)
    signature = _fetch(ctx, sums.signature_url, f"{where}.signature") if sums.signature_url else None
    workdir = ctx.workdir or Path(ctx.cache.setdefault("sums-workdir", str(http.cache_dir() / "keyrings")))
    Path(workdir).mkdir(parents=True, exist_ok=True)
    keyring = dearmor_keyring(sums.keyring, Path(workdir))
    text = gpgv_verify(data, keyring, f"{path}: {key} {http.redact(sums.sums_url)}", signature)
    try:
        listed = sha256sums.entries(text.decode("utf-8", "replace"))
    except sha256sums.NotSums as exc:
        raise InputError(path, key, f"{http.redact(sums.sums_url)} is not a SHA256SUMS file: {exc}") from None
    if name not in listed:
        raise InputError(path, key, f"{http.redact(sums.sums_url)} lists no {name}")
    return listed[name], sha256_bytes(data)


def _fetch(ctx: UpdateContext, url: str, key: str) -> bytes:
    """The bytes at `url`, through the run's upstreams; a recording that lists it without its bytes cannot
    stand in for it: nothing can be verified without them."""
    try:
        source = ctx.upstreams.plain_file(url, (ctx.intent.path, key))
    except NotRecorded as unread:
        raise InputError(
            ctx.intent.path,
            key,
            f"{http.redact(url)} is recorded without its bytes ({unread.why}): no signature can be checked",
        ) from None
    return http.get_bytes(source, what=key)
