"""The one hashing helper: every artifact digest in a lock is computed here.

Hashes are computed while bytes stream, in constant memory, so the same code
serves a 10 KiB metadata file and a 5 GiB driver runfile.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20

# hashlib releases the GIL on large buffers, so md5 can run on a second core
# while sha256 runs on this one: the pair then costs about as much as md5 alone.
PARALLEL_MIN = 1 << 16
_helper: ThreadPoolExecutor | None = None
_helper_lock = threading.Lock()


def pool() -> ThreadPoolExecutor:
    """Helper threads for work that releases the GIL (hashing, file writes) beside the caller's."""
    global _helper
    with _helper_lock:
        if _helper is None:
            _helper = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="imagelock-hash")
        return _helper


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
        self._parallel = (os.cpu_count() or 1) > 1

    def update(self, chunk: bytes | memoryview) -> None:
        if self._parallel and len(chunk) >= PARALLEL_MIN:
            pending = pool().submit(self._md5.update, chunk)
            self._sha256.update(chunk)
            pending.result()
        else:
            self._sha256.update(chunk)
            self._md5.update(chunk)
        self.size += len(chunk)

    def update_from_file(self, path: str | Path, limit: int | None = None) -> None:
        """Feed the first `limit` bytes of a file (all of it when None), in constant memory."""
        remaining = limit
        with open(path, "rb") as handle:
            while remaining is None or remaining > 0:
                want = CHUNK if remaining is None else min(CHUNK, remaining)
                chunk = handle.read(want)
                if not chunk:
                    break
                self.update(chunk)
                if remaining is not None:
                    remaining -= len(chunk)

    def digest(self) -> Digest:
        return Digest(self._sha256.hexdigest(), self._md5.hexdigest(), self.size)


def digest_file(path: str | Path) -> Digest:
    hasher = StreamHasher()
    hasher.update_from_file(path)
    return hasher.digest()


SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def is_sha256(text: object) -> bool:
    """A sha256 as locks record it: 64 lowercase hex digits."""
    return isinstance(text, str) and SHA256_HEX.match(text) is not None


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def git_blob_id(data: bytes) -> str:
    """The id git gives a file's bytes (`git hash-object`): what the Hub API calls blobId."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def sha256_file(path: str | Path, advance: Callable[[int], object] | None = None) -> str:
    """sha256 alone, at full speed (no md5 alongside); `advance(n)` after each chunk, for a progress display."""
    with open(path, "rb") as handle:
        if advance is None:
            return hashlib.file_digest(handle, "sha256").hexdigest()
        digest = hashlib.sha256()
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            advance(len(chunk))
        return digest.hexdigest()
