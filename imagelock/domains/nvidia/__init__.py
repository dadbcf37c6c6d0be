"""The NVIDIA driver domain: `[nvidia]` -> one runfile, verified against NVIDIA's published digests."""

from __future__ import annotations

from collections.abc import Iterator

from imagelock.domains.contract import Domain
from imagelock.domains.nvidia import findings, sbom
from imagelock.domains.nvidia.catalog import BASE_URL_ENV, DOWNLOAD_BASE
from imagelock.intent import nvidia as intent
from imagelock.lock.artifact import Artifact
from imagelock.lock.diff import Item
from imagelock.lock.model import NvidiaLayer


def artifacts(layer: NvidiaLayer) -> Iterator[Artifact]:
    yield Artifact(
        "nvidia",
        layer.runfile,
        (layer.url,),
        layer.sha256,
        layer.size,
        moved_by=(BASE_URL_ENV, DOWNLOAD_BASE),
        label=f"nvidia runfile {layer.runfile}",
    )


def items(layer: NvidiaLayer) -> Iterator[Item]:
    yield Item(
        "driver", f"{layer.driver_version} (CUDA {layer.cuda_version}, {layer.runfile})", layer.sha256, layer.size
    )


DOMAIN = Domain(
    name="nvidia",
    layer=NvidiaLayer,
    parse=intent.parse,
    resolver="imagelock.domains.nvidia.layer:resolve",
    summary=lambda layer: f"nvidia {layer.runfile}",
    items=items,
    artifacts=artifacts,
    components=sbom.components,
    findings=findings.findings,
    image_order=3,
)
