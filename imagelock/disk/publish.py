"""`lock publish LOCK FILE --to REGISTRY/REPOSITORY:TAG`: a disk image built from LOCK, pushed as an OCI
artifact (imagelock.disk.artifact), and the release record written next to the lock.

Before anything is sent: the lock must be intact, the file is hashed (streamed, progress on a terminal),
and when disk-image.sh's build record lies beside the file it must name this lock and these bytes, so a
file built from another lock, or changed since, is never published under this lock's name. Plain HTTP is
used only for a loopback registry, as Docker allows; every other registry is spoken to over https.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from imagelock import domains, writes
from imagelock.disk import artifact, record
from imagelock.disk.push import Pusher
from imagelock.disk.record import Release
from imagelock.errors import InputError
from imagelock.formats import oci_reference
from imagelock.hashing import sha256_file
from imagelock.net import http


def record_path(lock_path: str | Path) -> Path:
    """`locks/slice.lock` -> `locks/slice.lock.release.json`."""
    path = Path(lock_path)
    return path.with_name(path.name + ".release.json")


def hash_file(path: Path, label: str) -> tuple[str, int]:
    """sha256 and size, streamed in constant memory; a progress bar only on a terminal."""
    try:
        size = path.stat().st_size
        progress = http.Progress(label, size)
        sha256 = sha256_file(path, progress.advance)
        progress.close()
    except OSError as exc:
        raise InputError(path, None, f"cannot be read ({exc.strerror})") from None
    return sha256, size


def publish(lock_path: str | Path, file: str | Path, to: str) -> Release:
    lock = domains.read_intact_lock(lock_path, "nothing published")
    try:
        ref = oci_reference.parse(to)
    except oci_reference.ReferenceError as exc:
        raise InputError(None, "--to", f"{to!r}: {exc}") from None
    if ref.tag is None or ref.digest is not None:
        raise InputError(None, "--to", f"{to!r}: expected registry/repository:tag (the digest is what it answers)")
    path = Path(file)
    if not path.is_file():
        raise InputError(path, None, "no such disk image (disk-image.sh writes it into its work directory)")
    kind = path.suffix.lstrip(".")
    if kind not in record.KINDS:
        raise InputError(path, None, "expected a .raw or .qcow2 disk image")
    built_path = path.with_name(path.name + ".build.json")
    built = record.read(built_path) if built_path.exists() else None
    with lock.frozen() as digest:
        if built is not None and built.lock_digest != digest:
            raise InputError(built_path, "lock-digest", f"built from lock {built.lock_digest[:12]}, not {lock_path}")
        sha256, size = hash_file(path, f"sha256 {path.name}")
        if built is not None and (built.sha256, built.size) != (sha256, size):
            raise InputError(
                built_path, "sha256", f"{path.name} is no longer the file that was built (sha256 {sha256[:12]}…)"
            )
        release = Release(
            file=path.name,
            kind=kind,
            sha256=sha256,
            size=size,
            lock_digest=digest,
            image=lock.image_name(),
            version=lock.version or "",
        )
    scheme = "http" if oci_reference.is_loopback(ref.registry) else "https"
    client = Pusher(f"{scheme}://{ref.api_host}", ref.registry, ref.repository, f"publish {ref}")
    client.push_blob(artifact.empty_digest(), len(artifact.EMPTY), artifact.EMPTY)
    client.push_blob(f"sha256:{sha256}", size, path)
    manifest_digest = client.push_manifest(ref.tag, artifact.manifest(release), artifact.MANIFEST)
    release = replace(release, reference=str(ref), digest=manifest_digest)
    writes.write_atomic(record_path(lock_path), record.dumps(release))
    return release
