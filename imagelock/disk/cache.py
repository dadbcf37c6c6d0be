"""`lock drift --cache PATH --release RECORD`: is a host's cached disk image the released one?

Seed 003 makes a slice host schedulable only once its node-local copy of the raw image hashes to the
released sha256. The answer is one of three, with drift's exit codes:

    verified  the file's size and sha256 are the record's          exit 0
    missing   there is no file at PATH                             exit 1
    changed   its size or sha256 differs                           exit 1

and a record that cannot be read, or a file that cannot, is exit 2 (no answer). The size is compared
first, so a truncated copy is "changed" without reading it; the sha256 is streamed in constant memory,
with a progress bar only on a terminal. Over `--ssh` the host's own sha256sum reads the file, so a
many-GiB image never crosses the network.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagelock.disk.publish import hash_file
from imagelock.disk.record import Release
from imagelock.errors import EXIT_NO, EXIT_OK, InputError
from imagelock.hashing import is_sha256

VERIFIED, MISSING, CHANGED = "verified", "missing", "changed"


@dataclass(frozen=True)
class CacheState:
    path: str
    status: str
    release: Release
    sha256: str | None = None  # what the file hashes to (None: missing, or not hashed because its size differs)
    size: int | None = None
    host: str | None = None  # None: this machine

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.status == VERIFIED else EXIT_NO

    def line(self) -> str:
        where = f"{self.host}:{self.path}" if self.host else self.path
        rel = self.release
        released = f"{rel.image} {rel.version}".strip() + (f" ({rel.digest})" if rel.digest else "")
        if self.status == VERIFIED:
            return f"verified {where}: sha256 {rel.sha256[:12]}, {rel.size} bytes, as released in {released}"
        if self.status == MISSING:
            return f"missing {where}: no such file; released {released}, sha256 {rel.sha256[:12]}"
        if self.size != rel.size:
            return f"changed {where}: {self.size} bytes, released {released} has {rel.size}"
        return f"changed {where}: sha256 {(self.sha256 or '')[:12]}, released {released} has {rel.sha256[:12]}"

    def to_json(self) -> dict[str, Any]:
        """What a catalog stores per node: node_image_cache.status and its digests."""
        rel = self.release
        return {
            "status": self.status,
            "path": self.path,
            "host": self.host,
            "sha256": self.sha256,
            "size": self.size,
            "expected": {"sha256": rel.sha256, "size": rel.size},
            "digest": rel.digest,
            "reference": rel.reference,
            "image": rel.image,
            "version": rel.version,
        }


def verify(path: str | Path, release: Release) -> CacheState:
    """This machine's copy."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return CacheState(str(path), MISSING, release)
    if not path.is_file():
        raise InputError(path, None, "--cache: not a regular file")
    size = path.stat().st_size
    if size != release.size:
        return CacheState(str(path), CHANGED, release, size=size)
    sha256, size = hash_file(path, f"sha256 {path.name}")
    return CacheState(str(path), VERIFIED if sha256 == release.sha256 else CHANGED, release, sha256, size)


# The remote half: plain POSIX sh and coreutils, the file's path one quoted argument ($1).
_REMOTE = 'if [ ! -e "$1" ]; then echo missing; exit 0; fi; stat -c %s -- "$1" && sha256sum -- "$1"'


def verify_ssh(
    host: str, path: str, release: Release, timeout: float = 300.0, extra_options: list[str] | None = None
) -> CacheState:
    """A host's copy over the system ssh client, as `lock drift --ssh` reaches it (imagelock.drift.ssh)."""
    from imagelock.drift.ssh import ssh_argv

    argv = ssh_argv(host, ["sh", "-c", _REMOTE, "sh", path])
    if extra_options:
        argv[1:1] = extra_options
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise InputError(None, "--ssh", "no ssh client on this machine") from None
    except subprocess.TimeoutExpired:
        raise InputError(None, "--ssh", f"{host}: no answer within {timeout:g}s") from None
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = lines[-1][:200] if lines else "no message"
        what = "unreachable" if done.returncode == 255 else f"could not read {shlex.quote(path)}"
        raise InputError(None, "--ssh", f"{host}: {what}: {reason}")
    out = done.stdout.decode("utf-8", "replace").split()
    if out == ["missing"]:
        return CacheState(path, MISSING, release, host=host)
    if len(out) < 2 or not out[0].isdigit() or not is_sha256(out[1]):
        raise InputError(None, "--ssh", f"{host}: an answer that is not a size and a sha256")
    size, sha256 = int(out[0]), out[1]
    status = VERIFIED if (size, sha256) == (release.size, release.sha256) else CHANGED
    return CacheState(path, status, release, sha256, size, host=host)
