"""The base image domain: `[base]` -> one AMI per region, the newest published before the cutoff."""

from __future__ import annotations

from collections.abc import Iterator

from imagelock.domains.base import findings, sbom
from imagelock.domains.contract import Domain
from imagelock.intent import base as intent
from imagelock.lock.diff import Item
from imagelock.lock.model import BaseLayer


def items(layer: BaseLayer) -> Iterator[Item]:
    yield Item("image", layer.image)
    for ami in layer.amis:
        yield Item(f"ami {ami.region}", ami.id)


DOMAIN = Domain(
    name="base",
    layer=BaseLayer,
    parse=intent.parse,
    resolver="imagelock.domains.base.layer:resolve",
    summary=lambda layer: f"{len(layer.amis)} base AMIs",
    items=items,
    findings=findings.findings,
    components=sbom.components,
    image_order=0,
    moves_major=True,
    replace=True,  # a variant names its own base image whole: the forms of [base] do not mix
)
