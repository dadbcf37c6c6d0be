"""Drift of container images: what each runtime holds (the collector's `containers` facts) against the lock.

An image the lock pre-pulls is expected in its runtime under its name with its locked digest: containerd
(namespace k8s.io) lists `registry/repository@digest` as bootstrap.sh pulled it, Docker lists the
repository (Docker Hub's shortened: `ubuntu`, `org/app`) with the digest it was pulled by. Missing: the
runtime holds nothing under that name. Changed: it holds that name, only at other digests.
"""

from __future__ import annotations

from typing import Any

from imagelock.errors import InputError
from imagelock.lock.model import Lock

LAYER = "containers"


def locked(lock: Lock) -> list[tuple[str, str, str, str]]:
    """(runtime, image as asked, registry/repository, digest) per locked image."""
    return [(c.runtime, c.image, c.name, c.digest) for c in lock.layers.get(LAYER) or []]


def runtimes(lock: Lock) -> list[str]:
    """The runtimes the collector must list for this lock."""
    return sorted({runtime for runtime, *_ in locked(lock)})


def validate(facts: dict[str, Any], source: str) -> None:
    value = facts.get(LAYER)
    if value is None:
        return
    if not isinstance(value, dict):
        raise InputError(source, LAYER, "expected an object of runtime -> [[reference, digest], ...]")
    for runtime, rows in value.items():
        if rows is None:
            continue
        if not isinstance(rows, list) or not all(
            isinstance(r, list) and len(r) == 2 and all(isinstance(x, str) for x in r) for r in rows
        ):
            raise InputError(source, f"{LAYER}.{runtime}", "expected a list of [reference, digest] strings")


def _name_of(reference: str) -> str:
    """registry/repository of `name[:tag][@digest]` (a port's colon is before the last slash)."""
    name = reference.split("@", 1)[0]
    head, slash, last = name.rpartition("/")
    return f"{head}{slash}{last.split(':', 1)[0]}"


def _docker_name(name: str) -> str:
    """How Docker lists a repository: Docker Hub's host, and its library/ namespace, left out."""
    if name.startswith("docker.io/"):
        name = name.removeprefix("docker.io/").removeprefix("library/")
    return name


def compare(lock: Lock, facts: dict[str, Any], source: str) -> list[tuple[str, str, str, str | None, str]]:
    """(kind, subject, expected, actual, detail) per difference: missing or changed-hash."""
    wanted = locked(lock)
    if not wanted:
        return []
    held_by = facts.get(LAYER)
    if held_by is None:
        raise InputError(source, LAYER, "the lock has container images but the facts list no runtime's images")
    out: list[tuple[str, str, str, str | None, str]] = []
    for runtime, image, name, digest in wanted:
        if runtime not in held_by:
            raise InputError(source, f"{LAYER}.{runtime}", f"the lock pulls {image} into {runtime}; not listed")
        rows = held_by[runtime]
        if rows is None:
            out.append(("missing", image, digest, None, f"{runtime}'s images could not be listed"))
            continue
        key = _docker_name(name) if runtime == "docker" else name
        digests = {
            d for ref, d in rows if (_docker_name(_name_of(ref)) if runtime == "docker" else _name_of(ref)) == key
        }
        if digest in digests:
            continue
        if digests:
            out.append(("changed-hash", image, digest, ", ".join(sorted(digests)), f"in {runtime}"))
        else:
            out.append(("missing", image, digest, None, f"not in {runtime}"))
    return out
