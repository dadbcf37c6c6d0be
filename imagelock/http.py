"""The one HTTP layer every source uses: one Session, retries, timeouts, a cache.

Errors name the URL with any credentials removed, never a token or a header.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from imagelock import __version__
from imagelock.errors import UpstreamError

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


def session() -> requests.Session:
    """The calling thread's Session (Sessions are not thread-safe to share)."""
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


def get(url: str, *, headers: dict[str, str] | None = None, stream: bool = False,
        what: str = "") -> requests.Response:
    """GET with retries; any failure or non-2xx becomes one UpstreamError line."""
    label = f"{what} " if what else ""
    try:
        response = session().get(url, headers=headers or {}, stream=stream,
                                 timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
    except requests.RequestException as exc:
        reason = type(exc).__name__
        raise UpstreamError(f"{label}{redact(url)}: unreachable ({reason})") from None
    if response.status_code >= 400:
        response.close()
        raise UpstreamError(f"{label}{redact(url)}: HTTP {response.status_code}")
    return response


def get_bytes(url: str, *, headers: dict[str, str] | None = None, what: str = "") -> bytes:
    return get(url, headers=headers, what=what).content


def get_json(url: str, *, headers: dict[str, str] | None = None, what: str = "") -> Any:
    body = get_bytes(url, headers=headers, what=what)
    try:
        return json.loads(body)
    except ValueError:
        label = f"{what} " if what else ""
        raise UpstreamError(f"{label}{redact(url)}: answer is not JSON") from None


def get_cached(url: str, *, headers: dict[str, str] | None = None, what: str = "") -> bytes:
    """GET through a validating on-disk cache (ETag / Last-Modified revalidation)."""
    key = hashlib.sha256(json.dumps([url, headers or {}], sort_keys=True).encode()).hexdigest()
    folder = cache_dir() / "http"
    body_path = folder / f"{key}.body"
    meta_path = folder / f"{key}.json"
    request_headers = dict(headers or {})
    meta: dict[str, str] = {}
    if body_path.exists() and meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError:
            meta = {}
        if "etag" in meta:
            request_headers["If-None-Match"] = meta["etag"]
        if "last-modified" in meta:
            request_headers["If-Modified-Since"] = meta["last-modified"]
    label = f"{what} " if what else ""
    try:
        response = session().get(url, headers=request_headers,
                                 timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
    except requests.RequestException as exc:
        raise UpstreamError(f"{label}{redact(url)}: unreachable ({type(exc).__name__})") from None
    if response.status_code == 304 and body_path.exists():
        return body_path.read_bytes()
    if response.status_code >= 400:
        raise UpstreamError(f"{label}{redact(url)}: HTTP {response.status_code}")
    folder.mkdir(parents=True, exist_ok=True)
    body = response.content
    new_meta = {k: response.headers[h] for k, h in (("etag", "ETag"), ("last-modified", "Last-Modified"))
                if h in response.headers}
    tmp = body_path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(body)
    os.replace(tmp, body_path)
    meta_path.write_text(json.dumps(new_meta))
    return body
