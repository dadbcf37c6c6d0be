"""The image's semantic version, bumped by `lock update` the way seed 004's team bumps it by hand.

major: the base image's generation changed (another image, name pattern or owner:
       "completely different generations of AMI"), the image runs on another EC2
       instance family ("completely new instance types"), or the CUDA major did
       (the base image's stated CUDA, a new driver generation, or a torch build for
       another CUDA major): a different machine.
minor: a package moved: a Python, apt or rpm package, the kernel, the driver, a
       model revision was added, removed or changed version; or the base image is
       a newer release of the same generation (the next DLAMI of the same name
       pattern, as seed 004's team takes it every few weeks).
patch: anything else that changes the image's content (a re-hashed artifact,
       a moved cutoff that moved nothing, a URL).
Unchanged content keeps its version. The first lock is 1.0.0.
"""

from __future__ import annotations

import re

from imagelock.lock.diff import UNIVERSE, Change, LockDiff
from imagelock.lock.model import Lock

FIRST = "1.0.0"
FAMILY_ITEM = "instance family "  # the base layer's item for each EC2 family the image runs on
_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def cuda_major(lock: Lock) -> set[str]:
    """Every CUDA major the lock commits to: the base image's stated CUDA, the runfile's and the torch
    build's (+cu124 -> 12)."""
    majors: set[str] = set()
    if lock.base:
        majors.update(cuda.split(".")[0] for ami in lock.base.amis for cuda in ami.cuda)
    if lock.nvidia:
        majors.add(lock.nvidia.cuda_version.split(".")[0])
    if lock.python:
        for package in lock.python.all_packages:
            if package.name == "torch" and "+cu" in package.version:
                label = package.version.split("+cu", 1)[1]
                majors.add(label[:-1] if len(label) >= 3 else label)
    return majors


def _new_generation(change: Change, old: Lock) -> bool:
    """A change in a generation layer that is not a newer release of the same thing: another base image, or
    another instance family. A family added where the old lock recorded none (the intent named none, or the
    lock predates the record) moves the image away from nothing: it is not counted."""
    if change.release:
        return False
    first = old.base is None or not old.base.instance_families
    return not (change.key.startswith(FAMILY_ITEM) and change.kind == "added" and first)


def bump_kind(changes: LockDiff, old: Lock, new: Lock) -> str | None:
    """ "major", "minor", "patch", or None when the content did not change."""
    if changes.old_digest == changes.new_digest:
        return None
    generation = any(_new_generation(c, old) for name in changes.major for c in changes.layer(name))
    if generation or cuda_major(old) != cuda_major(new):
        return "major"
    for change in changes.changes:  # a package moved (not the cutoff alone, not a rebuilt file): minor
        if change.layer != UNIVERSE and not change.hash_only:
            return "minor"
    return "patch"


def bump(version: str, kind: str) -> str:
    match = _SEMVER.match(version)
    if not match:
        return FIRST
    major, minor, patch = (int(x) for x in match.groups())
    if kind == "major":
        return f"{major + 1}.0.0"
    if kind == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def next_version(previous: Lock | None, new: Lock, changes: LockDiff | None) -> str:
    """The version `new` gets when it replaces `previous`; `changes` is the diff between them."""
    if previous is None or previous.version is None or changes is None:
        return FIRST
    kind = bump_kind(changes, previous, new)
    return previous.version if kind is None else bump(previous.version, kind)
