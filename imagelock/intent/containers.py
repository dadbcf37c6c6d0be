"""The `[[containers]]` intent section: container images the build pre-pulls, pinned by digest.

[[containers]]
image = "docker.io/library/busybox:1.36"   # registry/repository:tag, or @sha256:<hex> already
platforms = ["linux/amd64"]                # which platforms of a multi-platform image to lock (default)
runtime = "containerd"                     # where the build pulls it: "containerd" (k8s.io namespace) or "docker"
insecure = false                           # plain HTTP to a registry that is not on loopback

Credentials are never part of an intent: they come from the environment or the Docker
credential store when `lock update` runs (docs/containers.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imagelock.errors import InputError
from imagelock.formats import oci_reference
from imagelock.formats.oci_reference import Reference, ReferenceError
from imagelock.intent.fields import check_keys

KEYS = ("image", "platforms", "runtime", "insecure")
RUNTIMES = ("containerd", "docker")
DEFAULT_PLATFORMS = ("linux/amd64",)
# os/architecture[/variant], as the OCI image index's platform object spells them.
PLATFORM = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?$")


@dataclass
class ContainerIntent:
    image: str
    ref: Reference
    where: str  # containers[i], for messages
    platforms: list[str] = field(default_factory=lambda: list(DEFAULT_PLATFORMS))
    runtime: str = "containerd"
    insecure: bool = False

    @property
    def plain_http(self) -> bool:
        """Plain HTTP, as Docker allows it: to a loopback registry, or where the intent says so."""
        return self.insecure or oci_reference.is_loopback(self.ref.registry)


def parse(value: Any, path: Path) -> list[ContainerIntent]:
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise InputError(path, "containers", "expected an array of tables ([[containers]])")
    out: list[ContainerIntent] = []
    seen: dict[str, str] = {}
    for i, table in enumerate(value):
        where = f"containers[{i}]"
        check_keys(table, KEYS, path, where)
        image = table.get("image")
        if image is None:
            raise InputError(path, f"{where}.image", "missing: expected registry/repository:tag")
        if not isinstance(image, str):
            raise InputError(path, f"{where}.image", "expected a string such as docker.io/library/busybox:1.36")
        if "@" in image.split("/", 1)[0]:
            raise InputError(path, f"{where}.image", "credentials do not belong in an intent: the lock would hold them")
        try:
            ref = oci_reference.parse(image)
        except ReferenceError as exc:
            raise InputError(path, f"{where}.image", str(exc)) from None
        if image in seen:
            raise InputError(path, f"{where}.image", f"{image} is already listed as {seen[image]}")
        seen[image] = where
        platforms = table.get("platforms", list(DEFAULT_PLATFORMS))
        if not isinstance(platforms, list) or not platforms or not all(isinstance(p, str) for p in platforms):
            raise InputError(path, f"{where}.platforms", 'expected a non-empty array such as ["linux/amd64"]')
        for platform in platforms:
            if not PLATFORM.match(platform):
                raise InputError(path, f"{where}.platforms", f"{platform!r} is not os/architecture[/variant]")
        if len(set(platforms)) != len(platforms):
            raise InputError(path, f"{where}.platforms", "lists a platform twice")
        runtime = table.get("runtime", "containerd")
        if runtime not in RUNTIMES:
            raise InputError(path, f"{where}.runtime", f"expected one of: {', '.join(RUNTIMES)}; found {runtime!r}")
        insecure = table.get("insecure", False)
        if not isinstance(insecure, bool):
            raise InputError(path, f"{where}.insecure", "expected true or false")
        out.append(ContainerIntent(image, ref, where, list(platforms), runtime, insecure))
    return out
