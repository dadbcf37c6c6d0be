"""The containers domain's `lock mirror` step: to the OCI image layout in a mirror directory, or to a mirror
registry by digest, whichever `--to` names."""

from __future__ import annotations

from imagelock.domains.containers import oci_layout, registry_mirror
from imagelock.domains.containers.entry import ContainerImage
from imagelock.domains.contract import MirrorPlace, MirrorReport


def copy(layer: list[ContainerImage], place: MirrorPlace) -> MirrorReport:
    if place.registry is not None:
        return registry_mirror.copy(layer, place.registry)
    return oci_layout.copy(layer, place.directory)
