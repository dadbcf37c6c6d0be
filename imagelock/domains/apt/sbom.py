"""The apt layer's SBOM rows: `pkg:deb/<vendor>/<name>@<version>?arch=...&distro=<codename>`, each .deb's
sha256 and pool URL. The kernel's packages are rows here too: the kernel layer names them in this layer."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from imagelock.lock.component import Component, Purl
from imagelock.lock.model import AptLayer, AptPackage

VENDORS = ("ubuntu", "debian")


def vendor(layer: AptLayer) -> str:
    """The purl namespace: the distribution whose archive served the layer."""
    where = " ".join([layer.archive, *(s.uri for s in layer.sources)]).lower()
    return next((v for v in VENDORS if v in where), "debian")


def components(layer: AptLayer, urls: Callable[[AptPackage], tuple[str, ...]]) -> Iterator[Component]:
    """`urls`: where each .deb is fetched (imagelock.domains.apt.deb_urls); the first is its source."""
    namespace = vendor(layer)
    by_name: dict[str, list[AptPackage]] = {}
    for deb in layer.packages:
        by_name.setdefault(deb.name, []).append(deb)
    for deb in layer.packages:
        codename = deb.suite.split("-", 1)[0]  # jammy-updates, jammy-security: jammy
        yield Component(
            kind="library",
            name=deb.name,
            version=deb.version,
            purl=Purl("deb", deb.name, namespace, deb.version, (("arch", deb.arch), ("distro", codename))),
            sha256=deb.sha256,
            urls=urls(deb)[:1],
            properties=(("imagelock:suite", deb.suite),),
            key=f"{deb.name}:{deb.arch}",
            depends_on=tuple(key for label in deb.depends_on if (key := _target(label, deb, by_name))),
        )


def _target(label: str, deb: AptPackage, by_name: dict[str, list[AptPackage]]) -> str | None:
    """The key of the package a `depends-on` label names: `name:arch` for another architecture, else the one
    package of that name, preferring the depending package's own architecture, then `all`."""
    name, _, arch = label.partition(":")
    found = by_name.get(name, [])
    if arch:
        found = [d for d in found if d.arch == arch]
    found = sorted(found, key=lambda d: (d.arch != deb.arch, d.arch != "all"))
    return f"{found[0].name}:{found[0].arch}" if found else None
