"""The domain contract: what every kind of thing an image holds tells the rest of imagelock.

A domain is one subpackage of imagelock.domains that defines `DOMAIN`, and one
line in `imagelock.domains.DOMAINS`. `lock update`, `check`, `mirror`,
`generate`, `diff` and `drift` iterate over that list and never name a domain:

- `name`: its intent section, its lock section and its `--only` / `--refresh` name;
- `layer`: the type of its lock section (a dataclass, or `list[...]` of one);
- `parse`: the typed, strict reader of its intent section;
- `resolver`: "module:function", sources -> locked entries. Imported only by
  `lock update`, so commands that only read a lock never load a network client;
- `artifacts`: every file its entries pin by content (imagelock.lock.artifact);
  an artifact with a `dest` is placed by the build's generic file step and
  compared by drift's generic file audit;
- `components`: its rows in the SBOM `lock generate` writes (imagelock.lock.component): a purl, hashes and
  a source per locked thing. Optional: the default is one `pkg:generic` row per artifact;
- `summary` and `items`: its line in `lock update`'s answer and its rows in `lock diff`;
- `problems`: its own offline consistency findings for `lock check`;
- `findings`: what its layer does not pin or prove (imagelock.lock.finding): `lock check`
  prints them next to its verdict and `--strict` fails on them;
- `notes`: what `lock check` should say about how its layer was proven, which is neither a fault nor a
  finding (where a hash came from: a signed sums file, or the intent's word);
- `image_order`: where its layer sits in the image, bottom first (reports list layers so);
- `moves_major`: a change in it is a new image generation (the image version's major);
- `mirror`: "module:function", `copy(layer, place) -> MirrorReport`, for what a layer pins that is
  not an Artifact (container images, kept as an OCI image layout in a file mirror's MirrorStore or in a
  mirror registry): `lock mirror --to` calls it after the artifacts, with the MirrorPlace `--to` names;
  imported only then;
- `online`: "module:function", `probe(layer) -> list[OnlineAnswer]`, for `lock check --online` of what a
  layer pins that is not an Artifact (container images, asked of their registries); imported only then;
- `runs_apart`: its resolver mostly waits on a subprocess (uv), so `lock update` runs it
  on a thread of its own while the other domains resolve;
- `identity`, `replace`, `reads`: how its section combines in an image variant (docs/variants.md):
  `identity` is, for an array section, the key naming one entry (both in the intent and in the lock
  entry), which a `domain:key` selector names and `select` filters on; `replace` says a variant's
  table replaces the shared one instead of merging over it; `reads` names the other sections its
  resolver reads, so a variant that changes one of them resolves this domain too;
- `learn`: for a domain that may lock a file without a hash (its artifact's sha256 is ""),
  `learn(layer, measured) -> (layer, count)` writes in what a build measured, keyed by the
  artifact's upstream URL (imagelock.commands.learn).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from imagelock.domains.context import UpdateContext
from imagelock.intent.document import Intent
from imagelock.lock.artifact import Artifact
from imagelock.lock.component import Component, from_artifact
from imagelock.lock.diff import Item
from imagelock.lock.finding import Finding
from imagelock.lock.model import Lock


def no_artifacts(layer: Any) -> Iterable[Artifact]:
    return ()


def no_problems(lock: Lock, intent: Intent) -> list[str]:
    return []


def no_findings(lock: Lock, intent: Intent) -> list[Finding]:
    return []


def no_notes(lock: Lock, intent: Intent) -> list[str]:
    return []


def learns_nothing(layer: Any, measured: Mapping[str, tuple[str, int]]) -> tuple[Any, int]:
    return layer, 0


@dataclass
class MirrorReport:
    """What a domain's own mirror step did: how many objects it copied, found there, or could not copy."""

    what: str  # how the summary names it, such as "containers (OCI layout DIR/oci)"
    copied: int = 0
    present: int = 0
    failed: list[str] = field(default_factory=list)


@dataclass
class OnlineAnswer:
    """What `lock check --online` learnt of one locked thing that is not an Artifact."""

    what: str  # how the report names it
    gone: str | None = None  # why its locked bytes are no longer served (None: they are)
    moved: str | None = None  # what moved upstream without taking the locked bytes away: a note, not a failure
    unreachable: bool = False  # no answer at all: says nothing about the bytes


class MirrorStore(Protocol):
    """Where a file mirror (a directory, an S3 prefix, an HTTP(S) prefix) keeps bytes, by a path under its
    root, so a domain writes one layout whatever `--to` names (imagelock.commands.mirror_targets)."""

    name: str  # how messages name it: credentials removed

    def holds(self, path: str, sha256: str, size: int | None) -> bool:
        """`path` is there with this size (and sha256, where the store can tell): no need to store it again."""

    def put(self, path: str, local: Path, sha256: str) -> None:
        """Store the verified local file at `path`, then check what was stored against `sha256`."""

    def read(self, path: str) -> bytes | None:
        """What `path` holds, or None when nothing is there."""

    def write(self, path: str, body: bytes) -> None:
        """Store a small document that no digest names (index.json), whole or not at all."""


@dataclass(frozen=True)
class MirrorPlace:
    """Where `lock mirror --to` points, for a domain's own step: a file mirror's store or a registry."""

    store: MirrorStore | None = None  # a directory, s3:// or http(s):// prefix
    registry: str | None = None  # docker://host[:port][/prefix]


@dataclass(frozen=True)
class Domain:
    """One kind of thing an image holds, from its intent section to drift."""

    name: str
    layer: Any
    parse: Callable[[Any, Path], Any]
    resolver: str
    summary: Callable[[Any], str]
    items: Callable[[Any], Iterable[Item]]
    artifacts: Callable[[Any], Iterable[Artifact]] = no_artifacts
    problems: Callable[[Lock, Intent], list[str]] = no_problems
    findings: Callable[[Lock, Intent], list[Finding]] = no_findings
    notes: Callable[[Lock, Intent], list[str]] = no_notes
    image_order: int = 100
    moves_major: bool = False
    runs_apart: bool = False
    mirror: str | None = None
    online: str | None = None
    learn: Callable[[Any, Mapping[str, tuple[str, int]]], tuple[Any, int]] = learns_nothing
    identity: str | None = None
    replace: bool = False
    reads: tuple[str, ...] = ()
    components: Callable[[Any], Iterable[Component]] | None = None

    def select(self, layer: Any, keys: Iterable[str] | None) -> Any:
        """The part of a layer a variant takes: all of it (keys None), or the entries whose identity is in keys."""
        if keys is None:
            return layer
        if self.identity is None:
            raise ValueError(f"{self.name}: a table layer is taken whole")
        wanted = set(keys)
        return [entry for entry in layer if str(getattr(entry, self.identity)) in wanted]

    def sbom_components(self, layer: Any) -> Iterable[Component]:
        """This layer's SBOM rows: the domain's own, or by default one `pkg:generic` row per artifact."""
        if self.components is not None:
            return self.components(layer)
        return [from_artifact(artifact) for artifact in self.artifacts(layer)]

    def resolve(self, ctx: UpdateContext) -> Any:
        """Sources -> this domain's lock section; the resolver module is imported here, on first use."""
        module, _, function = self.resolver.partition(":")
        resolve: Callable[[UpdateContext], Any] = getattr(importlib.import_module(module), function)
        return resolve(ctx)

    def probe_online(self, layer: Any) -> list[OnlineAnswer]:
        """This domain's own `lock check --online` answers (none without a hook); imported here, on first use."""
        if self.online is None:
            return []
        module, _, function = self.online.partition(":")
        probe: Callable[[Any], list[OnlineAnswer]] = getattr(importlib.import_module(module), function)
        return probe(layer)

    def copy_to_mirror(self, layer: Any, place: MirrorPlace) -> MirrorReport | None:
        """This domain's own `lock mirror` step (None: it has none); the module is imported here, on first use."""
        if self.mirror is None:
            return None
        module, _, function = self.mirror.partition(":")
        copy: Callable[[Any, MirrorPlace], MirrorReport] = getattr(importlib.import_module(module), function)
        return copy(layer, place)
