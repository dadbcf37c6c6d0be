"""A trimmed apt recording, tied back to the archive it was cut from.

tools/record_apt_snapshot.py cuts each index down to the closure's stanzas,
which breaks the distribution's signature chain, so it re-signs the trimmed
archive with a key of its own. It also keeps the distribution's signed
`upstream/<suite>.InRelease` files and, in `provenance.json`, the digests of
the full indexes it cut from. When the recording serves the archive, each upstream InRelease is
verified with the intent's own keyring and must list those digests; the lock
then records what the real archive serves (the intent's keyring, the real
InRelease and index digests), as a live run at recording time would have, so
a build verifies the archive with the distribution's key, not the recorder's.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from imagelock.domains.apt import archive
from imagelock.errors import InputError, VerificationError
from imagelock.hashing import sha256_bytes
from imagelock.lock.model import AptIndexFile, AptSource, instant
from imagelock.untrusted import load_json, read_bytes, read_text


def upstream_sources(recording: Path, sources: list[AptSource], keyring: Path) -> list[AptSource] | None:
    """The sources as the distribution signed them, or None for a recording that keeps no upstream files."""
    provenance_path = recording / "provenance.json"
    if not provenance_path.is_file() or not (recording / "upstream").is_dir():
        return None
    document = load_json(read_text(provenance_path, "no such file"), provenance_path, "provenance")
    suites = document.get("suites") if isinstance(document, dict) else None
    if not isinstance(suites, dict):
        raise InputError(provenance_path, "suites", "expected the recorded suites' digests")
    return [_upstream(recording, source, suites.get(source.suite), keyring) for source in sources]


def _upstream(recording: Path, source: AptSource, recorded: object, keyring: Path) -> AptSource:
    where = recording / "upstream" / f"{source.suite}.InRelease"
    if not isinstance(recorded, dict) or not where.is_file():
        raise VerificationError(f"{recording}: keeps no upstream InRelease and digests for suite {source.suite}")
    data = read_bytes(where, "no such file")
    release = archive.parse_release(
        archive.gpgv_verify(data, keyring, str(where)).decode("utf-8", "replace"), str(where)
    )
    if source.suite not in (release.suite, release.codename):
        raise VerificationError(
            f"{where}: signed for suite {release.suite or release.codename!r}, not {source.suite!r}"
        )
    if sha256_bytes(data) != recorded.get("inrelease-sha256"):
        raise VerificationError(f"{where}: not the InRelease provenance.json names for {source.suite}")
    indexes = []
    items = recorded.get("indexes", [])
    for item in items if isinstance(items, list) else [None]:
        if not isinstance(item, dict):
            raise VerificationError(f"{recording}/provenance.json: suites.{source.suite}.indexes: expected tables")
        path: Any = item.get("path")
        sha256: Any = item.get("sha256")
        size: Any = item.get("size")
        if release.sha256.get(path) != (sha256, size):
            raise VerificationError(
                f"{where}: does not list {path} with sha256 {sha256} and size {size}, "
                "as provenance.json says the recording was cut from"
            )
        indexes.append(AptIndexFile(path=path, sha256=sha256, size=size))
    if not indexes:
        raise VerificationError(f"{recording}/provenance.json: names no index of suite {source.suite}")
    moment = archive.release_time(release, str(where))
    return dataclasses.replace(
        source, inrelease_sha256=sha256_bytes(data), indexes=indexes, date=instant(moment) if moment else None
    )
