"""What a release's own metadata pins exactly, against what the intent asks: a conflict found with no index.

Some projects pin their dependencies to one version in each release's metadata: vllm 0.6.6.post1 says
`Requires-Dist: torch==2.5.1`. An intent asking for that release beside a torch the pin excludes
(`torch==2.6.*`) cannot be resolved, whatever an index serves. `lock init` refuses to write such an intent, and
`lock update` says so even when an index cannot be reached.

The pins are data, not code: data/pinned_requires.json holds, per recorded release, the `Requires-Dist` lines
with one `==` version, each release with the URL and sha256 of the core metadata (PEP 658) they were read from
(tools/record_pinned_requires.py). A release's metadata never changes once published, so the table does not go
stale; a release it does not hold is not judged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from imagelock.intent.python import PythonIntent
from imagelock.rules.report import Finding

RULE = "pinned-requires"


@dataclass(frozen=True)
class Release:
    """One recorded release: its exact pins and the metadata file they were read from."""

    requires: tuple[Requirement, ...]
    metadata: str
    sha256: str


@cache
def recorded() -> dict[str, dict[Version, Release]]:
    """Project -> recorded release -> its exact pins."""
    text = resources.files("imagelock.rules").joinpath("data/pinned_requires.json").read_text()
    projects = json.loads(text)["projects"]
    return {
        canonicalize_name(project): {
            Version(version): Release(
                tuple(Requirement(line) for line in entry["requires"]), entry["metadata"], entry["sha256"]
            )
            for version, entry in releases.items()
        }
        for project, releases in projects.items()
    }


def marker_environment(python_version: str, platform: str) -> dict[str, str]:
    """PEP 508 marker values of the target (`3.11`, `x86_64-manylinux_2_35`): what the wheels are chosen for."""
    return {
        "python_version": python_version,
        "python_full_version": f"{python_version}.0",
        "platform_machine": platform.partition("-")[0],
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "extra": "",
    }


def _exact(requirement: Requirement) -> Version | None:
    specs = list(requirement.specifier)
    if len(specs) != 1 or specs[0].operator not in ("==", "===") or specs[0].version.endswith(".*"):
        return None
    try:
        return Version(specs[0].version)
    except InvalidVersion:
        return None


def _allows(asked: Requirement, version: Version) -> bool:
    """Whether the asked specifier admits the pinned version, or a local build of it (`2.5.1+cu124`: PyTorch's
    index serves its flavours so, and `==2.5.1` in the metadata accepts them)."""
    if asked.specifier.contains(version, prereleases=True):
        return True
    labels = {Version(s.version).local for s in asked.specifier if "+" in s.version and not s.version.endswith("*")}
    return any(asked.specifier.contains(f"{version}+{label}", prereleases=True) for label in labels if label)


def _pins(release: Release, environment: dict[str, str]) -> Iterator[tuple[Requirement, Version]]:
    for line in release.requires:
        version = _exact(line)
        if version is not None and (line.marker is None or line.marker.evaluate(environment)):
            yield line, version


def _nearest(project: str, pinned: Version, dependency: str, asked: Requirement, environment: dict[str, str]) -> str:
    """The recorded release of `project` nearest to `pinned` (above first) whose own pin fits what was asked."""
    releases = recorded()[project]
    fitting = [
        (version, pin)
        for version, release in releases.items()
        for line, pin in _pins(release, environment)
        if canonicalize_name(line.name) == dependency and _allows(asked, pin) and not version.is_prerelease
    ]
    above = sorted((v, p) for v, p in fitting if v > pinned)
    below = sorted((v, p) for v, p in fitting if v < pinned)
    chosen = above[0] if above else below[-1] if below else None
    if chosen is None:
        return ""
    return f"{project}=={chosen[0]} (it requires {dependency}=={chosen[1]})"


def check(intent: PythonIntent) -> Iterator[Finding]:
    """Each recorded exact pin of an exactly pinned release that excludes what the intent asks for beside it."""
    table = recorded()
    for env in intent.environments():
        environment = marker_environment(env.version, env.platform)
        asked: dict[str, list[Requirement]] = {}
        for requirement in env.requirements + env.bootstrap + env.constraints:
            asked.setdefault(canonicalize_name(requirement.name), []).append(requirement)
        where = f" (env {env.name})" if env.name else ""
        for requirement in env.requirements + env.bootstrap:
            project = canonicalize_name(requirement.name)
            version = _exact(requirement)
            release = table.get(project, {}).get(version) if version is not None else None
            if release is None or version is None:
                continue
            for line, pin in _pins(release, environment):
                dependency = canonicalize_name(line.name)
                for other in asked.get(dependency, []):
                    if _allows(other, pin):
                        continue
                    fixes = [f"{dependency}=={pin}"]
                    if nearest := _nearest(project, version, dependency, other, environment):
                        fixes.append(nearest)
                    yield Finding(
                        rule=RULE,
                        subject=f"{requirement} and {other}{where}",
                        facts=[f"{project} {version} requires {line.name}{line.specifier}", f"you asked for {other}"],
                        fix=" or ".join(fixes),
                        source=f"{project} {version}'s published metadata {release.metadata} (sha256 {release.sha256})",
                    )
