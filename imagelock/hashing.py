"""The one hashing helper: every artifact digest in a lock is computed here.

Hashes are computed while bytes stream, in constant memory, so the same code
serves a 10 KiB metadata file and a 5 GiB driver runfile.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20


@dataclass(frozen=True)
class Digest:
    """What a lock records about a blob: its sha256, md5 and size."""

    sha256: str
    md5: str
    size: int


class StreamHasher:
    """Feed chunks in any split; the result equals hashing the whole at once."""

    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._sha256.update(chunk)
        self._md5.update(chunk)
        self.size += len(chunk)

    def digest(self) -> Digest:
        return Digest(self._sha256.hexdigest(), self._md5.hexdigest(), self.size)


def digest_chunks(chunks: Iterable[bytes]) -> Digest:
    hasher = StreamHasher()
    for chunk in chunks:
        hasher.update(chunk)
    return hasher.digest()


def digest_file(path: str | Path) -> Digest:
    with open(path, "rb") as handle:
        return digest_chunks(iter(lambda: handle.read(CHUNK), b""))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    """sha256 alone, at full speed (no md5 alongside)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
