"""The dnf layer's SBOM rows: `pkg:rpm/<vendor>/<name>@<version>-<release>?arch=...&epoch=...&distro=...`,
each .rpm's sha256 and URL."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from imagelock.lock.component import Component, Purl
from imagelock.lock.model import DnfLayer, DnfPackage

# Words in a repository's URL -> the purl spec's rpm vendor namespace.
VENDORS = (
    ("amazonlinux", "amzn"),
    ("amazonaws", "amzn"),
    ("fedora", "fedora"),
    ("centos", "centos"),
    ("rockylinux", "rocky"),
    ("almalinux", "almalinux"),
    ("redhat", "redhat"),
    ("opensuse", "opensuse"),
)


def vendor(layer: DnfLayer) -> str | None:
    where = " ".join(r.baseurl for r in layer.repos).lower()
    return next((v for word, v in VENDORS if word in where), None)


def components(layer: DnfLayer, url: Callable[[DnfLayer, DnfPackage], str]) -> Iterator[Component]:
    """`url`: where each .rpm is fetched (imagelock.domains.dnf.rpm_url)."""
    namespace = vendor(layer)
    distro = f"{namespace}-{layer.releasever}" if namespace else layer.releasever
    for p in layer.packages:
        qualifiers = [("arch", p.arch)]
        if p.epoch:
            qualifiers.append(("epoch", str(p.epoch)))
        qualifiers.append(("distro", distro))
        yield Component(
            kind="library",
            name=p.name,
            version=p.evr,
            purl=Purl("rpm", p.name, namespace, f"{p.version}-{p.release}", tuple(qualifiers)),
            sha256=p.sha256,
            urls=(url(layer, p),),
            properties=(("imagelock:repo", p.repo),),
        )
