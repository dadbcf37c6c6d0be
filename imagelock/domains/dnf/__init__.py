"""The dnf domain (dnf, and yum on Amazon Linux): `[dnf]` -> the closure `dnf install` computes, by libsolv,
from signed repository metadata at one release version; each .rpm locked by location, sha256 and size."""

from __future__ import annotations

from collections.abc import Iterator

from imagelock.domains.contract import Domain
from imagelock.domains.dnf import sbom
from imagelock.domains.dnf.consistency import findings, problems
from imagelock.intent import dnf as intent
from imagelock.lock.artifact import Artifact
from imagelock.lock.diff import Item
from imagelock.lock.model import DnfLayer, DnfPackage


def rpm_url(layer: DnfLayer, package: DnfPackage) -> str:
    """Where an .rpm is fetched by its location under the repository (pinned by releasever) that served it."""
    base = next((r.baseurl for r in layer.repos if r.id == package.repo), "")
    return f"{base.rstrip('/')}/{package.location}"


def artifacts(layer: DnfLayer) -> Iterator[Artifact]:
    for p in layer.packages:
        yield Artifact(
            "rpm",
            p.location.rsplit("/", 1)[-1],
            (rpm_url(layer, p),),
            p.sha256,
            p.size,
            label=f"dnf package {p.nevra} ({p.repo})",
        )


def items(layer: DnfLayer) -> Iterator[Item]:
    yield Item("releasever", layer.releasever)  # the snapshot every repository is read at
    for choice in layer.chosen:  # [dnf.choose]: a newer numbered name (gcc11 -> gcc14) is a change of its own
        yield Item(f"{choice.rule} {choice.family}", " ".join(choice.names), requested=True)
    for p in layer.packages:
        yield Item(f"{p.name}.{p.arch}", p.evr, p.sha256, p.size, p.requested)


DOMAIN = Domain(
    name="dnf",
    layer=DnfLayer,
    parse=intent.parse,
    resolver="imagelock.domains.dnf.layer:resolve",
    summary=lambda layer: f"{len(layer.packages)} dnf packages (releasever {layer.releasever})",
    items=items,
    artifacts=artifacts,
    components=lambda layer: sbom.components(layer, rpm_url),
    problems=problems,
    findings=findings,
    image_order=2,
)
