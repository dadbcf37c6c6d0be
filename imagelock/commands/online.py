"""`lock check --online`: is every locked artifact still fetchable from at least one of its sources?

The offline verdict says the lock is intact; it cannot say that the bytes still exist.
Upstreams drop files (an archive's superseded .debs, a yanked wheel, a deleted Hub
revision), and a lock whose artifact has no live source no longer builds. Each
artifact's sources are asked in the order the build tries them (the mirror by sha256,
then its recorded URLs) with a HEAD (a one-byte ranged GET where HEAD is refused), and
an answer counts only with the locked size. What a layer pins that is not an Artifact (container
images) is asked by its domain's own `online` probe (imagelock.domains.contract): a digest no longer served
is gone, a tag that moved is a note. Nothing is downloaded and nothing written.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from imagelock import domains
from imagelock.commands.mirror import MAX_JOBS, artifacts, layers_of, source_requests
from imagelock.commands.mirror_targets import object_url
from imagelock.domains.contract import OnlineAnswer
from imagelock.errors import InputError
from imagelock.lock.artifact import Artifact
from imagelock.net import aws, http
from imagelock.progress import LayerProgress

UNREACHABLE = "unreachable"  # a probe that got no answer at all (DNS, connect, time-out)


@dataclass
class Probe:
    """One artifact: the source that still serves it, or why none does."""

    artifact: Artifact
    live: str | None = None
    tried: list[tuple[str, str]] = field(default_factory=list)  # (source, why it failed)


@dataclass
class OnlineReport:
    lock_path: Path
    probes: list[Probe]
    answers: list[OnlineAnswer] = field(default_factory=list)  # the domains' own probes (container images)

    @property
    def gone(self) -> list[Probe]:
        return [p for p in self.probes if p.live is None]

    @property
    def gone_answers(self) -> list[OnlineAnswer]:
        return [a for a in self.answers if a.gone is not None]

    @property
    def gone_names(self) -> list[str]:
        """What is gone, artifacts and the domains' own things, as the JSON report lists it."""
        return [p.artifact.what for p in self.gone] + [a.what for a in self.gone_answers]

    @property
    def counted(self) -> str:
        return f"{len(self.probes)} artifacts" + (f" and {len(self.answers)} container images" if self.answers else "")

    @property
    def unanswered(self) -> bool:
        """No source answered anything: the network is down here, which says nothing about the artifacts."""
        total = len(self.probes) + len(self.answers)
        return (
            bool(total)
            and all(p.live is None and all(why.startswith(UNREACHABLE) for _, why in p.tried) for p in self.probes)
            and all(a.unreachable for a in self.answers)
        )

    def lines(self) -> list[str]:
        path = self.lock_path
        notes = [f"{path}: online: note: {a.what}: {a.moved}" for a in self.answers if a.moved]
        counted = self.counted
        gone = len(self.gone) + len(self.gone_answers)
        if not gone:
            return [f"{path}: online: all {counted} are fetchable from at least one source", *notes]
        of = f"{len(self.gone)} of {len(self.probes)} artifacts"
        if self.answers:
            of += f" and {len(self.gone_answers)} of {len(self.answers)} container images"
        out = [f"{path}: online: {of} are gone from every source"]
        for probe in self.gone:
            tried = "; ".join(f"{http.redact(source)}: {why}" for source, why in probe.tried) or "no source recorded"
            out.append(f"{path}: gone: {probe.artifact.what} (sha256 {probe.artifact.sha256[:12]}): {tried}")
        out += [f"{path}: gone: {a.what}: {a.gone}" for a in self.gone_answers]
        out += notes
        out.append(
            f"{path}: fix: `lock mirror {path} --to <s3://…, https://…, docker://… or a directory>` keeps "
            "every artifact by sha256 (every image by digest) while a source still has it; run it when the lock "
            "is written. What is gone now needs "
            "another copy of those exact bytes, or a `lock update` that moves past them"
        )
        return out


def _sources(artifact: Artifact, mirror: str | None) -> list[tuple[str, dict[str, str] | None]]:
    """Where the build would look, in its order: the mirror by sha256, then the artifact's own URLs."""
    out: list[tuple[str, dict[str, str] | None]] = []
    if mirror:
        out.append((object_url(mirror, artifact.sha256), None))  # never the Hub token: a mirror is not the Hub
    out += source_requests(artifact)
    return out


def _probe_one(source: str, headers: dict[str, str] | None, size: int | None) -> str | None:
    """None when `source` serves something of the locked size; else why not."""
    if source.startswith("s3://"):
        return _probe_s3(source, size)
    if source.startswith("/"):
        target = Path(source)
        if not target.is_file():
            return "not in the directory"
        return None if size is None or target.stat().st_size == size else f"{target.stat().st_size} bytes"
    answer = http.probe(source, headers)
    if answer.status is None:
        return f"{UNREACHABLE} ({answer.reason})"
    if answer.status >= 400:
        return f"HTTP {answer.status}"
    if size is not None and answer.size is not None and answer.size != size:
        return f"serves {answer.size} bytes, the lock says {size}"
    return None


def _probe_s3(source: str, size: int | None) -> str | None:
    from botocore.exceptions import BotoCoreError, ClientError

    url = aws.parse_s3_url(source, None, "mirror")
    try:
        head = aws.client("s3").head_object(Bucket=url.bucket, Key=url.key)
    except ClientError as exc:
        return aws.describe_error(exc)
    except BotoCoreError as exc:
        return f"{UNREACHABLE} ({aws.describe_error(exc)})"
    length = head.get("ContentLength")
    return None if size is None or length == size else f"{length} bytes, the lock says {size}"


def check_online(
    lock_path: str | Path,
    *,
    mirror: str | None = None,
    jobs: int = 16,
    progress: LayerProgress | None = None,
) -> OnlineReport:
    """`progress`: one row per layer, counting its artifacts as they are asked; None shows nothing."""
    if not 1 <= jobs <= MAX_JOBS:
        raise InputError(None, "--jobs", f"expected 1 to {MAX_JOBS}, found {jobs}")
    if mirror is not None and not mirror.startswith(("https://", "http://", "s3://", "/")):
        raise InputError(None, "--mirror", f"expected an http(s):// or s3:// URL or an absolute directory: {mirror!r}")
    lock, _ = domains.read_lock(lock_path)
    where = mirror or (lock.mirror.url if lock.mirror else None)
    probes = [Probe(a) for a in artifacts(lock)]
    layer = layers_of(lock)
    if progress is not None:
        progress.add(dict(Counter(layer[p.artifact.sha256] for p in probes)))

    def one(probe: Probe) -> None:
        for source, headers in _sources(probe.artifact, where):
            why = _probe_one(source, headers, probe.artifact.size)
            if why is None:
                probe.live = source
                break
            probe.tried.append((source, why))
        if progress is not None:
            progress.advance(layer[probe.artifact.sha256])

    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="imagelock-online") as pool:
        list(pool.map(one, probes))
    answers: list[OnlineAnswer] = []
    for domain, layer, _ in domains.held(lock):
        row = f"{domain.name} (its own check)" if progress is not None and domain.online else None
        if progress is not None and row:
            progress.start(row)
        found = domain.probe_online(layer)
        answers += found
        if progress is not None and row:
            progress.finish(row, f"{len(found)} asked")
    return OnlineReport(Path(lock_path), probes, answers)
