"""Drift of container images from facts as the collector prints them: Docker's shortened Docker Hub names,
containerd's name@digest and name:tag rows, a runtime that could not be listed, malformed facts."""

from __future__ import annotations

import pytest

from imagelock.domains.containers.entry import Blob, ContainerImage, PlatformImage
from imagelock.drift import containers
from imagelock.errors import InputError
from imagelock.lock.model import Lock

A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def _lock(*images: tuple[str, str, str]) -> Lock:
    lock = Lock.__new__(Lock)
    entries = []
    for runtime, registry, repository in images:
        platform = PlatformImage("linux/amd64", B, 10, "m", Blob(B, 1, "c"), [Blob(B, 2, "l")])
        entries.append(
            ContainerImage(
                f"{registry}/{repository}:1", registry, repository, A, "m", 10, "t", runtime, False, "1", [platform]
            )
        )
    lock.layers = {"containers": entries}
    return lock


def test_docker_lists_docker_hub_images_by_their_short_names() -> None:
    lock = _lock(("docker", "docker.io", "library/busybox"), ("docker", "docker.io", "team/app"))
    facts = {"containers": {"docker": [["busybox", A], ["team/app", A]]}}
    assert containers.compare(lock, facts, "facts") == []
    facts = {"containers": {"docker": [["busybox", B]]}}
    assert containers.compare(lock, facts, "facts") == [
        ("changed-hash", "docker.io/library/busybox:1", A, B, "in docker"),
        ("missing", "docker.io/team/app:1", A, None, "not in docker"),
    ]


def test_containerd_rows_by_digest_or_by_tag_with_a_port_in_the_host() -> None:
    lock = _lock(("containerd", "127.0.0.1:5000", "team/app"))
    assert containers.compare(lock, {"containers": {"containerd": [[f"127.0.0.1:5000/team/app@{A}", A]]}}, "f") == []
    moved = {"containers": {"containerd": [["127.0.0.1:5000/team/app:2", B]]}}
    assert containers.compare(lock, moved, "f") == [
        ("changed-hash", "127.0.0.1:5000/team/app:1", A, B, "in containerd")
    ]
    unlisted = {"containers": {"containerd": None}}
    assert containers.compare(lock, unlisted, "f")[0][0] == "missing"


def test_facts_without_the_runtime_or_malformed_are_input_errors() -> None:
    lock = _lock(("containerd", "127.0.0.1:5000", "team/app"))
    with pytest.raises(InputError, match="facts: containers: the lock has container images"):
        containers.compare(lock, {}, "facts")
    with pytest.raises(InputError, match="containers.containerd: the lock pulls"):
        containers.compare(lock, {"containers": {}}, "facts")
    with pytest.raises(InputError, match="containers.docker: expected a list"):
        containers.validate({"containers": {"docker": [["only-one"]]}}, "facts")
