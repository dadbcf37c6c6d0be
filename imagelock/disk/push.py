"""Pushing to a registry (distribution spec: blob uploads and manifest PUT) with the pull client's
authentication (imagelock.domains.containers.registry): the token is asked for `pull,push`.

Blobs go up in one monolithic PUT (POST an upload, then PUT its location with `?digest=`), the body streamed
from the file with its Content-Length, so a many-GiB raw image never sits in memory. A blob the registry
already holds (HEAD answers 200) is not sent again. The manifest's digest the registry answers with must
be the sha256 of the bytes sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urljoin

from imagelock.domains.containers.registry import Registry
from imagelock.errors import UpstreamError, VerificationError
from imagelock.hashing import CHUNK, sha256_bytes
from imagelock.net import http

if TYPE_CHECKING:
    import requests

UPLOAD_TIMEOUT = 600.0


class _Body:
    """A file as a request body: read in chunks, its length known (so requests sends Content-Length)."""

    def __init__(self, handle: IO[bytes], size: int, progress: http.Progress) -> None:
        self._handle = handle
        self._size = size
        self._progress = progress

    def __len__(self) -> int:
        return self._size

    def read(self, amount: int = -1) -> bytes:
        chunk = self._handle.read(CHUNK if amount is None or amount < 0 else max(amount, CHUNK))
        self._progress.advance(len(chunk))
        return chunk

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(CHUNK):
            yield chunk


class Pusher(Registry):
    """One repository, written to."""

    def _scope(self) -> str:
        return f"repository:{self.repository}:pull,push"

    def has_blob(self, digest: str) -> bool:
        response = self._call("HEAD", self.blob_url(digest), {})
        response.close()
        return response.status_code == 200

    def push_blob(self, digest: str, size: int, source: Path | bytes) -> None:
        if self.has_blob(digest):
            return
        start = self._call("POST", f"{self.base}/v2/{self.repository}/blobs/uploads/", {"Content-Length": "0"})
        start.close()
        if start.status_code != 202 or "Location" not in start.headers:
            raise UpstreamError(f"{self.what}: starting a blob upload: HTTP {start.status_code}")
        location = urljoin(f"{self.base}/", start.headers["Location"])
        url = f"{location}{'&' if '?' in location else '?'}digest={digest}"
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        if isinstance(source, bytes):
            response = self._call("PUT", url, headers, source)
        else:
            progress = http.Progress(f"publish {source.name}", size)
            with open(source, "rb") as handle:
                response = self._call("PUT", url, headers, _Body(handle, size, progress))
            progress.close()
        response.close()
        if response.status_code != 201:
            raise UpstreamError(f"{self.what}: uploading {digest[:19]}: HTTP {response.status_code}")

    def push_manifest(self, tag: str, body: bytes, media_type: str) -> str:
        """PUT the manifest under `tag`; returns its digest, checked against what the registry says."""
        digest = "sha256:" + sha256_bytes(body)
        response = self._call("PUT", self.manifest_url(tag), {"Content-Type": media_type}, body)
        response.close()
        if response.status_code != 201:
            raise UpstreamError(f"{self.what}: pushing the manifest: HTTP {response.status_code}")
        claimed = response.headers.get("Docker-Content-Digest")
        if claimed and claimed != digest:
            raise VerificationError(f"{self.what}: the registry stored digest {claimed}, the manifest sent is {digest}")
        return digest

    def _call(self, method: str, url: str, headers: dict[str, str], data: Any = None) -> requests.Response:
        response = self._request(method, url, headers, data)
        if response.status_code == 401 and not hasattr(data, "read"):  # a streamed body is never sent twice
            challenge = response.headers.get("WWW-Authenticate", "")
            response.close()
            self._authorize(challenge, url)
            response = self._request(method, url, headers, data)
        if response.status_code in (401, 403):
            response.close()
            raise UpstreamError(f"{self.what}: {http.auth_failed(url, response.status_code)}")
        return response

    def _request(self, method: str, url: str, headers: dict[str, str], data: Any) -> requests.Response:
        sent = dict(headers)
        if self._authorization:
            sent["Authorization"] = self._authorization
        try:
            return http.session().request(
                method, url, headers=sent, data=data, timeout=(http.CONNECT_TIMEOUT, UPLOAD_TIMEOUT)
            )
        except http.request_errors() as exc:
            raise UpstreamError(f"{self.what}: {http.redact(url)}: unreachable ({type(exc).__name__})") from None
