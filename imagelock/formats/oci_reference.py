"""Container image references: `registry/repository[:tag][@sha256:<hex>]`, strictly.

The grammar is distribution's reference grammar (github.com/distribution/reference,
reference.go), with one deliberate narrowing: the registry host is always written.
Docker reads `ubuntu:22.04` as `docker.io/library/ubuntu:22.04`; an intent that means
that says so, so the lock never depends on a client's default registry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from imagelock.lock.validate import is_loopback_host

# reference.go: domain component, path component, tag, digest.
_HOST_PART = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_HOST = re.compile(rf"^(?:{_HOST_PART}(?:\.{_HOST_PART})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{{1,5}})?$")
_PATH_PART = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
MAX_NAME = 255  # reference.go: NameTotalLengthMax

# The host Docker Hub is named by in references, and the host its registry API answers on.
DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"


class ReferenceError(ValueError):
    """A reference that is not one; the message says which part is wrong."""


@dataclass(frozen=True)
class Reference:
    """A parsed image reference: where it lives, and the tag and/or digest it names."""

    registry: str  # host[:port] as written
    repository: str
    tag: str | None
    digest: str | None  # sha256:<hex>

    @property
    def api_host(self) -> str:
        """The host[:port] whose /v2/ API serves this repository."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    def by_digest(self, digest: str) -> str:
        """The reference that names exactly these bytes: name@digest (what the build pulls)."""
        return f"{self.name}@{digest}"

    def __str__(self) -> str:
        return self.name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


def is_loopback(registry: str) -> bool:
    """localhost or a loopback address, with any port: where Docker allows plain HTTP by default."""
    host = registry[1 : registry.index("]")] if registry.startswith("[") else registry.partition(":")[0]
    return is_loopback_host(host)


def parse(text: str) -> Reference:
    """`registry/repository[:tag][@sha256:<hex>]`; at least one of tag and digest."""
    if not isinstance(text, str) or not text or text != text.strip() or any(c.isspace() for c in text):
        raise ReferenceError("expected registry/repository:tag or registry/repository@sha256:<hex>, no spaces")
    rest, digest = text, None
    if "@" in text:
        rest, _, digest = text.partition("@")
        if not DIGEST.match(digest):
            raise ReferenceError(f"{digest!r} is not a digest: expected sha256: and 64 lower-case hex digits")
    registry, slash, path = rest.partition("/")
    if not slash or not path:
        raise ReferenceError(f"{text!r} names no registry: write it in full, such as docker.io/library/ubuntu:22.04")
    looks_like_host = "." in registry or ":" in registry or registry == "localhost" or registry.startswith("[")
    if not looks_like_host:
        raise ReferenceError(
            f"{registry!r} is not a registry host: write the registry in full, such as docker.io/{rest}"
        )
    if not _HOST.match(registry):
        raise ReferenceError(f"{registry!r} is not a registry host[:port]")
    tag = None
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, _, tag = path.rpartition(":")
        if not _TAG.match(tag):
            raise ReferenceError(f"{tag!r} is not a tag (letters, digits, '_', '.', '-'; at most 128)")
    for part in path.split("/"):
        if not _PATH_PART.match(part):
            raise ReferenceError(f"{path!r} is not a repository (lower-case letters and digits, separated by . _ -)")
    if len(f"{registry}/{path}") > MAX_NAME:
        raise ReferenceError(f"the name is longer than {MAX_NAME} characters")
    if tag is None and digest is None:
        raise ReferenceError(f"{text!r} names no tag and no digest: add :tag or @sha256:<hex>")
    return Reference(registry, path, tag, digest)
