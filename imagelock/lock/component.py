"""One thing an image holds, as a software bill of materials names it: a package URL, hashes and a source.

Every domain describes its locked entries as Components (the domain contract's `components`; the default is
one `pkg:generic` row per Artifact), and `lock generate` writes them as a CycloneDX SBOM
(imagelock.build.sbom) without naming a domain. A Component claims only what the lock holds: an entry
locked without a hash has no hash here.

Package URLs follow the purl specification (github.com/package-url/purl-spec): `type`, `namespace`,
`name`, `version` and `qualifiers`, held as plain fields so that this bottom layer needs no purl library.
"""

from __future__ import annotations

from dataclasses import dataclass

from imagelock.lock.artifact import Artifact


@dataclass(frozen=True)
class Purl:
    """A package URL's parts: `pkg:type/namespace/name@version?qualifiers`."""

    type: str  # pypi, deb, rpm, oci, huggingface, generic ...
    name: str
    namespace: str | None = None
    version: str | None = None
    qualifiers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Component:
    """One locked thing: what it is, its purl, its hashes and where it comes from."""

    kind: str  # a CycloneDX component type: library, file, operating-system, container, device-driver ...
    name: str
    purl: Purl
    version: str | None = None
    sha256: str | None = None  # None: the lock holds no hash for it, and the SBOM claims none
    md5: str | None = None  # only where the upstream publishes one (NVIDIA's runfiles)
    urls: tuple[str, ...] = ()  # where it is distributed, as the lock records it
    properties: tuple[tuple[str, str], ...] = ()  # further locked facts, named `imagelock:...`
    parts: tuple[Component, ...] = ()  # what it is made of (a model's files)
    # The SBOM's dependency graph, as far as the lock records it: `key` names this row among its layer's rows,
    # `depends_on` the keys of the rows of the same layer it needs (a wheel's requirements in its venv, a .deb's
    # Depends). None and (): the lock records no edge for it.
    key: str | None = None
    depends_on: tuple[str, ...] = ()


def from_artifact(artifact: Artifact) -> Component:
    """The default row of a locked file: `pkg:generic/<file name>`, with its sha256 and download URL."""
    qualifiers = []
    if artifact.sha256:
        qualifiers.append(("checksum", f"sha256:{artifact.sha256}"))
    if artifact.url:
        qualifiers.append(("download_url", artifact.url))
    properties = (("imagelock:dest", artifact.dest),) if artifact.dest else ()
    return Component(
        kind="file",
        name=artifact.name,
        purl=Purl("generic", artifact.name, qualifiers=tuple(qualifiers)),
        sha256=artifact.sha256 or None,
        urls=artifact.urls[:1],
        properties=properties,
    )
