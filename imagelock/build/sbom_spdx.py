"""`sbom.spdx.json`: the image's software bill of materials as SPDX 2.3 JSON, beside the CycloneDX one.

It is the same graph as `sbom.cdx.json` (imagelock.build.sbom_graph: one walk over the lock, one set of
edges), spelt as SPDX: one package per locked row (a model's files too, each CONTAINed by its model), with
its purl as a PACKAGE-MANAGER external reference, its checksums and its download location (NOASSERTION
where the lock records no URL, or a source that is no URL, such as an AMI's ARN); the image is the package
the document DESCRIBES, which DEPENDS_ON every row, and each row DEPENDS_ON what the lock says it needs.
No license, supplier or copyright is claimed: the lock holds none.

The document is a function of the lock alone: the namespace is a name-based UUID of the lock's digest and
`created` is the universe's cutoff, the moment the lock pins the world at, never the clock. The JSON is
written with the standard library, so making it needs no SPDX package (the tests judge it with spdx-tools).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from imagelock import __version__
from imagelock.build import sbom_graph
from imagelock.build.sbom_graph import Graph
from imagelock.lock.component import Component
from imagelock.lock.model import Lock

FILE_NAME = "sbom.spdx.json"
DOCUMENT = "SPDXRef-DOCUMENT"
IMAGE = "SPDXRef-image"
NOASSERTION = "NOASSERTION"
# A component's kind (a CycloneDX type) as SPDX 2.3's primaryPackagePurpose; what SPDX has no word for is OTHER.
PURPOSES = {
    "application": "APPLICATION",
    "container": "CONTAINER",
    "device": "DEVICE",
    "file": "FILE",
    "firmware": "FIRMWARE",
    "framework": "FRAMEWORK",
    "library": "LIBRARY",
    "operating-system": "OPERATING-SYSTEM",
}
DOWNLOAD_SCHEMES = frozenset({"http", "https", "ftp", "sftp", "ssh", "git", "svn"})


class _Ids:
    """Unique SPDXIDs from a row's layer, name and version: every character SPDX does not allow (it allows
    letters, digits, `.` and `-`) becomes `-`, and a repeat (two rows alike, or alike once cleaned) gets
    `-2`, `-3` ... until it names no other element."""

    def __init__(self) -> None:
        self.used = {DOCUMENT, IMAGE}

    def __call__(self, *parts: str | None) -> str:
        base = "SPDXRef-" + re.sub(r"[^A-Za-z0-9.-]", "-", "-".join(p for p in parts if p))
        made, n = base, 1
        while made in self.used:
            n += 1
            made = f"{base}-{n}"
        self.used.add(made)
        return made


def download_location(component: Component) -> str:
    """The first locked URL, escaped as a URI, if it is one a client downloads from; else NOASSERTION."""
    for url in component.urls[:1]:
        parts = urlsplit(url)
        if parts.scheme.lower() in DOWNLOAD_SCHEMES and parts.netloc:
            return sbom_graph.escape_url(url)
    return NOASSERTION


def package(layer: str, component: Component, spdx_id: str) -> dict[str, Any]:
    """One locked row as an SPDX package: only what the lock holds (no hash where it locked none)."""
    checksums = [{"algorithm": "SHA256", "checksumValue": component.sha256}] if component.sha256 else []
    if component.md5:
        checksums.append({"algorithm": "MD5", "checksumValue": component.md5})
    made: dict[str, Any] = {
        "SPDXID": spdx_id,
        "name": component.name,
        "downloadLocation": download_location(component),
        "filesAnalyzed": False,
        "primaryPackagePurpose": PURPOSES.get(component.kind, "OTHER"),
        "externalRefs": [
            {
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": sbom_graph.purl(component).to_string(),
            }
        ],
        "comment": "\n".join(f"{name}: {value}" for name, value in (("imagelock:layer", layer), *component.properties)),
    }
    if component.version:
        made["versionInfo"] = component.version
    if checksums:
        made["checksums"] = checksums
    return made


def _relationship(element: str, kind: str, related: str) -> dict[str, str]:
    return {"spdxElementId": element, "relationshipType": kind, "relatedSpdxElement": related}


def _order(component: Component) -> tuple[str, str]:
    """Rows sort by purl, then by every other field: the document does not lean on the lock's order."""
    return sbom_graph.purl(component).to_string(), repr(component)


def _parts(layer: str, component: Component, spdx_id: str, ids: _Ids) -> Iterator[tuple[dict[str, Any], str]]:
    """A row's parts (a model's files), each a package of its own that the row CONTAINS."""
    for part in sorted(component.parts, key=_order):
        part_id = ids(layer, part.name, part.version)
        yield package(layer, part, part_id), spdx_id
        yield from _parts(layer, part, part_id, ids)


def document(lock: Lock, graph: Graph) -> dict[str, Any]:
    """The SPDX 2.3 document of the image the lock builds, as JSON-ready data."""
    digest = lock.digest()
    image = {
        "SPDXID": IMAGE,
        "name": lock.name,
        "versionInfo": lock.version or digest[:12],
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": False,
        "primaryPackagePurpose": "OPERATING-SYSTEM",
        "description": f"the machine image {lock.image_name()}, built from this lock",
        "comment": f"imagelock:digest: {digest}\nimagelock:intent-sha256: {lock.intent_sha256}\n"
        f"imagelock:cutoff: {lock.universe.cutoff}",
    }
    # Layers in image order (the order domains.components walks them), rows within a layer by _order; IDs
    # are given in that order, so a repeat's -2 does not depend on where the lock lists it.
    layers = list(dict.fromkeys(layer for layer, _ in graph.rows))
    order = sorted(range(len(graph.rows)), key=lambda i: (layers.index(graph.rows[i][0]), *_order(graph.rows[i][1])))
    ids = _Ids()
    row_ids = {i: ids(graph.rows[i][0], graph.rows[i][1].name, graph.rows[i][1].version) for i in order}
    packages: list[dict[str, Any]] = [image]
    relationships = [_relationship(DOCUMENT, "DESCRIBES", IMAGE)]
    relationships += [_relationship(IMAGE, "DEPENDS_ON", row_ids[i]) for i in order]
    contained = []
    for i in order:
        layer, component = graph.rows[i]
        packages.append(package(layer, component, row_ids[i]))
        for part, parent in _parts(layer, component, row_ids[i], ids):
            packages.append(part)
            contained.append(_relationship(parent, "CONTAINS", part["SPDXID"]))
    for i in order:
        needs = sorted({row_ids[j] for j in graph.needs[i]})
        relationships += [_relationship(row_ids[i], "DEPENDS_ON", target) for target in needs]
    namespace = uuid.uuid5(sbom_graph.SERIAL_NAMESPACE, f"spdx {digest}")
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": DOCUMENT,
        "name": lock.image_name(),
        "documentNamespace": f"urn:uuid:{namespace}",
        "creationInfo": {"created": lock.universe.cutoff, "creators": [f"Tool: imagelock-{__version__}"]},
        "packages": packages,
        "relationships": relationships + contained,
    }


def render(lock: Lock, graph: Graph | None = None) -> str:
    """The SPDX 2.3 JSON of every layer the lock holds (keys sorted, two-space indent, one newline at the end)."""
    data = document(lock, graph or sbom_graph.of(lock))
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
