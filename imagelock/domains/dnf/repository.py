"""Read one rpm repository the way dnf trusts it: repomd.xml verified by its detached signature, then the
primary metadata verified against the checksums the signed repomd.xml lists.

The signature is checked by gpgv against the intent's `gpgkey` alone (imagelock.formats.openpgp), never a
key of the user's own keyrings. Nothing is parsed before it is verified: repomd.xml only after gpgv
accepted its exact bytes, primary.xml only after its download has the signed size and digest and its
decompressed text the signed open-checksum. Verified primary files are kept by digest under
`$IMAGELOCK_CACHE/dnf/sha256/`, re-hashed on every read.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
from dataclasses import dataclass
from pathlib import Path

from imagelock.domains.context import UpdateContext
from imagelock.errors import InputError, UpstreamError, VerificationError
from imagelock.formats import repomd
from imagelock.formats.openpgp import dearmor_keyring, gpgv_verify
from imagelock.hashing import sha256_bytes
from imagelock.intent.dnf import DnfIntent, DnfRepoIntent
from imagelock.lock.model import DnfRepo
from imagelock.net import http


@dataclass
class LoadedRepo:
    """One verified repository: what the lock records about it, and its primary metadata as XML text."""

    intent: DnfRepoIntent
    record: DnfRepo
    primary_xml: Path  # decompressed, verified


def store_dir() -> Path:
    return http.cache_dir() / "dnf" / "sha256"


def _digest(kind: str, data: bytes) -> str:
    return hashlib.new(kind, data).hexdigest()


def _decompress(data: bytes, location: str, where: str) -> bytes:
    try:
        if location.endswith(".gz"):
            return gzip.decompress(data)
        if location.endswith(".xz"):
            return lzma.decompress(data)
        if location.endswith(".bz2"):
            return bz2.decompress(data)
    except (OSError, lzma.LZMAError, EOFError) as exc:
        raise VerificationError(f"{where}: cannot be decompressed ({exc.__class__.__name__})") from None
    if location.endswith((".zst", ".zck")):
        raise UpstreamError(
            f"{where}: {location.rsplit('.', 1)[-1]} compression is not read yet; "
            "the repository must also offer gz, xz or bz2 primary metadata"
        )
    return data


def _fetch(ctx: UpdateContext, url: str, where: tuple[Path, str], what: str) -> bytes:
    return http.get_bytes(ctx.upstreams.plain_file(url, where), what=what)


def load_repo(ctx: UpdateContext, intent: DnfIntent, repo: DnfRepoIntent, workdir: Path) -> LoadedRepo:
    """repomd.xml + repomd.xml.asc -> gpgv with the repo's key only -> primary metadata, verified."""
    path = intent.path
    base = repo.url(intent.releasever, intent.basearch)
    where = (path, f"{repo.where}.baseurl")
    repomd_url = f"{base}/repodata/repomd.xml"
    repomd_bytes = _fetch(ctx, repomd_url, where, f"{repo.where} repomd.xml")
    signature = _fetch(ctx, f"{repomd_url}.asc", where, f"{repo.where} repomd.xml.asc")
    keyring = dearmor_keyring(repo.gpgkey, workdir)
    gpgv_verify(repomd_bytes, keyring, f"{http.redact(repomd_url)}", signature)
    try:
        parsed = repomd.parse(repomd_bytes)
    except repomd.RepomdError as exc:
        raise VerificationError(f"{http.redact(repomd_url)}: {exc}") from None
    primary = parsed.data.get("primary")
    if primary is None:
        raise VerificationError(f"{http.redact(repomd_url)}: lists no primary metadata")
    text = _primary_text(ctx, base, primary, where)
    store = store_dir()
    store.mkdir(parents=True, exist_ok=True)
    plain = store / f"{sha256_bytes(text)}.xml"
    if not plain.exists():
        plain.with_suffix(".part").write_bytes(text)
        plain.with_suffix(".part").replace(plain)
    armored = repo.gpgkey.read_bytes()
    try:
        key_text = armored.decode("ascii")
    except UnicodeDecodeError:
        raise InputError(path, f"{repo.where}.gpgkey", "an armored key is ASCII text; this file is not") from None
    return LoadedRepo(
        intent=repo,
        record=DnfRepo(
            id=repo.id,
            baseurl=base,
            gpgkey_sha256=sha256_bytes(armored),
            gpgkey=key_text,
            repomd_sha256=sha256_bytes(repomd_bytes),
            primary=primary.location,
            primary_sha256=primary.checksum.hex,
            primary_size=primary.size or 0,
            revision=parsed.revision,
        ),
        primary_xml=plain,
    )


def _primary_text(ctx: UpdateContext, base: str, primary: repomd.RepomdData, where: tuple[Path, str]) -> bytes:
    """The primary metadata's decompressed text, after its download matched the signed repomd.xml."""
    url = f"{base}/{primary.location}"
    label = http.redact(url)
    if primary.checksum.kind != "sha256":
        raise VerificationError(
            f"{label}: repomd.xml lists a {primary.checksum.kind} checksum; imagelock locks by sha256 only"
        )
    cached = store_dir() / primary.checksum.hex
    data = cached.read_bytes() if cached.is_file() else None
    if data is None or sha256_bytes(data) != primary.checksum.hex:
        data = _fetch(ctx, url, where, "primary metadata")
        if primary.size is not None and len(data) != primary.size:
            raise VerificationError(
                f"{label}: {len(data)} bytes, but the signed repomd.xml says {primary.size} (truncated or altered)"
            )
        actual = sha256_bytes(data)
        if actual != primary.checksum.hex:
            raise VerificationError(
                f"{label}: sha256 {actual}, but the signed repomd.xml says {primary.checksum.hex} (altered download)"
            )
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.with_suffix(".part").write_bytes(data)
        cached.with_suffix(".part").replace(cached)
    text = _decompress(data, primary.location, label)
    if primary.open_checksum is not None and _digest(primary.open_checksum.kind, text) != primary.open_checksum.hex:
        raise VerificationError(f"{label}: the decompressed text does not have the signed open-checksum")
    if primary.open_size is not None and len(text) != primary.open_size:
        raise VerificationError(f"{label}: the decompressed text does not have the signed open-size")
    return text
