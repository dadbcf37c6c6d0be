"""The apt and kernel domains: `[apt]` -> the closure apt-get would install, from signed indexes;
`[kernel]` -> the image, modules and headers of one kernel ABI, from the same archive."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from imagelock.domains.apt import consistency, findings, kernel_findings, sbom
from imagelock.domains.contract import Domain
from imagelock.intent import apt as intent
from imagelock.lock.artifact import Artifact
from imagelock.lock.diff import Item
from imagelock.lock.model import AptLayer, AptPackage, KernelLayer


def deb_urls(layer: AptLayer) -> Callable[[AptPackage], tuple[str, ...]]:
    """Where each .deb of this layer can be fetched by its pool path, in the order a build tries them.

    The pool path is the content's address in the archive: it outlives the indexes that
    listed it (an archive drops superseded versions from its indexes long before its pool).
    """
    base = layer.archive.rstrip("/") + (f"/{layer.snapshot}" if layer.snapshot else "")
    uris = {source.suite: source.uri.rstrip("/") for source in layer.sources}
    # With a snapshot service the archive is the upstream: its pool is tried after the snapshot's.
    upstream = layer.archive.rstrip("/") if layer.snapshot_service else None
    repositories = {r.name: r.url.rstrip("/") for r in layer.repositories}

    def urls(deb: AptPackage) -> tuple[str, ...]:
        if deb.repository is not None:  # a pool path is relative to the repository's URL, flat or not (apt's)
            return (f"{repositories.get(deb.repository, '')}/{deb.filename.removeprefix('./')}",)
        served = f"{uris.get(deb.suite, base)}/{deb.filename}"
        return (served, f"{upstream}/{deb.filename}") if upstream else (served,)

    return urls


def artifacts(layer: AptLayer) -> Iterator[Artifact]:
    """Each .deb at its pool path under the suite's URI that served it."""
    urls = deb_urls(layer)
    for deb in layer.packages:
        yield Artifact(
            "deb",
            deb.filename.rsplit("/", 1)[-1],
            urls(deb),
            deb.sha256,
            deb.size,
            label=f"apt package {deb.name} {deb.version} ({deb.arch})",
        )


def items(layer: AptLayer) -> Iterator[Item]:
    for deb in layer.packages:
        yield Item(f"{deb.name}:{deb.arch}", deb.version, deb.sha256, deb.size, deb.requested)


DOMAIN = Domain(
    name="apt",
    layer=AptLayer,
    parse=intent.parse_apt,
    resolver="imagelock.domains.apt.layer:resolve",
    summary=lambda layer: f"{len(layer.packages)} apt packages",
    items=items,
    artifacts=artifacts,
    components=lambda layer: sbom.components(layer, deb_urls(layer)),
    problems=consistency.problems,
    findings=findings.findings,
    image_order=2,
    reads=("kernel",),  # the kernel's packages are in the closure
)

KERNEL = Domain(
    name="kernel",
    layer=KernelLayer,
    parse=intent.parse_kernel,
    resolver="imagelock.domains.apt.layer:resolve_kernel",
    summary=lambda layer: "",
    items=lambda layer: iter([Item("kernel", layer.version)]),
    findings=kernel_findings.findings,
    image_order=1,
    reads=("apt",),  # from the apt archive
)
