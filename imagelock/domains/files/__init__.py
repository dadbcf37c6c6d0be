"""The files domain: `[[files]]` -> plain artifacts by URL, each pinned by sha256 and placed at its `dest`.

The build places them with its generic file step (an `extract` tarball unpacked into `dest`),
`lock mirror` keeps them by sha256, and drift compares the placed files like any other.
"""

from __future__ import annotations

from collections.abc import Iterator

from imagelock.domains.contract import Domain
from imagelock.intent import files as intent
from imagelock.lock.artifact import Artifact
from imagelock.lock.diff import Item
from imagelock.lock.model import PlainFile


def artifacts(layer: list[PlainFile]) -> Iterator[Artifact]:
    for f in layer:
        yield Artifact(
            "file",
            f.url.rsplit("/", 1)[-1],
            (f.url,),
            f.sha256,
            f.size,
            dest=f.dest,
            mode=f.mode,
            extract=f.extract,
            label=f"file {f.dest}" + (" (extracted)" if f.extract else ""),
        )


def items(layer: list[PlainFile]) -> Iterator[Item]:
    for f in layer:
        yield Item(f.dest, f.sha256[:12], f.sha256, f.size)


DOMAIN = Domain(
    name="files",
    identity="dest",  # a variant takes one file by where it goes: "files:/opt/efa"
    layer=list[PlainFile],
    parse=intent.parse,
    resolver="imagelock.domains.files.layer:resolve",
    summary=lambda layer: f"{len(layer)} files",
    items=items,
    artifacts=artifacts,
    image_order=6,
)
