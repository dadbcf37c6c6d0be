"""The Python domain: `[python]` -> one target wheel per package, each from the one index the intent assigns."""

from __future__ import annotations

from collections.abc import Iterator

from imagelock.domains.contract import Domain
from imagelock.domains.python import findings, sbom
from imagelock.intent import python as intent
from imagelock.lock.artifact import Artifact
from imagelock.lock.diff import Item
from imagelock.lock.model import PythonLayer


def artifacts(layer: PythonLayer) -> Iterator[Artifact]:
    for package in layer.packages:
        wheel = package.wheel
        yield Artifact(
            "wheel",
            wheel.filename,
            (wheel.url,),
            wheel.sha256,
            wheel.size,
            label=f"python package {package.name} {package.version} ({wheel.filename})",
        )


def items(layer: PythonLayer) -> Iterator[Item]:
    yield Item("interpreter", f"python {layer.version} {layer.platform}")
    for p in layer.packages:
        yield Item(p.name, p.version, p.wheel.sha256, p.wheel.size, p.requested)


DOMAIN = Domain(
    name="python",
    layer=PythonLayer,
    parse=intent.parse,
    resolver="imagelock.domains.python.layer:resolve",
    summary=lambda layer: f"{len(layer.packages)} python packages",
    items=items,
    artifacts=artifacts,
    components=sbom.components,
    findings=findings.findings,
    image_order=4,
    runs_apart=True,
)
