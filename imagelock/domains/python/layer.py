"""The Python domain: intent `[python]` -> lock `[python]` with one target wheel per package."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidSdistFilename, canonicalize_name, parse_sdist_filename, parse_wheel_filename

from imagelock.domains.context import UpdateContext
from imagelock.domains.python import conflicts, sdist, simple_index
from imagelock.engines.python.contract import (
    Engine,
    EngineIndex,
    EngineRequest,
    ResolutionFailed,
    ResolvedPackage,
    SdistOnly,
)
from imagelock.engines.python.piptools import PipToolsEngine
from imagelock.engines.python.uv import UvEngine
from imagelock.errors import AnswerIsNo, InputError, UpstreamError
from imagelock.intent.python import PythonIntent
from imagelock.lock.model import DEFAULT_ENV, PythonEnv, PythonIndex, PythonLayer, PythonPackage, Wheel
from imagelock.net import http

DEFAULT_INDEX_NAME = "pypi"


def target_tags(python_version: str, platform: str) -> list[Tag]:
    """The tags the target interpreter accepts, best first (as pip on that machine would rank them)."""
    arch, _, manylinux = platform.partition("-")
    glibc_minor = int(manylinux.rsplit("_", 1)[1])
    platforms = [f"manylinux_2_{m}_{arch}" for m in range(glibc_minor, 4, -1)]
    legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    platforms += [f"{legacy[m]}_{arch}" for m in (17, 12, 5) if m <= glibc_minor]
    platforms.append(f"linux_{arch}")
    major, minor = (int(x) for x in python_version.split("."))
    version = (major, minor)
    tags = list(cpython_tags(version, platforms=platforms))
    tags += list(compatible_tags(version, f"cp{major}{minor}", platforms=platforms))
    return tags


def choose_wheel(package: ResolvedPackage, ranking: dict[Tag, int], allow_sdist: bool = False) -> Wheel:
    """The wheel the target would install: the one whose best tag ranks highest for the target; for a package
    the intent allows as an sdist, its sdist when no wheel fits the target."""
    best: tuple[int, int] | None = None
    for i, wheel in enumerate(package.wheels):
        try:
            _, _, _, tags = parse_wheel_filename(wheel.filename)
        except ValueError:
            continue
        rank = min((ranking[t] for t in tags if t in ranking), default=None)
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, i)
    if best is None and allow_sdist:
        for wheel in package.wheels:
            try:
                parse_sdist_filename(wheel.filename)
            except (InvalidSdistFilename, ValueError):
                continue
            return wheel
    if best is None:
        raise UpstreamError(f"{package.name} {package.version}: no wheel for the target platform")
    return package.wheels[best[1]]


def engine_indexes(intent: PythonIntent, ctx: UpdateContext) -> tuple[str | None, list[EngineIndex]]:
    """The default index URL and the pinned indexes, as the run's upstreams serve them."""
    named: list[tuple[str, str, list[str]]] = []
    if intent.torch:
        named.append((f"pytorch-{intent.torch.cuda}", intent.torch.index_url, intent.torch.packages))
    named += [(i.name, i.url, i.packages) for i in intent.indexes]
    where = f"python.envs.{intent.name}" if intent.name else "python"
    default = ctx.upstreams.python_index(intent.index_url, (ctx.intent.path, f"{where}.index-url"))
    indexes = []
    for name, url, packages in named:
        served = ctx.upstreams.python_index(url, (ctx.intent.path, f"{where} ({name})"))
        indexes.append(EngineIndex(name=name, url=served or url, packages=packages))
    return default, indexes


def lock_indexes(intent: PythonIntent) -> list[PythonIndex]:
    """The indexes as the lock records them: credentials in their URLs are never written."""
    out = [PythonIndex(name=DEFAULT_INDEX_NAME, url=http.redact(intent.index_url or ""), default=True)]
    if intent.torch:
        out.append(
            PythonIndex(
                name=f"pytorch-{intent.torch.cuda}",
                url=http.redact(intent.torch.index_url),
                packages=sorted(canonicalize_name(p) for p in intent.torch.packages),
            )
        )
    out += [
        PythonIndex(name=i.name, url=http.redact(i.url), packages=sorted(canonicalize_name(p) for p in i.packages))
        for i in intent.indexes
    ]
    return out


def build_request(intent: PythonIntent, ctx: UpdateContext, requirements: list[Requirement]) -> EngineRequest:
    default, indexes = engine_indexes(intent, ctx)
    preferences: dict[str, str] = {}
    previous = _previous_env(ctx, intent)
    if previous and not ctx.upgrade:
        preferences = {p.name: p.version for p in previous.packages}
    return EngineRequest(
        requirements=[str(r) for r in requirements],
        python_version=intent.version,
        platform=intent.platform,
        cutoff=ctx.cutoff,
        default_index=default,
        indexes=indexes,
        preferences=preferences,
        upgrade=ctx.upgrade,
        upgrade_packages=ctx.upgrade_packages,
        constraints=[str(c) for c in intent.constraints],
        allow_sdist=list(intent.allow_sdist),
        label=f"[python.envs.{intent.name}] in {ctx.intent.path}" if intent.name else f"[python] in {ctx.intent.path}",
    )


def _previous_env(ctx: UpdateContext, intent: PythonIntent) -> PythonEnv | None:
    """What the previous lock holds for this env (by name; the one env of a plain [python] is "default")."""
    layer = ctx.previous.python if ctx.previous else None
    if layer is None:
        return None
    return layer.env(intent.name or DEFAULT_ENV)


def engine_for(name: str) -> Engine:
    """The engine `lock update --engine` names, with its own cache under imagelock's."""
    if name == "pip-tools":
        return PipToolsEngine(http.cache_dir() / "pip-tools", simple_index.project_files)
    return UvEngine(http.cache_dir() / "uv")


def resolve(ctx: UpdateContext) -> PythonLayer:
    """The layer: a plain [python]'s one env, or every [python.envs.<name>], each resolved on its own.

    With `lock update --only python.<name>`, only the named envs are resolved; the others keep what the
    previous lock holds for them (and are resolved when it holds nothing for them)."""
    intent = ctx.intent.python
    assert intent is not None
    engine = engine_for(ctx.engine)
    if not intent.envs:
        return to_layer(intent, _resolve_env(intent, ctx, engine), ctx, engine)
    chosen = set(ctx.python_envs)
    envs = []
    refused: list[tuple[str, AnswerIsNo]] = []
    for env in intent.envs:
        assert env.name is not None
        kept = _previous_env(ctx, env) if chosen and env.name not in chosen else None
        if kept is not None and kept.intent_sha256 == env.sha256:
            envs.append(kept)
            continue
        try:
            envs.append(to_env(env, _resolve_env(env, ctx, engine), ctx, engine))
        except AnswerIsNo as answer:  # every env's conflicts in one report, as every layer's
            refused.append((env.name, answer))
    if len(refused) == 1:
        raise refused[0][1]
    if refused:
        summary = "; ".join(answer.summary.removesuffix("; nothing was written") for _, answer in refused)
        details = [line for name, answer in refused for line in (f"python env {name!r}:", *answer.details)]
        raise AnswerIsNo(f"{summary}; nothing was written", details)
    return PythonLayer(engine=ctx.engine, envs=envs)


def _resolve_env(intent: PythonIntent, ctx: UpdateContext, engine: Engine) -> dict[str, ResolvedPackage]:
    """One env's closure, resolved by the engine on its own (its own workdir, preferences and indexes)."""
    where = _where(intent)
    if intent.allow_sdist and not isinstance(engine, UvEngine):
        raise InputError(
            ctx.intent.path,
            f"{where}.allow-sdist",
            f"the {ctx.engine} engine cannot lock a source distribution; use the default engine, uv",
        )
    if engine.cannot_pin_indexes:
        for pinned, key in ((intent.torch, f"{where}.torch"), (intent.indexes, f"{where}.index")):
            if pinned:
                raise InputError(
                    ctx.intent.path,
                    key,
                    f"the {ctx.engine} engine cannot pin packages to one index "
                    f"({engine.cannot_pin_indexes}); use the default engine, uv",
                )
    for caveat in engine.caveats(intent.version, intent.platform):
        print(f"lock: warning: {caveat}", file=sys.stderr)
    requirements = intent.requirements + intent.bootstrap
    request = build_request(intent, ctx, requirements)
    workdir = (ctx.workdir or Path(".")) / "python"
    if intent.name:
        workdir = workdir / "envs" / intent.name
    try:
        return engine.resolve(request, workdir)
    except SdistOnly as only:
        names = ", ".join(only.names)
        quoted = ", ".join(f'"{n}"' for n in [*intent.allow_sdist, *only.names])
        raise InputError(
            ctx.intent.path,
            f"{where}.allow-sdist",
            f"{names} {'ships' if len(only.names) == 1 else 'ship'} no wheel for Python {intent.version} "
            f"{intent.platform}, only a source distribution; to lock it and build it on the image from hashed "
            f"build packages, allow it by name: allow-sdist = [{quoted}]; nothing was written",
        ) from None
    except ResolutionFailed as failure:
        if not isinstance(engine, UvEngine):
            raise  # the probes that explain a failure are uv's, with a cutoff pip-tools does not keep
        raise conflicts.explain(ctx, request, failure, engine, workdir, intent) from None


def _where(intent: PythonIntent) -> str:
    """The intent key of an env's section: `python`, or `python.envs.<name>`."""
    return f"python.envs.{intent.name}" if intent.name else "python"


def _packages(
    intent: PythonIntent,
    resolved: dict[str, ResolvedPackage],
    ctx: UpdateContext,
    requirements: list[Requirement],
    allow_sdist: tuple[str, ...] = (),
) -> tuple[list[PythonPackage], dict[str, Wheel]]:
    """The lock's entries for a closure, and the file each was chosen with as the run's upstreams serve it
    (what an sdist's build requirements are read from)."""
    ranking = {tag: i for i, tag in enumerate(target_tags(intent.version, intent.platform))}
    pinned = intent.index_of()
    asked = {canonicalize_name(r.name): str(r) for r in requirements}
    children: dict[str, set[str]] = {name: set() for name in resolved}
    for package in resolved.values():
        for parent in package.dependents:
            if parent in children:
                children[parent].add(package.name)
    packages = []
    served: dict[str, Wheel] = {}
    for name, package in sorted(resolved.items()):
        chosen = choose_wheel(package, ranking, allow_sdist=name in allow_sdist)
        served[name] = chosen
        url = ctx.upstreams.upstream_url(chosen.url, chosen.filename)
        packages.append(
            PythonPackage(
                name=name,
                version=package.version,
                index=pinned.get(canonicalize_name(name), DEFAULT_INDEX_NAME),
                requested=canonicalize_name(name) in asked,
                original=asked.get(canonicalize_name(name)),
                dependencies=sorted(children[name]),
                wheel=dataclasses.replace(chosen, url=http.redact(url)),
            )
        )
    return packages, served


def _build_packages(
    intent: PythonIntent,
    packages: list[PythonPackage],
    served: dict[str, Wheel],
    ctx: UpdateContext,
    engine: Engine,
) -> list[PythonPackage]:
    """Each sdist's build requirements (recorded on its entry), resolved together as wheels for the target,
    from the env's indexes and as of its cutoff: the one throwaway build venv the bootstrap builds them in."""
    wanted: list[str] = []
    for package in packages:
        if not package.is_sdist:
            continue
        file = served[package.name]
        label = f"{package.name} {package.version} ({package.wheel.filename})"
        data = sdist.fetch(file.url, file.sha256, label)
        package.build_requires = sdist.build_requires(data, file.filename, label)
        wanted += [r for r in package.build_requires if r not in wanted]
    if not wanted:
        return []
    requirements = [Requirement(r) for r in wanted]
    request = build_request(intent, ctx, requirements)
    request.allow_sdist = []  # a build package is a wheel: nothing builds the builders
    previous = _previous_env(ctx, intent)
    if previous and not ctx.upgrade:
        request.preferences = {p.name: p.version for p in previous.build_packages}
    request.label = f"the build requirements of {', '.join(p.name for p in packages if p.is_sdist)}"
    workdir = (ctx.workdir or Path(".")) / "python" / "build" / (intent.name or DEFAULT_ENV)
    try:
        resolved = engine.resolve(request, workdir)
    except SdistOnly as only:
        raise InputError(
            ctx.intent.path,
            f"{_where(intent)}.allow-sdist",
            f"{', '.join(only.names)}, needed to build {request.label.removeprefix('the build requirements of ')}, "
            "ships no wheel: build packages are locked as wheels only; nothing was written",
        ) from None
    except ResolutionFailed as failure:
        raise ResolutionFailed(f"{request.label} cannot be resolved together:\n{failure.message}") from None
    built, _ = _packages(intent, resolved, ctx, requirements)
    return built


def to_layer(
    intent: PythonIntent, resolved: dict[str, ResolvedPackage], ctx: UpdateContext, engine: Engine
) -> PythonLayer:
    """The layer of a plain [python]: its one env in the layer's own fields."""
    return PythonLayer(engine=ctx.engine).single(to_env(intent, resolved, ctx, engine))


def to_env(intent: PythonIntent, resolved: dict[str, ResolvedPackage], ctx: UpdateContext, engine: Engine) -> PythonEnv:
    """One env, with the sha256 of what it asked for (an env of [python.envs]; a plain [python] has none), and
    the build packages of its sdists."""
    packages, served = _packages(
        intent, resolved, ctx, intent.requirements + intent.bootstrap, tuple(intent.allow_sdist)
    )
    return PythonEnv(
        name=intent.name or DEFAULT_ENV,
        version=intent.version,
        platform=intent.platform,
        venv=intent.venv,
        intent_sha256=intent.sha256,
        indexes=lock_indexes(intent),
        packages=packages,
        build_packages=_build_packages(intent, packages, served, ctx, engine),
    )
