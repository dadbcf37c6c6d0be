"""`lock mirror --to s3://bucket/prefix`: every artifact the image build downloads, in S3, keyed by sha256.

Each artifact the lock pins by content (the NVIDIA runfile, the wheels, the model
files, the .debs) lands at `<prefix>/sha256/<hex>`. What is already there (right
size, right recorded sha256) is skipped, so a second run, or a run after an
interrupted one, moves only what is missing. Bytes come from the local
content-addressed cache when a resolver already fetched them, else from the
upstream URL; either way they are hashed and checked against the lock before
they are uploaded, and each upload is checked after (size, sha256 metadata, and
S3's own SHA-256 checksum). The lock then records the mirror, so a build can run
with no access to the public upstreams. Uploads run in parallel, `jobs` at once.
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imagelock import domains
from imagelock.errors import EXIT_ERROR, EXIT_OK, ImagelockError, InputError, UpstreamError, VerificationError
from imagelock.hashing import digest_file
from imagelock.lock import codec as lockfile
from imagelock.lock.artifact import Artifact
from imagelock.lock.model import Lock, Mirror
from imagelock.net import aws, http
from imagelock.net.upstreams import hub_token

MAX_JOBS = 64


def artifacts(lock: Lock) -> list[Artifact]:
    """Every file the build downloads, once per sha256, in a stable order."""
    unique: dict[str, Artifact] = {}
    for artifact in domains.artifacts(lock):
        unique.setdefault(artifact.sha256, artifact)
    return sorted(unique.values(), key=lambda a: (a.kind, a.name, a.sha256))


def object_url(mirror_url: str, sha256: str) -> str:
    """Where a mirror keeps the artifact with this sha256; bootstrap.sh reads the same `<mirror>/sha256/<hex>`."""
    return f"{mirror_url.rstrip('/')}/sha256/{sha256}"


def record(lock: Lock, mirror_url: str) -> None:
    """The lock names its mirror, and the runfile's object in it (the runfile's `mirror-url`)."""
    lock.mirror = Mirror(url=mirror_url)
    if lock.nvidia:
        lock.nvidia.mirror_url = object_url(mirror_url, lock.nvidia.sha256)


@dataclass
class MirrorSummary:
    target: str
    uploaded: list[Artifact] = field(default_factory=list)
    skipped: list[Artifact] = field(default_factory=list)
    failed: list[tuple[Artifact, str]] = field(default_factory=list)
    lock_written: bool = False

    @property
    def uploaded_bytes(self) -> int:
        return sum(a.size or 0 for a in self.uploaded)

    @property
    def skipped_bytes(self) -> int:
        return sum(a.size or 0 for a in self.skipped)

    @property
    def exit_code(self) -> int:
        return EXIT_ERROR if self.failed else EXIT_OK

    def lines(self) -> list[str]:
        out = [
            f"mirror {self.target}: {len(self.uploaded)} uploaded ({_size(self.uploaded_bytes)}), "
            f"{len(self.skipped)} already there ({_size(self.skipped_bytes)}), {len(self.failed)} failed"
        ]
        out += [f"  failed {a.kind} {a.name}: {reason}" for a, reason in self.failed]
        if self.failed:
            out.append("  the lock was not changed; run again to upload what is missing")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "uploaded": len(self.uploaded),
            "uploaded_bytes": self.uploaded_bytes,
            "skipped": len(self.skipped),
            "skipped_bytes": self.skipped_bytes,
            "failed": [{"kind": a.kind, "name": a.name, "reason": r} for a, r in self.failed],
            "lock_written": self.lock_written,
        }


def _size(count: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    return f"{count} B"


class _Target:
    def __init__(self, url: aws.S3Url) -> None:
        self.url = url
        self.s3 = aws.client("s3")

    def key(self, sha256: str) -> str:
        return self.url.child("sha256", sha256).key

    def present(self, artifact: Artifact) -> bool:
        """True when the object is there with the right size and recorded sha256."""
        from botocore.exceptions import ClientError

        try:
            head = self.s3.head_object(Bucket=self.url.bucket, Key=self.key(artifact.sha256))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        right_size = artifact.size is None or head.get("ContentLength") == artifact.size
        return right_size and head.get("Metadata", {}).get("sha256") == artifact.sha256

    def upload(self, path: Path, artifact: Artifact) -> None:
        from boto3.s3.transfer import TransferConfig

        key = self.key(artifact.sha256)
        extra = {"Metadata": {"sha256": artifact.sha256}, "ChecksumAlgorithm": "SHA256"}
        config = TransferConfig(multipart_threshold=64 << 20, multipart_chunksize=64 << 20, max_concurrency=4)
        self.s3.upload_file(str(path), self.url.bucket, key, ExtraArgs=extra, Config=config)
        head = self.s3.head_object(Bucket=self.url.bucket, Key=key, ChecksumMode="ENABLED")
        size = path.stat().st_size
        problems = []
        if head.get("ContentLength") != size:
            problems.append(f"{head.get('ContentLength')} bytes stored, {size} sent")
        if head.get("Metadata", {}).get("sha256") != artifact.sha256:
            problems.append("sha256 metadata missing")
        stored = head.get("ChecksumSHA256")
        whole = base64.b64encode(bytes.fromhex(artifact.sha256)).decode()
        if (
            stored
            and "-" not in stored
            and head.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT"
            and stored != whole
        ):
            problems.append(f"S3 checksum {stored}, expected {whole}")
        if problems:
            raise VerificationError(f"s3://{self.url.bucket}/{key}: upload does not match ({'; '.join(problems)})")


def _verified_local(artifact: Artifact) -> Path:
    """The artifact's bytes on local disk, checked against the lock: from the cache, else downloaded."""
    blob = http.blob_path(artifact.sha256)
    if blob.exists():
        digest = digest_file(blob)
        if digest.sha256 == artifact.sha256 and (artifact.size is None or digest.size == artifact.size):
            return blob
        blob.unlink()  # a cache entry that is not what its name says: fetch again
    url, headers = _source(artifact)
    dest = http.cache_dir() / "downloads" / f"{artifact.sha256}.download"
    digest = http.download(url, dest, headers=headers, total=artifact.size, what=artifact.name)
    if digest.sha256 != artifact.sha256 or (artifact.size is not None and digest.size != artifact.size):
        dest.unlink(missing_ok=True)
        raise VerificationError(
            f"{artifact.name} from {http.redact(url)}: sha256 {digest.sha256} "
            f"({digest.size} bytes), the lock records {artifact.sha256} ({artifact.size} bytes)"
        )
    blob.parent.mkdir(parents=True, exist_ok=True)
    os.replace(dest, blob)
    return blob


def _source(artifact: Artifact) -> tuple[str, dict[str, str] | None]:
    """Where to fetch an artifact from: its upstream URL, or the look-alike the environment names."""
    url = artifact.url
    if artifact.moved_by is not None:
        variable, base = artifact.moved_by
        moved = os.environ.get(variable)
        if moved:
            url = url.replace(base, moved.rstrip("/"), 1)
    token = hub_token() if artifact.hub else None
    return url, ({"Authorization": f"Bearer {token}"} if token else None)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ImagelockError):
        return str(exc)
    return aws.describe_error(exc)


def _check_bucket(target: _Target) -> None:
    """A missing or forbidden bucket is one line before any work, not one failure per artifact."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        target.s3.head_bucket(Bucket=target.url.bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise InputError(None, "--to", f"bucket {target.url.bucket} does not exist (create it first)") from None
        raise UpstreamError(f"S3 {target.url}: {aws.describe_error(exc)}") from None
    except BotoCoreError as exc:
        raise UpstreamError(f"S3 {target.url}: {aws.describe_error(exc)}") from None


def mirror_artifacts(
    items: list[Artifact], to: str, jobs: int = 4, on_done: Callable[[str, Artifact], None] | None = None
) -> MirrorSummary:
    target = _Target(aws.parse_s3_url(to, None, "--to"))
    _check_bucket(target)
    summary = MirrorSummary(target=str(target.url))
    guard = threading.Lock()

    def one(artifact: Artifact) -> None:
        try:
            if target.present(artifact):
                outcome = "skipped"
            else:
                target.upload(_verified_local(artifact), artifact)
                outcome = "uploaded"
        except Exception as exc:  # noqa: BLE001 - one artifact's failure is reported, the others go on
            with guard:
                summary.failed.append((artifact, _reason(exc)))
            return
        with guard:
            getattr(summary, outcome).append(artifact)
        if on_done:
            on_done(outcome, artifact)

    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="imagelock-mirror") as pool:
        list(pool.map(one, items))
    for bucket in (summary.uploaded, summary.skipped):
        bucket.sort(key=lambda a: (a.kind, a.name))
    summary.failed.sort(key=lambda f: (f[0].kind, f[0].name))
    return summary


def run_mirror(
    lock_path: str | Path,
    to: str,
    jobs: int = 4,
    *,
    write: bool = True,
    on_done: Callable[[str, Artifact], None] | None = None,
) -> MirrorSummary:
    """What `lock mirror --to URL [--jobs N]` does; the CLI prints `summary.lines()` and exits `summary.exit_code`."""
    if not 1 <= jobs <= MAX_JOBS:
        raise InputError(None, "--jobs", f"expected 1 to {MAX_JOBS}, found {jobs}")
    target = aws.parse_s3_url(to, None, "--to")
    lock, _ = domains.read_lock(lock_path)
    summary = mirror_artifacts(artifacts(lock), str(target), jobs, on_done)
    if summary.failed or not write:
        return summary
    record(lock, str(target))
    lockfile.write_atomic(lock_path, lockfile.dumps(lock))
    summary.lock_written = True
    return summary
