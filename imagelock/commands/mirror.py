"""`lock mirror --to TARGET`: every artifact the image build downloads, keyed by sha256, in S3, behind a
plain HTTP(S) prefix, or in a directory (imagelock.commands.mirror_targets).

Each artifact the lock pins by content (the NVIDIA runfile, the wheels, the model
files, the .debs) lands at `<target>/sha256/<hex>`. What is already there (right
size, right recorded sha256) is skipped, so a second run, or a run after an
interrupted one, moves only what is missing. Bytes come from the local
content-addressed cache when a resolver already fetched them, else from the
upstream URL; either way they are hashed and checked against the lock before
they are stored, and each store is checked after. The lock then records the
mirror, so a build can run with no access to the public upstreams: this is the
self-hosted snapshot. Uploads run in parallel, `jobs` at once.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imagelock import domains
from imagelock.commands.mirror_targets import (
    DirectoryTarget,
    HttpTarget,
    RegistryTarget,
    S3Target,
    Target,
    object_url,
    open_target,
)
from imagelock.domains.contract import MirrorPlace, MirrorReport
from imagelock.errors import EXIT_ERROR, EXIT_OK, ImagelockError, InputError, UpstreamError, VerificationError
from imagelock.hashing import digest_file
from imagelock.lock import codec as lockfile
from imagelock.lock.artifact import Artifact
from imagelock.lock.model import Lock, Mirror
from imagelock.net import aws, http
from imagelock.net.upstreams import hub_token
from imagelock.progress import LayerProgress
from imagelock.writes import exclusive, write_atomic

MAX_JOBS = 64


def artifacts(lock: Lock) -> list[Artifact]:
    """Every file the build downloads that the lock pins, once per sha256, in a stable order. A file held
    without a hash has no address in a mirror keyed by sha256 until `lock update --learn` pins it."""
    unique: dict[str, Artifact] = {}
    for artifact in domains.artifacts(lock):
        if not artifact.unhashed:
            unique.setdefault(artifact.sha256, artifact)
    return sorted(unique.values(), key=lambda a: (a.kind, a.name, a.sha256))


def layers_of(lock: Lock) -> dict[str, str]:
    """sha256 -> the name of the layer that pins the file (the first, when several pin the same bytes)."""
    found: dict[str, str] = {}
    for domain, layer, _ in domains.held(lock):
        for artifact in domain.artifacts(layer):
            found.setdefault(artifact.sha256, domain.name)
    return found


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
    unrecorded: bool = False  # complete, in a directory the lock cannot name as a URL
    registry: bool = False  # the target is a mirror registry: container images only, never recorded
    domains: list[MirrorReport] = field(default_factory=list)  # each domain's own mirror step (containers)
    unhashed: list[Artifact] = field(default_factory=list)  # not mirrored: no sha256 to file them under

    @property
    def uploaded_bytes(self) -> int:
        return sum(a.size or 0 for a in self.uploaded)

    @property
    def skipped_bytes(self) -> int:
        return sum(a.size or 0 for a in self.skipped)

    @property
    def exit_code(self) -> int:
        return EXIT_ERROR if self.failed or any(r.failed for r in self.domains) else EXIT_OK

    def lines(self) -> list[str]:
        out = [
            f"mirror {self.target}: {len(self.uploaded)} uploaded ({_size(self.uploaded_bytes)}), "
            f"{len(self.skipped)} already there ({_size(self.skipped_bytes)}), {len(self.failed)} failed"
        ]
        out += [f"  failed {a.kind} {a.name}: {reason}" for a, reason in self.failed]
        for report in self.domains:
            out.append(
                f"  {report.what}: {report.copied} copied, {report.present} already there, {len(report.failed)} failed"
            )
            out += [f"  failed {reason}" for reason in report.failed]
        if self.unhashed:
            names = ", ".join(a.name for a in self.unhashed[:4]) + (" ..." if len(self.unhashed) > 4 else "")
            out.append(
                f"  not mirrored: {len(self.unhashed)} files the lock holds without a hash ({names}): a build "
                "measures them; `lock update --learn` pins them, and the next `lock mirror` copies them"
            )
        if self.registry and self.failed:
            out.append(f"  {len(self.failed)} files not mirrored: a registry keeps container images only")
        elif self.failed or any(r.failed for r in self.domains):
            out.append("  the lock was not changed; run again to upload what is missing")
        if self.unrecorded and self.registry:
            out.append(
                "  the lock was not changed: the build pulls from the locked registries; point the runtime at "
                f"the mirror (containerd's hosts.toml, Docker's registry-mirrors) to pull from {self.target}"
            )
        elif self.unrecorded:
            out.append(
                f"  the lock was not changed: a build reads this directory as IMAGELOCK_MIRROR={self.target} "
                "(or wherever it is copied or mounted); to record it in the lock, serve it and pass "
                "--record-as <its http(s):// or s3:// URL>"
            )
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
            "unrecorded": self.unrecorded,
            "unhashed": [{"kind": a.kind, "name": a.name} for a in self.unhashed],
            "domains": [
                {"what": r.what, "copied": r.copied, "present": r.present, "failed": r.failed} for r in self.domains
            ],
        }


def _size(count: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    return f"{count} B"


def _verified_local(artifact: Artifact) -> Path:
    """The artifact's bytes on local disk, checked against the lock: from the cache, else from the first
    of its sources that serves them (a snapshot before the upstream, as the build tries them)."""
    blob = http.blob_path(artifact.sha256)
    if blob.exists():
        digest = digest_file(blob)
        if digest.sha256 == artifact.sha256 and (artifact.size is None or digest.size == artifact.size):
            return blob
        blob.unlink()  # a cache entry that is not what its name says: fetch again
    dest = http.cache_dir() / "downloads" / f"{artifact.sha256}.download"
    failures: list[str] = []
    for url, headers in source_requests(artifact):
        try:
            digest = http.download(url, dest, headers=headers, total=artifact.size, what=artifact.name)
        except UpstreamError as exc:
            failures.append(str(exc))
            continue
        if digest.sha256 != artifact.sha256 or (artifact.size is not None and digest.size != artifact.size):
            dest.unlink(missing_ok=True)
            raise VerificationError(
                f"{artifact.name} from {http.redact(url)}: sha256 {digest.sha256} "
                f"({digest.size} bytes), the lock records {artifact.sha256} ({artifact.size} bytes)"
            )
        blob.parent.mkdir(parents=True, exist_ok=True)
        os.replace(dest, blob)
        return blob
    raise UpstreamError("; ".join(failures) or f"{artifact.name}: the lock records no source for it")


def source_requests(artifact: Artifact) -> list[tuple[str, dict[str, str] | None]]:
    """Where to fetch an artifact from, in order: its URLs, each moved to the look-alike the environment names."""
    moved = os.environ.get(artifact.moved_by[0]) if artifact.moved_by else None
    token = hub_token() if artifact.hub else None
    headers = {"Authorization": f"Bearer {token}"} if token else None
    out = []
    for url in artifact.urls:
        if moved and artifact.moved_by:
            url = url.replace(artifact.moved_by[1], moved.rstrip("/"), 1)
        out.append((url, headers))
    return out


def _reason(exc: Exception) -> str:
    if isinstance(exc, ImagelockError):
        return str(exc)
    return aws.describe_error(exc)


def mirror_artifacts(
    items: list[Artifact], target: Target, jobs: int = 4, on_done: Callable[[str, Artifact], None] | None = None
) -> MirrorSummary:
    """Each artifact into the target; `on_done(outcome, artifact)` after each ("uploaded", "skipped", "failed")."""
    target.check()
    summary = MirrorSummary(target=target.name)
    guard = threading.Lock()

    def one(artifact: Artifact) -> None:
        try:
            if target.present(artifact):
                outcome = "skipped"
            else:
                target.store(_verified_local(artifact), artifact)
                outcome = "uploaded"
        except Exception as exc:  # noqa: BLE001 - one artifact's failure is reported, the others go on
            with guard:
                summary.failed.append((artifact, _reason(exc)))
            if on_done:
                on_done("failed", artifact)
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


def _counted(
    lock: Lock, items: list[Artifact], progress: LayerProgress, then: Callable[[str, Artifact], None] | None
) -> Callable[[str, Artifact], None]:
    """An `on_done` that also moves the artifact's layer's row of the display."""
    layer = layers_of(lock)
    totals = Counter(layer[a.sha256] for a in items)
    progress.add(dict(totals))
    outcomes: dict[str, Counter[str]] = {name: Counter() for name in totals}
    guard = threading.Lock()

    def done(outcome: str, artifact: Artifact) -> None:
        name = layer[artifact.sha256]
        with guard:
            outcomes[name][outcome] += 1
            seen = outcomes[name]
            said = f"{seen['uploaded']} copied, {seen['skipped']} already there, {seen['failed']} failed"
        progress.advance(name, outcome=said)
        if then is not None:
            then(outcome, artifact)

    return done


def run_mirror(
    lock_path: str | Path,
    to: str,
    jobs: int = 4,
    *,
    record_as: str | None = None,
    write: bool = True,
    on_done: Callable[[str, Artifact], None] | None = None,
    progress: LayerProgress | None = None,
) -> MirrorSummary:
    """What `lock mirror LOCK --to TARGET [--record-as URL] [--jobs N]` does; the CLI prints `summary.lines()`
    and exits `summary.exit_code`. The lock records the mirror only when every artifact is there and the
    target has a URL a build can read (a directory has none unless `--record-as` names where it is served)."""
    if not 1 <= jobs <= MAX_JOBS:
        raise InputError(None, "--jobs", f"expected 1 to {MAX_JOBS}, found {jobs}")
    target = open_target(to, record_as)
    lock = domains.read_intact_lock(lock_path, "nothing was mirrored")
    if isinstance(target, RegistryTarget):  # files have no place in a registry: each one is named, none copied
        summary = MirrorSummary(target=target.name, registry=True)
        summary.failed = [
            (a, f"{target.name} keeps container images only; mirror files to s3://, http(s):// or a directory")
            for a in artifacts(lock)
        ]
        place = MirrorPlace(registry=target.url)
    else:
        items = artifacts(lock)
        if progress is not None:
            on_done = _counted(lock, items, progress, on_done)
        summary = mirror_artifacts(items, target, jobs, on_done)
        place = MirrorPlace(store=target if isinstance(target, (DirectoryTarget, HttpTarget, S3Target)) else None)
    summary.unhashed = [a for a in domains.artifacts(lock) if a.unhashed]
    for domain, layer, _ in domains.held(lock):
        if progress is not None and domain.mirror:
            progress.start(f"{domain.name} (its own copy)")
        report = domain.copy_to_mirror(layer, place)
        if report is not None:
            summary.domains.append(report)
        if progress is not None and domain.mirror:
            failed = f", {len(report.failed)} failed" if report and report.failed else ""
            outcome = f"{report.copied} copied, {report.present} already there{failed}" if report else "nothing"
            progress.finish(f"{domain.name} (its own copy)", outcome)
    if summary.exit_code != EXIT_OK or not write:
        return summary
    if target.record is None:
        summary.unrecorded = True
        return summary
    record(lock, target.record)
    with exclusive(Path(lock_path)):
        write_atomic(lock_path, lockfile.dumps(lock))
    summary.lock_written = True
    return summary
