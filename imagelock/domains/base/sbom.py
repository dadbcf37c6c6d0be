"""The base image's SBOM rows: one `pkg:generic/<image name>@<ami id>?region=...` per region. The lock holds
no hash of an AMI, so none is claimed; its source is the image's ARN."""

from __future__ import annotations

from collections.abc import Iterator

from imagelock.lock.component import Component, Purl
from imagelock.lock.model import BaseLayer


def components(layer: BaseLayer) -> Iterator[Component]:
    for ami in layer.amis:
        properties = [("imagelock:region", ami.region), ("imagelock:owner", ami.owner)]
        properties.append(("imagelock:creation-date", ami.creation_date))
        yield Component(
            kind="operating-system",
            name=ami.name,
            version=ami.id,
            purl=Purl("generic", ami.name.rsplit("/", 1)[-1], "ec2-image", ami.id, (("region", ami.region),)),
            urls=(f"arn:aws:ec2:{ami.region}::image/{ami.id}",),
            properties=tuple(properties),
        )
