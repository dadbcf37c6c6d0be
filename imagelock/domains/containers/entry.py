"""What the lock records for one container image: the digest its reference resolved to, and per platform the
manifest, config and layers by digest and size. Read through `lock.layers["containers"]`.

A tag is a name that moves; these digests are what it named when `lock update` resolved it (`resolved-at`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Blob:
    """A content-addressed object in a registry: a config or a layer."""

    digest: str  # sha256:<hex>
    size: int
    media_type: str


@dataclass
class PlatformImage:
    """One platform's image manifest, and everything it references."""

    platform: str  # os/architecture[/variant]
    manifest_digest: str
    manifest_size: int
    media_type: str
    config: Blob
    layers: list[Blob] = field(default_factory=list)


@dataclass
class ContainerImage:
    """One `[[containers]]` entry as locked."""

    image: str  # the reference as the intent asked for it
    registry: str
    repository: str
    digest: str  # what the reference named: an image index (or a single manifest), sha256:<hex>
    media_type: str
    size: int
    resolved_at: str  # when the tag was read: a tag that moves later changes nothing until --refresh
    # ("" for an image locked by the intent's digest alone, its manifests unread: nothing was read)
    runtime: str  # where the build pulls it: containerd (namespace k8s.io) or docker
    plain_http: bool = False  # the registry is read over plain HTTP (loopback, or `insecure = true`)
    tag: str | None = None
    platforms: list[PlatformImage] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def pinned(self) -> str:
        """The reference the build pulls: name@digest, the same bytes wherever the tag has moved."""
        return f"{self.name}@{self.digest}"
