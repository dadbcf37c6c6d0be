"""The base image domain: `[base]` -> one AMI per region, the newest published before the cutoff."""

from __future__ import annotations

from collections.abc import Iterator

from imagelock.domains.base import findings, sbom
from imagelock.domains.contract import Domain
from imagelock.intent import base as intent
from imagelock.lock.diff import Item
from imagelock.lock.model import BaseLayer
from imagelock.lock.version import FAMILY_ITEM


def items(layer: BaseLayer) -> Iterator[Item]:
    """The image (its generation: a shortcut, a name pattern and its owner, or a raw id), then the AMI of
    each region: for a named image a newer AMI is a release of the same generation (a minor version)."""
    yield Item("image", layer.image if layer.owner is None else f"{layer.image} (owner {layer.owner})")
    named = layer.arch is not None  # a raw AMI id is its own generation
    for ami in layer.amis:
        yield Item(f"ami {ami.region}", ami.id, release=named)
    for family in layer.instance_families:  # another family is another machine: a new generation
        yield Item(f"{FAMILY_ITEM}{family}", family)


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
