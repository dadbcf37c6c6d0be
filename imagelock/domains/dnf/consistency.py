"""Offline consistency of a lock's dnf layer, for `lock check`: against itself, and against the local files
the intent names whose content the intent's own hash cannot see (repository keys, the base manifest)."""

from __future__ import annotations

from imagelock.domains.dnf.kernel_devel import unmatched
from imagelock.hashing import sha256_file
from imagelock.intent.dnf import DnfIntent
from imagelock.intent.document import Intent
from imagelock.lock.finding import NOT_VERIFIED, Finding
from imagelock.lock.model import Lock


def problems(lock: Lock, intent: Intent) -> list[str]:
    layer = lock.dnf
    wanted: DnfIntent | None = intent.sections.get("dnf")
    if layer is None or wanted is None:
        return []
    out: list[str] = []
    repos = {r.id: r for r in layer.repos}
    for package in layer.packages:
        if package.repo not in repos:
            out.append(
                f"inconsistent: dnf package {package.nevra} comes from repository {package.repo!r}, "
                "which the lock does not record"
            )
    for repo in wanted.repos:
        locked = repos.get(repo.id)
        if locked is None:
            out.append(f"stale: dnf repository {repo.id!r} is not in the lock")
        elif sha256_file(repo.gpgkey) != locked.gpgkey_sha256:
            out.append(f"stale: {repo.gpgkey} changed since the lock was made (dnf repository {repo.id!r})")
    if wanted.base_manifest is not None and sha256_file(wanted.base_manifest) != layer.base_manifest_sha256:
        out.append(f"stale: the base manifest {wanted.base_manifest} changed since the lock was made")
    return out


def findings(lock: Lock, intent: Intent) -> list[Finding]:
    """A releasever chosen by the cutoff was chosen by the date its version states: the release list says
    nothing of when each release was published. A kernel-devel locked without the base image's manifest
    may be for another kernel than the base image runs."""
    layer = lock.dnf
    if layer is None:
        return []
    out = []
    if layer.base_manifest_sha256 is None:
        out += [
            Finding(
                NOT_VERIFIED,
                f"dnf package {p.nevra}",
                "locked without a base-manifest, so whether it is for the base image's kernel is unknown "
                "(DKMS and the NVIDIA driver build against the running kernel; bootstrap.sh stops if it is not)",
                "give [dnf] base-manifest, the base image's `rpm -qa`, and lock update checks it",
            )
            for p in unmatched(layer.packages)
        ]
    if layer.release_list is None:
        return out
    return out + [
        Finding(
            NOT_VERIFIED,
            f"dnf releasever {layer.releasever}",
            f"chosen from {layer.release_list} by the date its version states (the list gives no publication "
            "time, so a release may have been published after the cutoff)",
            "find its release date in AL2023's release notes and name it in the intent "
            f'(releasever = "{layer.releasever}")',
        )
    ]
