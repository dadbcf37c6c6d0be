"""The one place boto3 clients are made, and S3 URLs are read.

Credentials come from boto3's standard chain (environment, profile, instance
role); nothing here reads, prints or stores them. `AWS_ENDPOINT_URL` (and the
per-service `AWS_ENDPOINT_URL_S3`, ...) is honoured by boto3 itself, which is
how a local look-alike such as moto's server stands in for AWS.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagelock.errors import InputError, UpstreamError
from imagelock.hashing import CHUNK, Digest

_lock = threading.Lock()
_session: Any = None


def client(service: str, region: str | None = None, *, endpoint_url: str | None = None, unsigned: bool = False) -> Any:
    """A boto3 client; boto3 clients are thread-safe, the Session that makes them is not.

    `unsigned` (for a replay on loopback) sends no signature, so no credential
    is looked up, read or sent; `endpoint_url` then names the replay's endpoint.
    """
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    global _session
    with _lock:
        if _session is None:
            _session = boto3.session.Session()
        attempts = int(os.environ.get("AWS_MAX_ATTEMPTS") or 5)
        config = Config(retries={"max_attempts": attempts, "mode": "standard"}, connect_timeout=10, read_timeout=60)
        if unsigned:
            config = config.merge(Config(signature_version=UNSIGNED))
        return _session.client(
            service, region_name=region or _session.region_name or "us-east-1", config=config, endpoint_url=endpoint_url
        )


def reset() -> None:
    """Forget the cached Session (tests that change the environment call this)."""
    global _session
    with _lock:
        _session = None


@dataclass(frozen=True)
class S3Url:
    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.key else f"s3://{self.bucket}"

    def child(self, *parts: str) -> S3Url:
        key = "/".join(p.strip("/") for p in (self.key, *parts) if p.strip("/"))
        return S3Url(self.bucket, key)


def parse_s3_url(url: str, path: str | Path | None = None, key: str | None = None) -> S3Url:
    if not url.startswith("s3://"):
        raise InputError(path, key, f"expected an s3://bucket/prefix URL, found {url!r}")
    bucket, _, rest = url[len("s3://") :].partition("/")
    if not bucket or not all(c.isalnum() or c in ".-" for c in bucket):
        raise InputError(path, key, f"expected an s3://bucket/prefix URL, found {url!r}")
    return S3Url(bucket, rest.strip("/"))


def describe_error(exc: Exception) -> str:
    """A one-line reason for a botocore error: its code and message, never a request's headers."""
    from botocore.exceptions import ClientError, NoCredentialsError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found (standard boto3 chain: environment, profile, instance role)"
    return type(exc).__name__


def s3_download(url: S3Url, dest: str | Path, *, total: int | None = None, region: str | None = None) -> Digest:
    """Stream an S3 object into `dest` with ranged resume; returns the digest of what arrived."""
    from botocore.exceptions import BotoCoreError, ClientError
    from urllib3.exceptions import ProtocolError

    from imagelock.net.http import resumable_download

    s3 = client("s3", region)

    def open_at(offset: int) -> tuple[int, Iterable[bytes]]:
        extra = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            answer = s3.get_object(Bucket=url.bucket, Key=url.key, **extra)
        except ClientError as exc:
            raise UpstreamError(f"{url}: {describe_error(exc)}") from None
        start = offset if answer.get("ContentRange") else 0
        return start, answer["Body"].iter_chunks(CHUNK)

    transient = (BotoCoreError, ProtocolError, ConnectionError)
    return resumable_download(
        open_at, dest, label=url.key.rsplit("/", 1)[-1] or str(url), total=total, transient=transient
    )
