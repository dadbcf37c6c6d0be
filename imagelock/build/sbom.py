"""`sbom.cdx.json`: the image's software bill of materials, CycloneDX 1.6 JSON, made with cyclonedx-python-lib.

Every locked thing of every layer is one component (imagelock.domains.components: each domain's
`components`, by default one `pkg:generic` row per artifact), with its package URL, its hashes and its
source as a `distribution` external reference. Nothing is claimed that the lock does not hold: a file
locked without a hash has no hash. The document is a function of the lock alone, so `lock generate`
stays byte-identical: the serial number is derived from the lock's digest and the timestamp is the
universe's cutoff (the moment the lock pins the world at), not the time of the run.

`dependencies` is the graph as far as the lock records it: the image depends on every component, and each
component on those of its layer it needs (a wheel on its requirements in the same venv, a .deb on what its
Depends chose in the closure). A component the lock records no edge for depends on nothing here.
"""

from __future__ import annotations

import datetime as dt
import json

from cyclonedx.model import ExternalReference, ExternalReferenceType, HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component as CdxComponent
from cyclonedx.model.component import ComponentType
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from imagelock import __version__
from imagelock.build import sbom_graph
from imagelock.build.sbom_graph import Graph, purl
from imagelock.lock.component import Component
from imagelock.lock.model import INSTANT, Lock

FILE_NAME = "sbom.cdx.json"


def uri(url: str) -> XsUri:
    """A locked URL as a valid URI reference (sbom_graph.escape_url)."""
    return XsUri(sbom_graph.escape_url(url))


def ref_of(package_url: PackageURL) -> str:
    kept = {k: v for k, v in (package_url.qualifiers or {}).items() if k not in ("checksum", "download_url")}
    return package_url._replace(qualifiers=kept or None).to_string()


class _Refs:
    """Unique bom-refs: `layer:` and the purl without the qualifiers that only repeat the hash and the URL,
    with `#2`, `#3` ... on a repeat (the same wheel in two venvs)."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def __call__(self, layer: str, text: str) -> str:
        ref = f"{layer}:{text}"
        self.seen[ref] = self.seen.get(ref, 0) + 1
        return ref if self.seen[ref] == 1 else f"{ref}#{self.seen[ref]}"


def cyclonedx_component(layer: str, component: Component, refs: _Refs) -> CdxComponent:
    package_url = purl(component)
    hashes = []
    if component.sha256:
        hashes.append(HashType(alg=HashAlgorithm.SHA_256, content=component.sha256))
    if component.md5:
        hashes.append(HashType(alg=HashAlgorithm.MD5, content=component.md5))
    return CdxComponent(
        type=ComponentType(component.kind),
        name=component.name,
        version=component.version,
        bom_ref=refs(layer, ref_of(package_url)),
        purl=package_url,
        hashes=hashes,
        external_references=[
            ExternalReference(type=ExternalReferenceType.DISTRIBUTION, url=uri(url)) for url in component.urls
        ],
        properties=[Property(name="imagelock:layer", value=layer)]
        + [Property(name=name, value=value) for name, value in component.properties],
        components=[cyclonedx_component(layer, part, refs) for part in component.parts],
    )


def bom(lock: Lock, graph: Graph) -> Bom:
    digest = lock.digest()
    refs = _Refs()
    image = CdxComponent(
        type=ComponentType.OPERATING_SYSTEM,
        name=lock.name,
        version=lock.version or digest[:12],
        bom_ref=lock.image_name(),
        description=f"the machine image {lock.image_name()}, built from this lock",
        properties=[
            Property(name="imagelock:digest", value=digest),
            Property(name="imagelock:intent-sha256", value=lock.intent_sha256),
            Property(name="imagelock:cutoff", value=lock.universe.cutoff),
        ],
    )
    metadata = BomMetaData(
        component=image,
        timestamp=dt.datetime.strptime(lock.universe.cutoff, INSTANT).replace(tzinfo=dt.UTC),
        properties=[Property(name="imagelock:generator", value=f"imagelock {__version__}")],
    )
    components = [cyclonedx_component(layer, component, refs) for layer, component in graph.rows]
    document = Bom(serial_number=sbom_graph.serial(lock), metadata=metadata, components=components)
    document.register_dependency(image, components)  # the image holds every layer's components
    for made, needs in zip(components, graph.needs, strict=True):  # and each what the lock says it needs
        if needs:
            document.register_dependency(made, [components[i] for i in needs])
    return document


def render(lock: Lock, graph: Graph | None = None) -> str:
    """The SBOM of every layer the lock holds, as CycloneDX 1.6 JSON (keys sorted, two-space indent); `graph`
    is the lock's rows and edges (sbom_graph.of), given when the SPDX document is made from the same."""
    text = JsonV1Dot6(bom(lock, graph or sbom_graph.of(lock))).output_as_string()
    return json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
