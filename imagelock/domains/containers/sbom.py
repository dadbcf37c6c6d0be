"""The containers layer's SBOM rows: `pkg:oci/<name>@<digest>?repository_url=...&tag=...`, the digest the
reference resolved to as its sha256, and the registry's manifest URL as its source."""

from __future__ import annotations

from collections.abc import Iterator

from imagelock.domains.containers.entry import ContainerImage
from imagelock.lock.component import Component, Purl


def components(layer: list[ContainerImage]) -> Iterator[Component]:
    for image in layer:
        qualifiers = [("repository_url", image.name)]
        if image.tag:
            qualifiers.append(("tag", image.tag))
        scheme = "http" if image.plain_http else "https"
        yield Component(
            kind="container",
            name=image.repository,
            version=image.digest,
            # The purl spec's oci name is the repository's last segment, lower case; the rest is repository_url.
            purl=Purl(
                "oci", image.repository.rsplit("/", 1)[-1].lower(), version=image.digest, qualifiers=tuple(qualifiers)
            ),
            sha256=image.digest.removeprefix("sha256:") if image.digest.startswith("sha256:") else None,
            urls=(f"{scheme}://{image.registry}/v2/{image.repository}/manifests/{image.digest}",),
            properties=tuple(("imagelock:platform", p.platform) for p in image.platforms),
        )
