"""Signed archive access: InRelease -> gpgv -> Release -> verified Packages indexes.

Nothing from the archive is parsed before it is verified: InRelease's signed
text is what gpgv outputs (never the raw file, so text outside the signed
block is ignored), and every index is checked by size and SHA256 against that
text before it is decompressed. Indexes are stored by their SHA256, so an
index already seen is never fetched again.

An index is never held in memory whole (Ubuntu's main + universe are ~100 MB
of text): it is decompressed into the store a block at a time, and read from
there in chunks that end between stanzas, hashed as they are read, so a copy
that changed in the store after it was verified is refused rather than used.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import gzip
import hashlib
import io
import lzma
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TypeVar

from imagelock.errors import UpstreamError, VerificationError
from imagelock.formats.openpgp import gpgv_verify
from imagelock.hashing import sha256_bytes
from imagelock.net import http

# Preferred compressions, best first; each must be listed in Release to be used.
COMPRESSIONS = (".xz", ".gz", "")


@dataclass
class Release:
    """The fields of a verified Release text that resolution needs."""

    suite: str
    codename: str
    date: str
    architectures: list[str]
    components: list[str]
    by_hash: bool
    sha256: dict[str, tuple[str, int]] = field(default_factory=dict)  # path -> (hex, size)
    valid_until: str = ""
    origin: str = ""
    label: str = ""


@dataclass
class SignedRelease:
    release: Release
    inrelease_sha256: str
    signed: bool


T = TypeVar("T")

# Bytes read, decompressed or hashed at a time. Small on purpose: the parser's
# short-lived strings for one chunk then fit in the holes the previous chunk
# left, where 1 MiB chunks cost ~15 MiB more peak memory on jammy (and time).
BLOCK = 1 << 16


@dataclass(frozen=True)
class IndexText:
    """The decompressed text of one verified index, kept in the by-hash store and read on demand.

    `stored` names the store entry: the decompressed text under its signed
    digest when the Release lists one, else the verified download (`compression`
    says how to decompress it on each read).
    """

    stored: str
    size: int
    compression: str  # ".xz", ".gz", or "" when the entry is the text itself
    where: str  # names the index in errors

    def read(self, use: Callable[[Iterator[str]], T]) -> T:
        """`use` applied to the text's chunks (each ends between two stanzas, so no field is cut).

        A decompressed entry is hashed as it is read; whatever `use` returns or
        raises counts only if the bytes it saw are the ones verified, else the
        read fails with VerificationError. A compressed entry is verified whole
        before it is decompressed, as when it was fetched.
        """
        try:
            handle = (store_dir() / self.stored).open("rb")
        except OSError:
            raise UpstreamError(
                f"{self.where}: its verified copy left the store {store_dir()} while in use; run again"
            ) from None
        with handle:
            if self.compression:
                data = handle.read()
                _check(data, self.stored, self.size, f"{self.where} (stored copy)")
                return use(_stanza_chunks(_inflate(data, self.compression, self.where)))
            hashed = _HashedBlocks(handle)
            try:
                return use(_stanza_chunks(iter(hashed)))
            finally:  # a changed copy explains a failure of `use` better than its own error would
                hashed.verify(self.stored, self.size, f"{self.where} (stored copy)")


@dataclass
class FetchedIndex:
    path: str  # as listed in Release, e.g. main/binary-amd64/Packages.xz
    sha256: str
    size: int
    text: IndexText  # decompressed, read on demand


class _HashedBlocks:
    """A file's blocks, hashed as they are read, so the read can be verified when it ends."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._hash = hashlib.sha256()
        self._size = 0

    def __iter__(self) -> Iterator[bytes]:
        while block := self._handle.read(BLOCK):
            self._hash.update(block)
            self._size += len(block)
            yield block

    def verify(self, sha256: str, size: int, where: str) -> None:
        """Hash what the reader left unread, then compare the whole with the signed digest."""
        while block := self._handle.read(BLOCK):
            self._hash.update(block)
            self._size += len(block)
        _compare(self._size, self._hash.hexdigest(), sha256, size, where)


def _stanza_chunks(blocks: Iterator[bytes]) -> Iterator[str]:
    """Decoded text in chunks that end at a blank line (between stanzas), never inside a field.

    Only each new block is searched, so a stanza longer than a block costs
    no more than its own length (UTF-8 never has a newline inside a character,
    so a cut after one is a cut between characters).
    """
    pending: list[bytes] = []
    previous = b""
    for block in blocks:
        cut = block.rfind(b"\n\n")
        end = cut + 2 if cut >= 0 else 1 if previous.endswith(b"\n") and block.startswith(b"\n") else 0
        if end:
            pending.append(block[:end])
            yield b"".join(pending).decode("utf-8", "replace")
            pending = [block[end:]]
        else:
            pending.append(block)
        previous = block
    if any(pending):
        yield b"".join(pending).decode("utf-8", "replace")


def is_flat(suite: str) -> bool:
    """A flat repository's suite is a directory ending in "/" (`./`: the repository's URL itself), as apt writes it."""
    return suite.endswith("/")


def suite_url(base: str, suite: str) -> str:
    """Where the suite's InRelease and indexes are: `<base>/dists/<suite>`, or for a flat repository the
    directory the suite names below `base` (apt's `deb URL ./`)."""
    if is_flat(suite):
        folder = suite.rstrip("/").removeprefix(".").strip("/")
        return f"{base.rstrip('/')}/{folder}".rstrip("/")
    return f"{base.rstrip('/')}/dists/{suite}"


def index_stem(suite: str, component: str, arch: str) -> str:
    """The Packages index's path as the Release lists it (a flat repository has one, for every architecture)."""
    return "Packages" if is_flat(suite) else f"{component}/binary-{arch}/Packages"


def _strip_clearsign(data: bytes) -> bytes:
    """The text of a clearsigned document without checking it (allow-unsigned only)."""
    text = data.decode("utf-8", "replace")
    if not text.startswith("-----BEGIN PGP SIGNED MESSAGE-----"):
        return data
    body = text.split("\n\n", 1)[1] if "\n\n" in text else ""
    body = body.split("\n-----BEGIN PGP SIGNATURE-----", 1)[0]
    lines = [line[2:] if line.startswith("- ") else line for line in body.split("\n")]
    return ("\n".join(lines) + "\n").encode()


def parse_release(text: str, where: str) -> Release:
    """Parse Release's fields and its SHA256 file list."""
    fields: dict[str, str] = {}
    sha256: dict[str, tuple[str, int]] = {}
    current = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0] in " \t":
            if current == "SHA256":
                parts = line.split()
                if len(parts) == 3:
                    try:
                        sha256[parts[2]] = (parts[0].lower(), int(parts[1]))
                    except ValueError:
                        raise UpstreamError(f"{where}: bad SHA256 line {line.strip()!r}") from None
            continue
        key, _, value = line.partition(":")
        current = key
        fields[key] = value.strip()
    if not sha256:
        raise UpstreamError(f"{where}: lists no SHA256 index digests")
    return Release(
        suite=fields.get("Suite", ""),
        codename=fields.get("Codename", ""),
        date=fields.get("Date", ""),
        architectures=fields.get("Architectures", "").split(),
        components=fields.get("Components", "").split(),
        by_hash=fields.get("Acquire-By-Hash", "no").lower() == "yes",
        sha256=sha256,
        valid_until=fields.get("Valid-Until", ""),
        origin=fields.get("Origin", ""),
        label=fields.get("Label", ""),
    )


def fetch_release(base: str, suite: str, keyring: Path | None, allow_unsigned: bool) -> SignedRelease:
    """Fetch and verify dists/<suite>/InRelease; keyring None only with allow_unsigned."""
    url = f"{suite_url(base, suite)}/InRelease"
    data = http.get_bytes(url, what=f"apt suite {suite}:")
    where = f"{http.redact(url)}"
    if allow_unsigned:
        print(
            f"imagelock: WARNING: apt.allow-unsigned = true: {where} is used WITHOUT checking its "
            "signature; anyone between you and the archive can choose what gets locked",
            file=sys.stderr,
        )
        text = _strip_clearsign(data)
        signed = False
    else:
        assert keyring is not None
        text = gpgv_verify(data, keyring, where)
        signed = True
    release = parse_release(text.decode("utf-8", "replace"), where)
    # A flat repository's Release names no suite (NVIDIA's has Origin and Label only); apt checks none.
    if not is_flat(suite) and suite not in (release.suite, release.codename):
        raise VerificationError(
            f"{where}: signed for suite {release.suite or release.codename!r}, "
            f"not {suite!r} (an old or substituted Release)"
        )
    return SignedRelease(release=release, inrelease_sha256=sha256_bytes(data), signed=signed)


def _instant(value: str, field_name: str, where: str) -> dt.datetime | None:
    """A Release date field (RFC 2822) as a UTC instant; None when the field is absent."""
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise UpstreamError(f"{where}: unreadable {field_name} {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def release_time(release: Release, where: str) -> dt.datetime | None:
    """The signed Release's Date as a UTC instant (None when the archive gives none)."""
    return _instant(release.date, "Date", where)


def check_fresh(release: Release, where: str, now: dt.datetime | None = None) -> None:
    """A live archive's Release past its Valid-Until is refused, as apt refuses it.

    An old Release stays validly signed forever; Valid-Until is what stops a
    mirror (or anyone in between) from serving a stale one to hide updates.
    Snapshots are old by design and are checked by check_snapshot instead.
    """
    until = _instant(release.valid_until, "Valid-Until", where)
    if until is not None and until < (now or dt.datetime.now(dt.UTC)):
        raise VerificationError(
            f"{where}: expired: valid until {until:%Y-%m-%dT%H:%M:%SZ} "
            "(a stale or re-served Release; pin an apt.snapshot to lock an archive as it was)"
        )


def check_snapshot(release: Release, snapshot: str, where: str) -> None:
    """A snapshot must not serve a Release signed after its own timestamp."""
    moment = release_time(release, where)
    limit = dt.datetime.strptime(snapshot, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    if moment is not None and moment > limit:
        raise VerificationError(
            f"{where}: the Release is dated {moment:%Y-%m-%dT%H:%M:%SZ}, after snapshot "
            f"{snapshot}: this is not that snapshot"
        )


def store_dir() -> Path:
    return http.cache_dir() / "apt" / "sha256"


def _from_store(sha256: str, size: int) -> bytes | None:
    path = store_dir() / sha256
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if len(data) == size and sha256_bytes(data) == sha256:
        return data
    path.unlink(missing_ok=True)  # a damaged cache entry is dropped, never trusted
    return None


def _in_store(sha256: str, size: int) -> bool:
    """Whether the store holds these bytes, checked a block at a time (a decompressed index is large)."""
    path = store_dir() / sha256
    try:
        with path.open("rb") as handle:
            hashed = _HashedBlocks(handle)
            hashed.verify(sha256, size, str(path))
            return True
    except OSError:
        return False
    except VerificationError:
        path.unlink(missing_ok=True)  # a damaged cache entry is dropped, never trusted
        return False


def _to_store(sha256: str, data: bytes) -> None:
    folder = store_dir()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{sha256}.{os.getpid()}"
    tmp.write_bytes(data)
    os.replace(tmp, folder / sha256)


def _compare(size: int, actual: str, sha256: str, expected_size: int, where: str) -> None:
    if size != expected_size:
        raise VerificationError(
            f"{where}: {size} bytes, but the signed Release says {expected_size} (truncated or altered download)"
        )
    if actual != sha256:
        raise VerificationError(f"{where}: sha256 {actual}, but the signed Release says {sha256} (altered index)")


def _check(data: bytes, sha256: str, size: int, where: str) -> None:
    _compare(len(data), sha256_bytes(data), sha256, size, where)


def _inflate(data: bytes, compression: str, where: str) -> Iterator[bytes]:
    """The decompressed bytes of a verified download, a block at a time (never all at once)."""
    if not compression:
        yield from (data[start : start + BLOCK] for start in range(0, len(data), BLOCK))
        return
    try:
        with (
            lzma.LZMAFile(io.BytesIO(data)) if compression == ".xz" else gzip.GzipFile(fileobj=io.BytesIO(data))
        ) as stream:
            while block := stream.read(BLOCK):
                yield block
    except (lzma.LZMAError, OSError, EOFError) as exc:
        raise VerificationError(f"{where}: cannot be decompressed ({exc.__class__.__name__})") from None


def _store_decompressed(data: bytes, compression: str, plain: tuple[str, int], where: str, text_where: str) -> None:
    """Decompress a verified download into the store under the text's own signed digest, a block at a time."""
    folder = store_dir()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{plain[0]}.{os.getpid()}"
    digest, size = hashlib.sha256(), 0
    try:
        with tmp.open("wb") as out:
            for block in _inflate(data, compression, where):
                digest.update(block)
                size += len(block)
                out.write(block)
        _compare(size, digest.hexdigest(), plain[0], plain[1], text_where)
        os.replace(tmp, folder / plain[0])
    finally:
        tmp.unlink(missing_ok=True)


def fetch_packages(base: str, suite: str, release: Release, component: str, arch: str) -> FetchedIndex:
    """The verified Packages index of one component and architecture, its text ready to be read.

    The store keeps the decompressed index under its own signed digest when the
    Release lists one (reading it back costs a hash, not a decompression), else
    the downloaded file under its digest.
    """
    stem = index_stem(suite, component, arch)
    listed = [(stem + ext, release.sha256[stem + ext]) for ext in COMPRESSIONS if stem + ext in release.sha256]
    if not listed:
        raise UpstreamError(
            f"{suite_url(base, suite)}: the signed Release lists no {stem} index "
            f"(components: {', '.join(release.components) or 'none'}; "
            f"architectures: {', '.join(release.architectures) or 'none'})"
        )
    path, (sha256, size) = listed[0]
    compression = path[len(stem) :]
    plain = release.sha256.get(stem)
    where = f"{suite_url(base, suite)}/{path}"
    if plain and _in_store(*plain):
        text = IndexText(stored=plain[0], size=plain[1], compression="", where=where)
        return FetchedIndex(path=path, sha256=sha256, size=size, text=text)
    data = _from_store(sha256, size)
    if data is None:
        data = _download(base, suite, release, path, sha256, size)
    if plain:
        _store_decompressed(data, compression, plain, where, f"{suite_url(base, suite)}/{stem} (decompressed)")
        text = IndexText(stored=plain[0], size=plain[1], compression="", where=where)
    else:
        _to_store(sha256, data)
        text = IndexText(stored=sha256, size=size, compression=compression, where=where)
    return FetchedIndex(path=path, sha256=sha256, size=size, text=text)


def _download(base: str, suite: str, release: Release, path: str, sha256: str, size: int) -> bytes:
    """By-hash first when the archive offers it (no race with a mirror update), then the plain path.

    A by-hash file that is missing falls back to the plain path; either way the
    bytes must match the signed digest.
    """
    plain_url = f"{suite_url(base, suite)}/{path}"
    if release.by_hash:
        folder = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
        hash_url = f"{suite_url(base, suite)}/{folder}by-hash/SHA256/{sha256}"
        try:
            data = http.get_bytes(hash_url, what="apt index")
        except UpstreamError as by_hash_error:
            try:
                data = http.get_bytes(plain_url, what="apt index")
            except UpstreamError as plain_error:
                raise UpstreamError(f"{by_hash_error}; and {plain_error}") from None
            _check(data, sha256, size, http.redact(plain_url))
            return data
        _check(data, sha256, size, http.redact(hash_url))
        return data
    data = http.get_bytes(plain_url, what="apt index")
    _check(data, sha256, size, http.redact(plain_url))
    return data
