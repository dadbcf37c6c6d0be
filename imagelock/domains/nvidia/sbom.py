"""The NVIDIA layer's SBOM row: the runfile as `pkg:generic/nvidia/<runfile>@<driver version>`, with the
sha256 and md5 NVIDIA publishes and its download URL."""

from __future__ import annotations

from collections.abc import Iterator

from imagelock.lock.component import Component, Purl
from imagelock.lock.model import NvidiaLayer


def components(layer: NvidiaLayer) -> Iterator[Component]:
    qualifiers = (("checksum", f"sha256:{layer.sha256}"), ("download_url", layer.url))
    yield Component(
        kind="device-driver",
        name=layer.runfile,
        version=layer.driver_version,
        purl=Purl("generic", layer.runfile, "nvidia", layer.driver_version, qualifiers),
        sha256=layer.sha256,
        md5=layer.md5 or None,
        urls=(layer.url,),
        properties=(("imagelock:cuda-version", layer.cuda_version),),
    )
