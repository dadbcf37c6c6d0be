"""The files domain: `[[files]]` -> plain artifacts by URL, each pinned by sha256 and placed at its `dest`.

The build places them with its generic file step (an `extract` tarball unpacked into `dest`),
`lock mirror` keeps them by sha256, and drift compares the placed files like any other.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace

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
            f.sha256 or "",  # "": not hashed yet; the build measures it (imagelock.commands.learn)
            f.size,
            dest=f.dest,
            mode=f.mode,
            extract=f.extract,
            label=f"file {f.dest}" + (" (extracted)" if f.extract else ""),
            unhashed=f.sha256 is None,
        )


def learn(layer: list[PlainFile], measured: Mapping[str, tuple[str, int]]) -> tuple[list[PlainFile], int]:
    """Each file held without a hash takes the sha256 and size a build measured at its URL."""
    count, out = 0, []
    for f in layer:
        found = measured.get(f.url)
        if f.sha256 is None and found is not None:
            f = replace(f, sha256=found[0], size=found[1])
            count += 1
        out.append(f)
    return out, count


def items(layer: list[PlainFile]) -> Iterator[Item]:
    for f in layer:
        if f.sha256 is None:
            yield Item(f.dest, "no hash")
        else:
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
    learn=learn,
)
