"""Pushing to a registry for `lock publish`: the one registry client (imagelock.domains.containers.registry),
which uploads blobs in one streamed PUT and manifests by tag, with a token asked for `pull,push`."""

from __future__ import annotations

from imagelock.domains.containers.registry import Registry


class Pusher(Registry):
    """One repository, written to."""

    def __init__(self, base: str, registry: str, repository: str, what: str) -> None:
        super().__init__(base, registry, repository, what, actions="pull,push")
