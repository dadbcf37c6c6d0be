"""The records that travel with a disk image.

- The build record, `<file>.build.json`, written by disk-image.sh beside the file it built: the file's
  sha256 and size, and the lock (digest, image name, version) it was built from.
- The release record, `<lock>.release.json`, written by `lock publish` next to the lock: the same, plus
  where the OCI artifact was pushed and its manifest digest, which is what a catalog stores.

`lock drift --cache` reads either: it needs the sha256 and size. Every read is strict: a record that is
not what it should be is one InputError naming the file and the key.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from imagelock.errors import InputError
from imagelock.formats.oci_reference import DIGEST
from imagelock.hashing import is_sha256
from imagelock.intent.output import FILE_NAME, KINDS
from imagelock.untrusted import read_text

SCHEMA = 1


@dataclass(frozen=True)
class Release:
    """What a host's cached copy is compared with; `digest` and `reference` only once it is published."""

    file: str
    kind: str
    sha256: str
    size: int
    lock_digest: str
    image: str
    version: str
    reference: str | None = None  # registry/repository:tag it was pushed to
    digest: str | None = None  # the artifact's manifest digest: the catalog's key

    def to_json(self) -> dict[str, Any]:
        data = {"schema": SCHEMA, **{k.replace("_", "-"): v for k, v in asdict(self).items()}}
        return {k: v for k, v in data.items() if v is not None}


def dumps(release: Release) -> str:
    return json.dumps(release.to_json(), indent=2, sort_keys=True) + "\n"


def read(path: str | Path) -> Release:
    """A build or release record; one InputError (exit 2) naming the key for anything else."""
    path = Path(path)
    text = read_text(path, "no such release record (`lock publish` writes <lock>.release.json)", limit=1 << 20)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, None, f"not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise InputError(path, None, "expected a JSON object (a release record)")
    if data.get("schema") != SCHEMA:
        raise InputError(path, "schema", f"expected {SCHEMA}, found {data.get('schema')!r}")

    def text_of(key: str, ok: Any, what: str, optional: bool = False) -> Any:
        value = data.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str) or not ok(value):
            raise InputError(path, key, f"expected {what}, found {value!r}")
        return value

    size = data.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InputError(path, "size", f"expected the file's size in bytes, found {size!r}")
    return Release(
        file=text_of("file", FILE_NAME.match, "a plain file name"),
        kind=text_of("kind", KINDS.__contains__, "raw or qcow2"),
        sha256=text_of("sha256", is_sha256, "64 lower-case hex digits"),
        size=size,
        lock_digest=text_of("lock-digest", is_sha256, "the lock's digest (64 hex digits)"),
        image=text_of("image", bool, "the image name"),
        version=text_of("version", lambda v: True, "the image version"),
        reference=text_of("reference", bool, "registry/repository:tag", optional=True),
        digest=text_of("digest", DIGEST.match, "sha256: and 64 hex digits", optional=True),
    )
