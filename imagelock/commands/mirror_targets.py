"""Where `lock mirror` puts artifacts: an S3 prefix, a plain HTTP(S) prefix that accepts PUT, or a directory.

All three share one layout, `<target>/sha256/<hex>`, the address bootstrap.sh reads
(`IMAGELOCK_MIRROR`), so a directory filled here can be served by any static web
server, synced to a bucket, or mounted on the build machine as it is. Each target
says whether an artifact is already there and stores one; what it stores is
checked after the write, so a target can never hold bytes under a wrong name
without `lock mirror` failing.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from imagelock.errors import InputError, UpstreamError, VerificationError
from imagelock.hashing import CHUNK, digest_file
from imagelock.lock.artifact import Artifact
from imagelock.net import aws, http

LAYOUT = "sha256"  # the folder every target keeps artifacts under, by their sha256


def object_url(mirror_url: str, sha256: str) -> str:
    """Where a mirror keeps the artifact with this sha256; bootstrap.sh reads the same `<mirror>/sha256/<hex>`."""
    return f"{mirror_url.rstrip('/')}/{LAYOUT}/{sha256}"


class Target(Protocol):
    """A place that keeps artifacts by sha256."""

    name: str  # how messages name it: credentials removed
    record: str | None  # the URL a build reads it at, which the lock records; None: nothing to record

    def check(self) -> None:
        """Fail with one line before any work when the target cannot be used at all."""

    def present(self, artifact: Artifact) -> bool:
        """The artifact is there with the locked size (and sha256, where the target can tell)."""

    def store(self, path: Path, artifact: Artifact) -> None:
        """Put the verified local file there, then check what was stored."""


class S3Target:
    """An S3 prefix: the object carries its sha256 as metadata and S3's own SHA-256 checksum."""

    def __init__(self, url: aws.S3Url) -> None:
        self.url = url
        self.name = str(url)
        self.record: str | None = self.name
        self.s3 = aws.client("s3")

    def _key(self, path: str) -> str:
        return self.url.child(path).key

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.s3.head_bucket(Bucket=self.url.bucket)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise InputError(None, "--to", f"bucket {self.url.bucket} does not exist (create it first)") from None
            raise UpstreamError(f"S3 {self.url}: {aws.describe_error(exc)}") from None
        except BotoCoreError as exc:
            raise UpstreamError(f"S3 {self.url}: {aws.describe_error(exc)}") from None

    def present(self, artifact: Artifact) -> bool:
        return self.holds(f"{LAYOUT}/{artifact.sha256}", artifact.sha256, artifact.size)

    def store(self, path: Path, artifact: Artifact) -> None:
        self.put(f"{LAYOUT}/{artifact.sha256}", path, artifact.sha256)

    def _answer(self, call: Callable[..., Any], path: str) -> Any:
        """S3's answer about the object at `path` (head_object, get_object), None when there is none."""
        from botocore.exceptions import ClientError

        with _s3_errors(self.url, path):
            try:
                return call(Bucket=self.url.bucket, Key=self._key(path))
            except ClientError as exc:
                if _missing(exc):
                    return None
                raise

    def holds(self, path: str, sha256: str, size: int | None) -> bool:
        head = self._answer(self.s3.head_object, path)
        if head is None:
            return False
        right_size = size is None or head.get("ContentLength") == size
        return right_size and head.get("Metadata", {}).get("sha256") == sha256

    def put(self, path: str, local: Path, sha256: str) -> None:
        from boto3.s3.transfer import TransferConfig

        key = self._key(path)
        extra = {"Metadata": {"sha256": sha256}, "ChecksumAlgorithm": "SHA256"}
        config = TransferConfig(multipart_threshold=64 << 20, multipart_chunksize=64 << 20, max_concurrency=4)
        with _s3_errors(self.url, path):
            self.s3.upload_file(str(local), self.url.bucket, key, ExtraArgs=extra, Config=config)
            head = self.s3.head_object(Bucket=self.url.bucket, Key=key, ChecksumMode="ENABLED")
        size = local.stat().st_size
        problems = []
        if head.get("ContentLength") != size:
            problems.append(f"{head.get('ContentLength')} bytes stored, {size} sent")
        if head.get("Metadata", {}).get("sha256") != sha256:
            problems.append("sha256 metadata missing")
        stored = head.get("ChecksumSHA256")
        whole = base64.b64encode(bytes.fromhex(sha256)).decode()
        if (
            stored
            and "-" not in stored
            and head.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT"
            and stored != whole
        ):
            problems.append(f"S3 checksum {stored}, expected {whole}")
        if problems:
            raise VerificationError(f"s3://{self.url.bucket}/{key}: upload does not match ({'; '.join(problems)})")

    def read(self, path: str) -> bytes | None:
        answer = self._answer(self.s3.get_object, path)
        if answer is None:
            return None
        with _s3_errors(self.url, path):
            body: bytes = answer["Body"].read()
        return body

    def write(self, path: str, body: bytes) -> None:
        """One PutObject: S3 checks the SHA-256 it is sent and stores the object whole or not at all."""
        with _s3_errors(self.url, path):
            self.s3.put_object(Bucket=self.url.bucket, Key=self._key(path), Body=body, ChecksumAlgorithm="SHA256")


@contextmanager
def _s3_errors(url: aws.S3Url, path: str) -> Iterator[None]:
    """An S3 error as one line naming the object, as every other target's failures are."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise UpstreamError(f"S3 {url.child(path)}: {aws.describe_error(exc)}") from None


def _missing(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code")
    return code in ("404", "NoSuchKey", "NotFound")


class DirectoryTarget:
    """A local directory: each file written beside its final name and renamed into place, so a reader
    (a web server, a sync) never sees half a file under a sha256 it does not match."""

    def __init__(self, root: Path, record: str | None) -> None:
        self.root = root
        self.name = str(root)
        self.record: str | None = record

    def check(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise InputError(None, "--to", f"{self.root} exists and is not a directory")
        try:
            (self.root / LAYOUT).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(None, "--to", f"cannot create {self.root / LAYOUT}: {exc.strerror}") from None
        if not os.access(self.root / LAYOUT, os.W_OK):
            raise InputError(None, "--to", f"{self.root / LAYOUT} is not writable")

    def present(self, artifact: Artifact) -> bool:
        return self.holds(f"{LAYOUT}/{artifact.sha256}", artifact.sha256, artifact.size)

    def store(self, path: Path, artifact: Artifact) -> None:
        self.put(f"{LAYOUT}/{artifact.sha256}", path, artifact.sha256)

    def holds(self, path: str, sha256: str, size: int | None) -> bool:
        final = self.root / path
        if not final.is_file() or (size is not None and final.stat().st_size != size):
            return False
        return digest_file(final).sha256 == sha256  # a directory can be edited: read what it holds

    def put(self, path: str, local: Path, sha256: str) -> None:
        """Copy and hash in one pass: what is renamed into place is what was hashed. No fsync: a file torn
        by a crash is re-hashed by `holds()` on the next run and by the build before use, and replaced."""
        final = self.root / path
        final.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name[:16]}.", suffix=".part")
        try:
            hasher = hashlib.sha256()
            with os.fdopen(handle, "wb") as out, local.open("rb") as source:
                while chunk := source.read(CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
            if hasher.hexdigest() != sha256:
                raise VerificationError(f"{final}: wrote sha256 {hasher.hexdigest()}, expected {sha256}")
            os.chmod(temp, 0o644)  # a mirror is read by others: a web server, a build machine
            os.replace(temp, final)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def read(self, path: str) -> bytes | None:
        try:
            return (self.root / path).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, path: str, body: bytes) -> None:
        final = self.root / path
        final.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name[:16]}.", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(body)
            os.chmod(temp, 0o644)
            os.replace(temp, final)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


class HttpTarget:
    """A plain HTTP(S) prefix that stores what is PUT to it (WebDAV, nginx's dav module, Artifactory's
    generic repositories...). What it serves back is checked by size; the build checks the sha256."""

    def __init__(self, url: str, record: str | None) -> None:
        self.url = url.rstrip("/")
        self.name = http.redact(self.url)
        self.record: str | None = record if record is not None else self.name

    def check(self) -> None:
        return None  # a prefix has no root to probe: the first PUT says whether it is writable

    def present(self, artifact: Artifact) -> bool:
        return self.holds(f"{LAYOUT}/{artifact.sha256}", artifact.sha256, artifact.size)

    def store(self, path: Path, artifact: Artifact) -> None:
        self.put(f"{LAYOUT}/{artifact.sha256}", path, artifact.sha256)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.url}/{path}"
        try:
            return http.session().request(method, url, timeout=(http.CONNECT_TIMEOUT, http.READ_TIMEOUT), **kwargs)
        except http.request_errors() as exc:
            raise UpstreamError(f"{http.redact(url)}: unreachable ({type(exc).__name__})") from None

    def holds(self, path: str, sha256: str, size: int | None) -> bool:
        response = self._call("HEAD", path, allow_redirects=False)
        if response.status_code != 200:
            return False
        return size is None or response.headers.get("Content-Length") == str(size)

    def put(self, path: str, local: Path, sha256: str) -> None:
        size = local.stat().st_size
        with local.open("rb") as body:
            self._send(path, body, size)
        if not self.holds(path, sha256, size):
            raise VerificationError(f"{http.redact(self.url)}/{path}: after the PUT it does not serve {size} bytes")

    def read(self, path: str) -> bytes | None:
        response = self._call("GET", path)
        if response.status_code in (404, 410):
            return None
        if response.status_code != 200:
            raise UpstreamError(f"GET {http.redact(self.url)}/{path}: HTTP {response.status_code}")
        body: bytes = response.content
        return body

    def write(self, path: str, body: bytes) -> None:
        self._send(path, body, len(body))

    def _send(self, path: str, body: Any, size: int) -> None:
        headers = {"Content-Length": str(size), "Content-Type": "application/octet-stream"}
        response = self._call("PUT", path, data=body, headers=headers)
        if response.status_code not in (200, 201, 204):
            raise UpstreamError(f"PUT {http.redact(self.url)}/{path}: HTTP {response.status_code}")


class RegistryTarget:
    """A mirror registry (docker://host[:port][/prefix]): it keeps container images, not files; the containers
    domain copies its images there (imagelock.domains.containers.registry_mirror)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.name = url
        self.record: str | None = None

    def check(self) -> None:
        return None

    def present(self, artifact: Artifact) -> bool:
        return False

    def store(self, path: Path, artifact: Artifact) -> None:
        raise InputError(None, "--to", f"{self.name} is a registry: it keeps container images, not files")


def open_target(to: str, record_as: str | None = None) -> Target:
    """The target `--to` names: s3://bucket/prefix, http(s)://prefix, docker://registry, or a directory path."""
    if record_as is not None and not record_as.startswith(("https://", "http://", "s3://")):
        raise InputError(
            None, "--record-as", f"expected the http(s):// or s3:// URL a build reads, found {record_as!r}"
        )
    if to.startswith("s3://"):
        target: Target = S3Target(aws.parse_s3_url(to, None, "--to"))
        if record_as is not None:
            target.record = record_as
        return target
    if to.startswith(("https://", "http://")):
        parts = urlsplit(to)
        if not parts.hostname or parts.query or parts.fragment:
            raise InputError(None, "--to", f"expected an http(s)://host/prefix URL, found {http.redact(to)!r}")
        return HttpTarget(urlunsplit(parts), record_as)
    if to.startswith("docker://"):
        if record_as is not None:
            raise InputError(None, "--record-as", "a registry mirror is not recorded in the lock")
        return RegistryTarget(to)
    if "://" in to:
        raise InputError(
            None, "--to", f"expected s3://, http(s)://, docker:// or a directory, found {http.redact(to)!r}"
        )
    return DirectoryTarget(Path(to).absolute(), record_as)
