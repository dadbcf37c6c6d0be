"""The containers domain's `lock mirror` step: to the OCI image layout in a file mirror (a directory, an S3
or HTTP(S) prefix), or to a mirror registry by digest, whichever `--to` names.

An image locked by digest alone (its manifests unread, no platforms) is not copied: the lock does not say
what it is made of, so a copy could not be checked; it is reported as not mirrored, with its fix."""

from __future__ import annotations

from imagelock.domains.containers import oci_layout, registry_mirror
from imagelock.domains.containers.entry import ContainerImage
from imagelock.domains.contract import MirrorPlace, MirrorReport


def copy(layer: list[ContainerImage], place: MirrorPlace) -> MirrorReport:
    read = [image for image in layer if image.platforms]
    if place.registry is not None:
        report = registry_mirror.copy(read, place.registry)
    else:
        report = oci_layout.copy(read, place.store)
    report.failed += [
        f"{image.image}: locked by digest only, its manifests not read: run `lock update --refresh containers` "
        "where the registry can be read, then mirror"
        for image in layer
        if not image.platforms
    ]
    return report
