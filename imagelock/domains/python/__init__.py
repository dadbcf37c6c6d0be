"""The Python domain: `[python]` (one env, or several `[python.envs.<name>]`) -> one target wheel per package
of each env, each from the one index the intent assigns."""

from __future__ import annotations

from collections.abc import Iterator

from imagelock.domains.contract import Domain
from imagelock.domains.python import findings, sbom
from imagelock.intent import python as intent
from imagelock.intent.document import Intent
from imagelock.lock.artifact import Artifact
from imagelock.lock.diff import Item
from imagelock.lock.model import Lock, PythonLayer


def artifacts(layer: PythonLayer) -> Iterator[Artifact]:
    """Every env's wheels (an allowed sdist is a file like them) and the wheels its sdists are built with; a
    file two envs lock is one file, named once."""
    seen: set[str] = set()
    for env in layer.environments():
        for role, package in [*(("", p) for p in env.packages), *(("build ", p) for p in env.build_packages)]:
            wheel = package.wheel
            if wheel.sha256 in seen:
                continue
            seen.add(wheel.sha256)
            where = f" (env {env.name})" if layer.envs else ""
            yield Artifact(
                "sdist" if package.is_sdist else "wheel",
                wheel.filename,
                (wheel.url,),
                wheel.sha256,
                wheel.size,
                label=f"python {role}package {package.name} {package.version} ({wheel.filename}){where}",
            )


def items(layer: PythonLayer) -> Iterator[Item]:
    """`lock diff` rows; with envs, each row's key names its env (`train/numpy`, `serve/interpreter`)."""
    for env in layer.environments():
        prefix = f"{env.name}/" if layer.envs else ""
        yield Item(f"{prefix}interpreter", f"python {env.version} {env.platform}" + (f" {env.venv}" if prefix else ""))
        for p in env.packages:
            yield Item(f"{prefix}{p.name}", p.version, p.wheel.sha256, p.wheel.size, p.requested)
        for p in env.build_packages:  # not in the venv: what its sdists are built with
            yield Item(f"{prefix}build/{p.name}", p.version, p.wheel.sha256, p.wheel.size, p.requested)


def problems(lock: Lock, wanted: Intent) -> list[str]:
    """A pip-tools lock under the intent's cutoff: pip ignored it, so the lock does not say what it claims."""
    if lock.python is None or lock.python.engine != "pip-tools" or lock.universe.source != "intent":
        return []
    return [
        f"python: locked by the pip-tools engine, which ignores universe.cutoff ({lock.universe.cutoff}): "
        "its versions are as of the update, not the cutoff; re-lock with the default engine, uv (`lock update`)"
    ]


def summary(layer: PythonLayer) -> str:
    if not layer.envs:
        return f"{len(layer.packages)} python packages"
    envs = ", ".join(f"{e.name} {len(e.packages)}" for e in layer.envs)
    return f"{len(layer.all_packages)} python packages in {len(layer.envs)} envs ({envs})"


DOMAIN = Domain(
    name="python",
    layer=PythonLayer,
    parse=intent.parse,
    resolver="imagelock.domains.python.layer:resolve",
    summary=summary,
    items=items,
    artifacts=artifacts,
    components=sbom.components,
    findings=findings.findings,
    problems=problems,
    image_order=4,
    runs_apart=True,
)
