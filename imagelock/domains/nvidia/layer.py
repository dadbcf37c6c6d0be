"""The NVIDIA driver domain: intent `[nvidia]` -> lock `[nvidia]`, one verified runfile.

    [nvidia]
    cuda = "12.4.1"            # or "12.4" (newest 12.4.x), or instead:
    driver = "550.54.15"       # the runfile that bundles this driver
    mirror = "s3://bucket/nvidia/cuda_12.4.1_550.54.15_linux.run"   # optional: fetch from here
    install-flags = ["--silent", "--driver", "--dkms"]              # optional

The catalog says what NVIDIA publishes (md5, size). The runfile is streamed once
(from the mirror when one is named, else from NVIDIA), checked against both, and
its sha256, computed on the way, is recorded. A lock that already records the
same runfile keeps its sha256 unless `--refresh nvidia` asks for it again.

`IMAGELOCK_NVIDIA_BASE_URL` replaces NVIDIA's download base for fetching only
(a look-alike); the lock still records NVIDIA's URL. Where the run's upstreams
hold a recording of the runfile, that stands in for the download: the runfile's
recorded sha256, md5 and size, which must agree with the catalog (see
`recorded_sha256`).
"""

from __future__ import annotations

import os
from pathlib import Path

from packaging.version import InvalidVersion, Version

from imagelock.domains.context import UpdateContext
from imagelock.domains.nvidia import catalog as nvidia_catalog
from imagelock.domains.nvidia.catalog import BASE_URL_ENV, DOWNLOAD_BASE, Runfile
from imagelock.errors import InputError, VerificationError
from imagelock.hashing import Digest, is_sha256
from imagelock.intent.nvidia import NvidiaIntent, parse
from imagelock.lock.model import NvidiaLayer
from imagelock.net import aws, http
from imagelock.net.upstreams import RunfileRecord


def _key(version: str) -> Version:
    try:
        return Version(version)
    except InvalidVersion:
        return Version("0")


def _nearest(wanted: str, choices: list[str]) -> list[str]:
    """The two versions just below `wanted` and the two just above, in version order."""
    ordered = sorted(choices, key=_key)
    target = _key(wanted)
    below = [v for v in ordered if _key(v) < target]
    above = [v for v in ordered if _key(v) > target]
    return below[-2:] + above[:2]


def select(intent: NvidiaIntent, path: Path, catalog: dict[str, Runfile] | None = None) -> Runfile:
    """The one runfile the intent means, or an InputError naming the nearest ones there are."""
    catalog = nvidia_catalog.CATALOG if catalog is None else catalog
    known = sorted(catalog, key=_key)
    entry: Runfile | None = None
    if intent.cuda is not None:
        if intent.cuda in catalog:
            entry = catalog[intent.cuda]
        else:
            line = [v for v in known if v.startswith(intent.cuda + ".")] if intent.cuda.count(".") == 1 else []
            if not line:
                raise InputError(
                    path,
                    "nvidia.cuda",
                    f"no runfile for CUDA {intent.cuda} in the catalog; nearest: "
                    f"{', '.join(_nearest(intent.cuda, known))} (known: {known[0]} to {known[-1]})",
                )
            entry = catalog[line[-1]]
    if intent.driver is not None:
        bundling = [v for v in known if catalog[v].driver == intent.driver]
        if entry is not None:
            if entry.driver != intent.driver:
                raise InputError(
                    path,
                    "nvidia.driver",
                    f"CUDA {entry.cuda}'s runfile bundles driver {entry.driver}, "
                    f"not {intent.driver}; drop one of the two or make them agree",
                )
        elif not bundling:
            drivers = sorted({r.driver for r in catalog.values()}, key=_key)
            raise InputError(
                path,
                "nvidia.driver",
                f"no runfile in the catalog bundles driver {intent.driver}; "
                f"nearest: {', '.join(_nearest(intent.driver, drivers))}",
            )
        else:
            entry = catalog[bundling[-1]]  # several CUDA releases may bundle one driver: the newest
    assert entry is not None
    return entry


def _mirror_object(mirror: str, name: str) -> str:
    return mirror + name if mirror.endswith("/") else mirror


def fetch(source: str, dest: Path, expected: Runfile) -> Digest:
    """Stream `source` (https or s3) into `dest`; resumes a `.part` left by an interrupted run."""
    if source.startswith("s3://"):
        return aws.s3_download(aws.parse_s3_url(source), dest, total=expected.size)
    return http.download(source, dest, total=expected.size, what=expected.name)


def mismatches(digest: Digest, expected: Runfile) -> list[str]:
    """How bytes (streamed or recorded) differ from what NVIDIA and the catalog's cross-check publish."""
    problems = []
    if digest.size != expected.size:
        problems.append(f"size {digest.size} bytes, NVIDIA publishes {expected.size}")
    if digest.md5 != expected.md5:
        problems.append(f"md5 {digest.md5}, NVIDIA publishes {expected.md5}")
    if expected.sha256 is not None and digest.sha256 != expected.sha256:
        problems.append(f"sha256 {digest.sha256}, the catalog's cross-check (Spack) lists {expected.sha256}")
    return problems


def verify(digest: Digest, expected: Runfile, source: str) -> None:
    problems = mismatches(digest, expected)
    if problems:
        raise VerificationError(
            f"{expected.name} from {http.redact(source)}: {'; '.join(problems)}; "
            "the file was discarded and nothing was written"
        )


def download_verified(entry: Runfile, source: str) -> Digest:
    """Fetch, check md5 and size against the catalog, and keep the bytes by sha256 for `lock mirror`."""
    dest = http.cache_dir() / "downloads" / entry.name
    digest = fetch(source, dest, entry)
    try:
        verify(digest, entry, source)
    except VerificationError:
        dest.unlink(missing_ok=True)
        raise
    blob = http.blob_path(digest.sha256)
    blob.parent.mkdir(parents=True, exist_ok=True)
    os.replace(dest, blob)
    return digest


def recorded_sha256(recorded: RunfileRecord, entry: Runfile, url: str) -> str:
    """The sha256 a recording holds for the runfile, checked like a download.

    The recording must name the same URL, and its md5 and size must be NVIDIA's
    published ones (and its sha256 the catalog's cross-check, where there is
    one): a recording is trusted exactly as far as a download would be.
    """
    record, where = recorded.record, recorded.where
    sha256, md5, size = record.get("sha256"), record.get("md5"), record.get("size")
    if not isinstance(sha256, str) or not is_sha256(sha256) or not isinstance(size, int) or not isinstance(md5, str):
        raise InputError(where, f"runfiles.{entry.name}", "expected sha256 (64 hex digits), md5 and size (bytes)")
    problems = [] if record.get("url") == url else [f"url {record.get('url')!r}, the catalog's is {url}"]
    problems += mismatches(Digest(sha256=sha256, md5=md5, size=size), entry)
    if problems:
        raise VerificationError(f"{where}: {entry.name}: {'; '.join(problems)}; nothing was written")
    return sha256


def resolve(ctx: UpdateContext, catalog: dict[str, Runfile] | None = None) -> NvidiaLayer:
    path = ctx.intent.path
    intent = parse(ctx.intent.section("nvidia"), path)
    entry = select(intent, path, catalog)
    url = entry.url(DOWNLOAD_BASE)
    mirror = _mirror_object(intent.mirror, entry.name) if intent.mirror else None

    previous = ctx.previous.nvidia if ctx.previous else None
    same = (
        previous is not None
        and previous.runfile == entry.name
        and previous.md5 == entry.md5
        and previous.size == entry.size
        and previous.url == url
    )
    recorded = None if same and "nvidia" not in ctx.refresh else ctx.upstreams.runfile(entry.name, (path, "nvidia"))
    if same and "nvidia" not in ctx.refresh:
        assert previous is not None
        sha256 = previous.sha256
    elif recorded is not None:
        sha256 = recorded_sha256(recorded, entry, url)
    else:
        override = os.environ.get(BASE_URL_ENV)
        source = mirror or (entry.url(override) if override else url)
        sha256 = download_verified(entry, source).sha256
        if same and previous is not None and previous.sha256 != sha256:
            raise VerificationError(
                f"{entry.name}: sha256 {sha256} differs from the {previous.sha256} the lock "
                "recorded, though md5 and size match; nothing was written"
            )
    if mirror is None and previous is not None and previous.sha256 == sha256:
        mirror = previous.mirror_url  # recorded by `lock mirror`; still the same bytes
    return NvidiaLayer(
        runfile=entry.name,
        url=url,
        sha256=sha256,
        md5=entry.md5,
        size=entry.size,
        driver_version=entry.driver,
        cuda_version=entry.cuda,
        install_flags=intent.install_flags,
        mirror_url=mirror,
    )
