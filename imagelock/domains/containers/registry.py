"""A registry v2 API client (distribution spec: GET manifests and blobs) over imagelock.net.http.

Authentication is what registries do: a request answered 401 with `WWW-Authenticate: Bearer realm=...`
is retried once with a token from that realm (anonymous, or with the registry's credentials from
imagelock.domains.containers.auth as HTTP Basic to the realm); a `Basic` challenge gets the credentials
directly. Credentials and tokens live in this object's headers only: messages name URLs, never them.
Every manifest is hashed as it arrived; a digest the caller asked for, or that the registry claims
(Docker-Content-Digest), must be the sha256 of those bytes. Writes (a mirror, `lock publish`) ask the token
for `pull,push` (`actions`): blobs go up in one monolithic PUT streamed from the file, manifests by tag or
digest, and the digest the registry answers with must be the sha256 of the bytes sent.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import urlencode, urljoin, urlsplit

from imagelock.domains.containers import auth
from imagelock.domains.containers.manifest import ACCEPT
from imagelock.errors import UpstreamError, VerificationError
from imagelock.formats.oci_reference import is_loopback
from imagelock.hashing import CHUNK, Digest, sha256_bytes
from imagelock.net import http

if TYPE_CHECKING:
    import requests

MAX_MANIFEST = 4 << 20  # distribution refuses manifests over 4 MiB; so do we
UPLOAD_TIMEOUT = 600.0  # a PUT of a many-GiB blob: the registry answers once it has hashed it all
_PARAM = re.compile(r'([A-Za-z]+)="([^"]*)"')


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


@dataclass(frozen=True)
class Document:
    """A manifest or index as served: its exact bytes, their digest, and the Content-Type."""

    body: bytes
    digest: str
    content_type: str


class Registry:
    """One repository in one registry, as `base` (scheme://host[:port]) serves it."""

    def __init__(self, base: str, registry: str, repository: str, what: str, actions: str = "pull") -> None:
        self.base = base.rstrip("/")
        self.registry = registry  # host[:port] as the reference names it: whose credentials to use
        self.repository = repository
        self.what = what  # the intent file and key, for messages
        self.actions = actions  # the token scope asked for: "pull", or "pull,push" for a mirror
        self._authorization: str | None = None

    def manifest_url(self, reference: str) -> str:
        return f"{self.base}/v2/{self.repository}/manifests/{reference}"

    def blob_url(self, digest: str) -> str:
        return f"{self.base}/v2/{self.repository}/blobs/{digest}"

    def manifest(self, reference: str) -> Document:
        """The manifest or index a tag or digest names, its bytes checked against the digest."""
        url = self.manifest_url(reference)
        response = self._get(url, {"Accept": ACCEPT})
        with response:
            length = int(response.headers.get("Content-Length") or 0)
            if length > MAX_MANIFEST:
                raise UpstreamError(f"{self.what}: {http.redact(url)}: a manifest of {length} bytes (over 4 MiB)")
            body = response.content
        if len(body) > MAX_MANIFEST:
            raise UpstreamError(f"{self.what}: {http.redact(url)}: a manifest over 4 MiB")
        digest = "sha256:" + sha256_bytes(body)
        if reference.startswith("sha256:") and digest != reference:
            raise VerificationError(f"{self.what}: {http.redact(url)} served bytes with digest {digest}")
        claimed = response.headers.get("Docker-Content-Digest")
        if claimed and claimed.startswith("sha256:") and claimed != digest:
            raise VerificationError(
                f"{self.what}: {http.redact(url)} claims digest {claimed}, its bytes hash to {digest}"
            )
        return Document(body, digest, response.headers.get("Content-Type", ""))

    def blob(self, digest: str) -> bytes:
        """A small blob (an image config), checked against its digest."""
        url = self.blob_url(digest)
        body = self._get(url, {}).content
        if "sha256:" + sha256_bytes(body) != digest:
            raise VerificationError(f"{self.what}: {http.redact(url)} served other bytes than {digest}")
        return body

    def download(self, digest: str, dest: Path, size: int) -> Digest:
        """A blob streamed to `dest` (resumable); the caller compares the returned digest with the lock."""
        url = self.blob_url(digest)
        self._get(url, {}, head=True).close()  # authorizes first, so the download carries the token
        headers = {"Authorization": self._authorization} if self._authorization else None
        return http.download(url, dest, headers=headers, total=size, what=f"{self.repository}@{digest[:19]}")

    def status(self, kind: str, reference: str) -> int:
        """The HTTP status a HEAD of a manifest or blob gets (200 held, 404 not), the token dance done."""
        url = self.manifest_url(reference) if kind == "manifests" else self.blob_url(reference)
        response = self._request("HEAD", url, {"Accept": ACCEPT} if kind == "manifests" else {})
        response.close()
        if response.status_code in (401, 403):
            raise UpstreamError(f"{self.what}: {http.auth_failed(url, response.status_code)}")
        return response.status_code

    def push_blob(self, digest: str, size: int, source: Path | bytes) -> None:
        """A blob uploaded in one PUT (distribution's monolithic upload), streamed from a file with progress;
        one the registry already holds is not sent again. The registry checks the digest as it stores it."""
        if self.status("blobs", digest) == 200:
            return
        start = f"{self.base}/v2/{self.repository}/blobs/uploads/"
        response = self._request("POST", start, {"Content-Length": "0"})
        response.close()
        if response.status_code != 202 or not response.headers.get("Location"):
            raise UpstreamError(f"{self.what}: starting a blob upload: {self._refusal(response, start)}")
        location = urljoin(start, response.headers["Location"])
        url = f"{location}{'&' if '?' in location else '?'}{urlencode({'digest': digest})}"
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        response = self._request("PUT", url, headers, source)
        response.close()
        if response.status_code != 201:
            raise UpstreamError(f"{self.what}: uploading {digest[:19]}: {self._refusal(response, location)}")

    def push_manifest(self, reference: str, body: bytes, media_type: str) -> str:
        """PUT a manifest or index under a tag or its digest; returns its digest, which the registry must agree on."""
        digest = "sha256:" + sha256_bytes(body)
        url = self.manifest_url(reference)
        response = self._request("PUT", url, {"Content-Type": media_type}, body)
        response.close()
        if response.status_code != 201:
            raise UpstreamError(f"{self.what}: pushing the manifest: {self._refusal(response, url)}")
        claimed = response.headers.get("Docker-Content-Digest")
        if claimed and claimed != digest:
            raise VerificationError(f"{self.what}: the registry stored digest {claimed}, the manifest sent is {digest}")
        return digest

    def _refusal(self, response: requests.Response, url: str) -> str:
        if response.status_code in (401, 403):
            return str(http.auth_failed(url, response.status_code))
        return f"HTTP {response.status_code}"

    # --- requests, with the token dance ---------------------------------------------

    def _get(self, url: str, headers: dict[str, str], *, head: bool = False) -> requests.Response:
        response = self._request("HEAD" if head else "GET", url, headers)
        if response.status_code in (401, 403):
            response.close()
            raise UpstreamError(f"{self.what}: {http.auth_failed(url, response.status_code)}")
        if response.status_code == 404:
            response.close()
            raise UpstreamError(f"{self.what}: {http.redact(url)}: not found in the registry (HTTP 404)", 404)
        if response.status_code >= 400:
            response.close()
            raise UpstreamError(f"{self.what}: {http.redact(url)}: HTTP {response.status_code}", response.status_code)
        return response

    def _request(
        self, method: str, url: str, headers: dict[str, str], body: bytes | Path | None = None
    ) -> requests.Response:
        """One request; answered 401, the challenge is answered and the request sent again, once."""
        response = self._send(method, url, headers, body)
        if response.status_code == 401:  # no token yet, or one that expired
            challenge = response.headers.get("WWW-Authenticate", "")
            response.close()
            self._authorize(challenge, url)
            response = self._send(method, url, headers, body)
        return response

    def _send(self, method: str, url: str, headers: dict[str, str], body: bytes | Path | None) -> requests.Response:
        sent = dict(headers)
        if self._authorization:
            sent["Authorization"] = self._authorization
        timeout = (http.CONNECT_TIMEOUT, UPLOAD_TIMEOUT if method == "PUT" else http.READ_TIMEOUT)
        try:
            if isinstance(body, Path):  # opened per attempt: a retry after a 401 sends the whole file again
                size = body.stat().st_size
                progress = http.Progress(f"upload {body.name[:19]}", size)
                with body.open("rb") as handle:
                    data = _Body(handle, size, progress)
                    response = http.session().request(method, url, headers=sent, data=data, timeout=timeout)
                progress.close()
                return response
            return http.session().request(method, url, headers=sent, data=body, timeout=timeout)
        except http.request_errors() as exc:
            raise UpstreamError(f"{self.what}: {http.redact(url)}: unreachable ({type(exc).__name__})") from None

    def _authorize(self, challenge: str, url: str) -> None:
        """Answer a WWW-Authenticate challenge: a Bearer token from its realm, or Basic credentials."""
        scheme, _, rest = challenge.strip().partition(" ")
        params = dict(_PARAM.findall(rest))
        credentials = auth.lookup(self.registry)
        if scheme.lower() == "basic":
            if credentials is None:
                raise UpstreamError(
                    f"{self.what}: {http.auth_failed(url, 401)} (set {auth.env_name(self.registry)} or docker login)"
                )
            self._authorization = _basic(credentials)
            return
        if scheme.lower() != "bearer" or "realm" not in params:
            raise UpstreamError(f"{self.what}: {http.redact(url)}: HTTP 401 without a Bearer or Basic challenge")
        realm = params["realm"]
        parts = urlsplit(realm)
        if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(parts.netloc)):
            raise UpstreamError(f"{self.what}: token realm {http.redact(realm)} is not https (nor on loopback)")
        # A pusher asks for pull,push at once: the registry's challenge to a HEAD names only pull.
        scope = self._scope() if self.actions != "pull" else params.get("scope") or self._scope()
        query = {"service": params.get("service", ""), "scope": scope}
        token_url = f"{realm}{'&' if '?' in realm else '?'}{urlencode({k: v for k, v in query.items() if v})}"
        headers = {"Authorization": _basic(credentials)} if credentials else {}
        try:
            response = http.session().get(token_url, headers=headers, timeout=(http.CONNECT_TIMEOUT, http.READ_TIMEOUT))
        except http.request_errors() as exc:
            raise UpstreamError(
                f"{self.what}: token realm {http.redact(realm)}: unreachable ({type(exc).__name__})"
            ) from None
        with response:
            if response.status_code in (401, 403):
                raise UpstreamError(f"{self.what}: {http.auth_failed(realm, response.status_code)}")
            if response.status_code >= 400:
                raise UpstreamError(f"{self.what}: token realm {http.redact(realm)}: HTTP {response.status_code}")
            try:
                answer = response.json()
                token = answer.get("token") or answer.get("access_token")
            except (ValueError, AttributeError):
                token = None
        if not isinstance(token, str) or not token:
            raise UpstreamError(f"{self.what}: token realm {http.redact(realm)} answered no token")
        self._authorization = f"Bearer {token}"

    def _scope(self) -> str:
        return f"repository:{self.repository}:{self.actions}"


def _basic(credentials: auth.Credentials) -> str:
    pair = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")
