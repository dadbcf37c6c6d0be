"""A toy domain, written the way CONTRIBUTING.md says a domain is added: plain files by URL and sha256.

    [[toyfiles]]
    url = "http://127.0.0.1:PORT/tool.tar"
    sha256 = "..."            # optional: verified if given, measured at lock time if not
    dest = "/opt/tool.tar"

It is this one module plus one entry in imagelock.domains.DOMAINS (the tests add it with monkeypatch).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagelock.domains.context import UpdateContext
from imagelock.domains.contract import Domain
from imagelock.errors import InputError, VerificationError
from imagelock.hashing import is_sha256, sha256_bytes
from imagelock.intent.fields import check_keys
from imagelock.lock.artifact import Artifact
from imagelock.lock.diff import Item
from imagelock.net import http

_DEST = re.compile(r"^/[A-Za-z0-9._/+-]+$")


@dataclass
class ToyIntent:
    url: str
    dest: str
    sha256: str | None = None


@dataclass
class ToyFile:
    """What the lock records for one file."""

    url: str
    sha256: str
    size: int
    dest: str


def parse(value: Any, path: Path) -> list[ToyIntent]:
    if not isinstance(value, list):
        raise InputError(path, "toyfiles", "expected an array of tables ([[toyfiles]])")
    out = []
    for i, table in enumerate(value):
        where = f"toyfiles[{i}]"
        check_keys(table, ("url", "dest", "sha256"), path, where)
        url, dest, sha256 = table.get("url"), table.get("dest"), table.get("sha256")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InputError(path, f"{where}.url", "expected an http(s) URL")
        if not isinstance(dest, str) or not _DEST.match(dest):
            raise InputError(path, f"{where}.dest", "expected an absolute path of plain characters")
        if sha256 is not None and not is_sha256(sha256):
            raise InputError(path, f"{where}.sha256", "expected 64 lower-case hex digits")
        out.append(ToyIntent(url=url, dest=dest, sha256=sha256))
    return out


def resolve(ctx: UpdateContext) -> list[ToyFile]:
    files = []
    for i, entry in enumerate(parse(ctx.intent.section("toyfiles"), ctx.intent.path)):
        data = http.get_bytes(entry.url, what=f"toyfiles[{i}]:")
        digest = sha256_bytes(data)
        if entry.sha256 is not None and digest != entry.sha256:
            raise VerificationError(f"{entry.url}: sha256 {digest}, the intent says {entry.sha256}")
        files.append(ToyFile(url=entry.url, sha256=digest, size=len(data), dest=entry.dest))
    return files


def artifacts(layer: list[ToyFile]) -> Iterator[Artifact]:
    for f in layer:
        yield Artifact("file", f.dest.rsplit("/", 1)[-1], (f.url,), f.sha256, f.size, dest=f.dest, mode="0644")


def items(layer: list[ToyFile]) -> Iterator[Item]:
    for f in layer:
        yield Item(f.dest, f.sha256[:12], f.sha256, f.size)


DOMAIN = Domain(
    name="toyfiles",
    layer=list[ToyFile],
    parse=parse,
    resolver=f"{__name__}:resolve",
    summary=lambda layer: f"{len(layer)} toy files",
    items=items,
    artifacts=artifacts,
)
