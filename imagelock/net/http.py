"""The one HTTP layer every source uses: one Session, retries, timeouts, a cache,
and resumable streaming downloads hashed as they arrive.

Errors name the URL with any credentials removed, never a token or a header.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from imagelock import __version__
from imagelock.errors import UpstreamError
from imagelock.hashing import CHUNK, PARALLEL_MIN, Digest, StreamHasher
from imagelock.hashing import pool as hashing_pool
from imagelock.progress import drawing

if TYPE_CHECKING:
    import requests

# requests (with urllib3 and charset_normalizer) is imported on first use, not with this module: most of
# a lock's life is `lock check`, which never talks to the network and should not pay ~100 ms to load it.

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
USER_AGENT = f"imagelock/{__version__}"

_local = threading.local()


def redact(url: str) -> str:
    """The URL without user:password, safe for a message or a log."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        parts = parts._replace(netloc=host)
    return urlunsplit(parts)


_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]*@")


def redact_text(text: str) -> str:
    """Any text with the user:password of every URL in it removed: the last guard before a line is shown."""
    return _USERINFO.sub(r"\g<scheme>", text)


def auth_failed(url: str, status: int) -> UpstreamError:
    """HTTP 401/403 as what it means: the credentials, not the content. Named without the credentials."""
    reason = "no valid credentials were sent" if status == 401 else "the credentials may not read it"
    return UpstreamError(f"authentication failed for {redact(url)} (HTTP {status}: {reason}); nothing was written")


def session() -> requests.Session:
    """The calling thread's Session (Sessions are not thread-safe to share)."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    current = getattr(_local, "session", None)
    if current is None:
        retry = Retry(
            total=3,
            backoff_factor=0.3,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=frozenset({"GET", "HEAD"}),
            raise_on_status=False,
        )
        current = requests.Session()
        current.headers["User-Agent"] = USER_AGENT
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=16)
        current.mount("http://", adapter)
        current.mount("https://", adapter)
        current.trust_env = True
        _local.session = current
    return current


def cache_dir() -> Path:
    """Where answers are cached: $IMAGELOCK_CACHE, else the XDG cache."""
    root = os.environ.get("IMAGELOCK_CACHE")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "imagelock"


def get(url: str, *, headers: dict[str, str] | None = None, stream: bool = False, what: str = "") -> requests.Response:
    """GET with retries; any failure or non-2xx becomes one UpstreamError line."""
    label = f"{what} " if what else ""
    try:
        response = session().get(url, headers=headers or {}, stream=stream, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
    except _requests().RequestException as exc:
        reason = type(exc).__name__
        raise UpstreamError(f"{label}{redact(url)}: unreachable ({reason})") from None
    if response.status_code in (401, 403):
        response.close()
        raise auth_failed(url, response.status_code)
    if response.status_code >= 400:
        response.close()
        raise UpstreamError(f"{label}{redact(url)}: HTTP {response.status_code}", response.status_code)
    return response


@dataclass(frozen=True)
class ProbeAnswer:
    """What a source said about a file without sending it: its status and size (None: no answer at all)."""

    status: int | None
    size: int | None = None
    reason: str = ""


def probe(url: str, headers: dict[str, str] | None = None) -> ProbeAnswer:
    """HEAD, or a one-byte ranged GET where a server refuses HEAD (some CDNs and signed-URL hosts do)."""
    errors = request_errors()
    timeout = (CONNECT_TIMEOUT, READ_TIMEOUT)
    try:
        response = session().head(url, headers=headers or {}, timeout=timeout, allow_redirects=True)
        if response.status_code in (403, 405, 501):
            ranged = {**(headers or {}), "Range": "bytes=0-0", "Accept-Encoding": "identity"}
            response = session().get(url, headers=ranged, timeout=timeout, stream=True)
            response.close()
    except errors as exc:
        return ProbeAnswer(None, reason=type(exc).__name__)
    size = None
    total = response.headers.get("Content-Range", "").rpartition("/")[2]
    length = total if response.status_code == 206 else response.headers.get("Content-Length")
    if length and length.isdigit():
        size = int(length)
    return ProbeAnswer(response.status_code, size)


def get_bytes(url: str, *, headers: dict[str, str] | None = None, what: str = "") -> bytes:
    return get(url, headers=headers, what=what).content


DOWNLOAD_ATTEMPTS = 5


class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, label: str, total: int | None, *, stream: Any = None) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        # a per-layer display on the terminal (lock mirror's) already shows this file in its layer's row
        self._enabled = bool(getattr(self._stream, "isatty", lambda: False)()) and not drawing()
        self._start = time.monotonic()
        self._drawn = 0.0

    def advance(self, count: int) -> None:
        self.done += count
        if not self._enabled:
            return
        now = time.monotonic()
        if now - self._drawn < 0.2:
            return
        self._drawn = now
        rate = self.done / max(now - self._start, 1e-6) / 1e6
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * 30)
            text = (
                f"\r{self.label} [{bar:<30}] {share * 100:5.1f}% "
                f"{self.done / 1e6:,.0f}/{self.total / 1e6:,.0f} MB {rate:,.0f} MB/s"
            )
        else:
            text = f"\r{self.label} {self.done / 1e6:,.0f} MB {rate:,.0f} MB/s"
        self._stream.write(text)
        self._stream.flush()

    def close(self) -> None:
        if self._enabled:
            self._stream.write("\n")
            self._stream.flush()


# open_at(offset) -> (offset the source actually starts at, the chunks from there on).
# A source that cannot seek answers 0, and the download restarts from the beginning.
Opener = Callable[[int], tuple[int, Iterable[bytes]]]


def resumable_download(
    open_at: Opener,
    dest: str | Path,
    *,
    label: str,
    total: int | None = None,
    transient: tuple[type[BaseException], ...] = (),
    attempts: int = DOWNLOAD_ATTEMPTS,
    progress: Progress | None = None,
    pause: float = 0.2,
) -> Digest:
    """Stream a source into `dest` once, hashing as bytes arrive, in constant memory.

    Bytes land in `dest.part` first; an interrupted transfer (a `transient` error)
    resumes from the end of that file, whose bytes are hashed from disk rather
    than fetched again. The returned digest is of exactly the bytes in `dest`;
    checking it against what was expected is the caller's job, before any use.
    """
    target = Path(dest)
    part = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    if total is not None and have > total:
        have = 0
    hasher = StreamHasher()
    if have:
        hasher.update_from_file(part, have)
    bar = progress or Progress(label, total)
    bar.advance(have)
    failures = 0
    retryable: tuple[type[BaseException], ...] = (*transient, _ShortRead)
    try:
        while True:
            arrived = 0
            try:
                start, chunks = open_at(have)
                if start != have:  # the source ignored the range: start over
                    have, hasher = 0, StreamHasher()
                with open(part, "r+b" if have else "wb") as out:
                    out.seek(have)
                    out.truncate()
                    for chunk in chunks:
                        if len(chunk) >= PARALLEL_MIN:  # the disk works while we hash
                            writing = hashing_pool().submit(out.write, chunk)
                            hasher.update(chunk)
                            writing.result()
                        else:
                            out.write(chunk)
                            hasher.update(chunk)
                        have += len(chunk)
                        arrived += len(chunk)
                        bar.advance(len(chunk))
                # Short of the expected size: resume while the source still gives bytes;
                # once it has none left, the caller's size check reports the difference.
                if total is not None and have < total and arrived:
                    raise _ShortRead(f"{have} of {total} bytes")
                break
            except retryable as exc:
                # `attempts` bounds the failures in a row that moved (nearly) nothing: a long
                # download over a flaky link keeps going while it keeps making progress.
                failures = 1 if arrived >= CHUNK else failures + 1
                if failures >= attempts:
                    raise UpstreamError(
                        f"{label}: interrupted {failures} times, last at byte {have} "
                        f"({type(exc).__name__}); run again to resume"
                    ) from None
                time.sleep(min(pause * 2**failures, 5.0))
    finally:
        bar.close()
    os.replace(part, target)
    return hasher.digest()


class _ShortRead(Exception):
    """The source ended before the expected size: resume like a dropped connection."""


def request_errors() -> type[BaseException]:
    """What a request raises when it gets no answer (for callers that talk to a server directly)."""
    errors: type[BaseException] = _requests().RequestException
    return errors


def _requests() -> Any:
    import requests

    return requests


def _transient_http() -> tuple[type[BaseException], ...]:
    """The failures a download resumes after: a dropped connection, a cut stream, a time-out."""
    import requests
    import urllib3

    return (
        requests.ConnectionError,
        requests.exceptions.ChunkedEncodingError,
        requests.Timeout,
        urllib3.exceptions.ProtocolError,
    )


def _arrived(response: requests.Response) -> Iterable[bytes]:
    """The body as it arrives (up to CHUNK at a time), so a drop loses none of what came."""
    raw = response.raw
    with response:
        while chunk := raw.read1(CHUNK):
            yield chunk


def download(
    url: str,
    dest: str | Path,
    *,
    headers: dict[str, str] | None = None,
    what: str = "",
    total: int | None = None,
    attempts: int = DOWNLOAD_ATTEMPTS,
) -> Digest:
    """GET `url` into `dest` with Range resume; returns the digest of what arrived."""
    label = what or redact(url).rsplit("/", 1)[-1]

    def open_at(offset: int) -> tuple[int, Iterable[bytes]]:
        # identity: byte ranges then count bytes of the file itself, never of a compressed form
        request_headers = {**(headers or {}), "Accept-Encoding": "identity"}
        if offset:
            request_headers["Range"] = f"bytes={offset}-"
        response = session().get(url, headers=request_headers, stream=True, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
        if response.status_code == 416 and offset:  # nothing after `offset`: the source ends there
            response.close()
            return offset, ()
        if response.status_code >= 400:
            response.close()
            raise UpstreamError(f"{label} {redact(url)}: HTTP {response.status_code}")
        start = 0
        if response.status_code == 206:
            served = response.headers.get("Content-Range", "")
            try:
                start = int(served.split()[1].split("-")[0])
            except (IndexError, ValueError):
                start = -1
            if start != offset:  # an answer for another range than asked: refuse it
                response.close()
                raise UpstreamError(
                    f"{label} {redact(url)}: asked for bytes from {offset}, got {served or 'no Content-Range'}"
                )
        return start, _arrived(response)

    return resumable_download(open_at, dest, label=label, total=total, transient=_transient_http(), attempts=attempts)


def blob_path(sha256: str) -> Path:
    """Where a verified artifact is kept, by content: `<cache>/blobs/sha256/<hex>`."""
    return cache_dir() / "blobs" / "sha256" / sha256
