"""Explain an unsatisfiable Python intent: every independent conflict at once, with fixes.

uv stops at the first contradiction it proves. To report all of them we ask it
small questions: does each requirement resolve alone (a missing version, a
cutoff that excludes it), and does each pair resolve together. Every failing
pair is one conflict; for each we re-resolve with one side's pin relaxed to find
the nearest version that works with the other side.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from imagelock.domains.context import UpdateContext
from imagelock.domains.python import simple_index
from imagelock.engines.python.contract import EngineRequest, ResolutionFailed, default_index_url
from imagelock.engines.python.uv import ROOT_PROJECT, UvEngine
from imagelock.errors import AnswerIsNo, ImagelockError, InputError, UpstreamError
from imagelock.intent.python import PythonIntent
from imagelock.rules.pinned_requires import marker_environment

PARALLEL = 4


@dataclass
class Conflict:
    members: list[str]
    chain: list[str]
    fixes: list[str] = field(default_factory=list)
    pins: list[tuple[str, str]] = field(default_factory=list)  # each fix as (the requirement it replaces, pin)
    message: str = ""

    def lines(self) -> list[str]:
        head = " and ".join(self.members)
        out = [f"{head} cannot be installed together" if len(self.members) > 1 else f"{head} cannot be installed"]
        if self.chain:
            out.append("  because " + "; ".join(self.chain))
        elif self.message:
            out += [f"  {line}" for line in self.message.splitlines()]
        out += [f"  fix: {fix}" for fix in self.fixes]
        return out


class _Probe:
    """Small uv resolutions of subsets of the intent, each in its own directory."""

    def __init__(self, request: EngineRequest, engine: UvEngine, workdir: Path) -> None:
        self.request = request
        self.engine = engine
        self.workdir = workdir
        self.count = 0

    def run(self, requirements: list[str], lowest: bool = False) -> dict[str, str] | str:
        """Pins on success, uv's explanation on failure."""
        self.count += 1
        request = replace(
            self.request,
            requirements=requirements,
            preferences={},
            upgrade=False,
            upgrade_packages=[],
            lowest_direct=lowest,
        )
        where = self.workdir / f"probe-{self.count}"
        try:
            resolved = self.engine.closure(request, where)
        except ResolutionFailed as failure:
            return failure.message
        return {name: p.version for name, p in resolved.items()}


# uv writes a requirement that holds under a marker only with the marker in braces after the name
# (`numpy{python_full_version >= '3.12'}>=1.26.0`): the braces are read, so the bound after them is kept.
_REQ = r"[A-Za-z0-9._\-\[\]]+(?:\{[^}]*\})?(?:[<>=!~]=?[^\s,]+(?:,\s?[<>=!~]=?[^\s,]+)*)?"
_MARKER = re.compile(r"\{[^}]*\}")
_DEPENDS = re.compile(rf"(?:all versions of )?(?P<src>{_REQ}) depends? on (?P<dst>{_REQ})")
_NAME = re.compile(r"^[A-Za-z0-9._-]+")
_BARE = re.compile(r"[A-Za-z0-9._-]+")
BOUND_VERSIONS = 4  # the newest versions of a package whose metadata is read for a bound uv left out


def _name(requirement: str) -> str:
    match = _NAME.match(requirement)
    return canonicalize_name(match.group(0)) if match else requirement


def _edges(message: str) -> list[tuple[str, str]]:
    """The 'X depends on Y' facts uv proved, in order, without the synthetic root project."""
    edges = []
    for match in _DEPENDS.finditer(message):
        src, dst = (_MARKER.sub("", match[side]).rstrip(".,") for side in ("src", "dst"))
        if _name(src) != ROOT_PROJECT and (src, dst) not in edges:
            edges.append((src, dst))
    return edges


def _path(edges: list[tuple[str, str]], start: str, goal: str, limit: int = 3) -> list[tuple[str, str]] | None:
    """The longest path (at most `limit` steps) of requirement edges from one name to another:
    longer paths show the intermediate package that carries the requirement."""
    best: list[tuple[str, str]] | None = None

    def walk(name: str, path: list[tuple[str, str]]) -> None:
        nonlocal best
        if path and name == goal:
            if best is None or len(path) > len(best):
                best = list(path)
            return
        if len(path) >= limit:
            return
        seen = {_name(s) for s, _ in path}
        for src, dst in edges:
            if _name(src) == name and _name(dst) not in seen and _name(dst) != _name(src):
                walk(_name(dst), [*path, (src, dst)])

    walk(start, [])
    return best


def _render(path: list[tuple[str, str]]) -> str:
    text = path[0][0]
    for _, dst in path:
        text += f" requires {dst}" if text == path[0][0] else f", which requires {dst}"
    return text


Bound = Callable[[str, str], "str | None"]


def chain_of(message: str, members: list[str], bound: Bound | None = None) -> list[str]:
    """Why the members clash, as requirement chains ending at what was asked.

    uv writes `pandas>=2 depends on numpy` when the bound covers every version it saw; `bound(src, name)`
    gives back the bound the metadata of `src` puts on `name` (`numpy>=1.20.3`), or None."""
    edges = _edges(message)
    if bound is not None:
        edges = [(src, (bound(src, dst) or dst) if _BARE.fullmatch(dst) else dst) for src, dst in edges]
    names = [_name(m) for m in members]
    if len(members) == 1:
        return [_render([e]) for e in edges[:3]]
    a, b = names
    for first, second, asked in ((a, b, members[1]), (b, a, members[0])):
        path = _path(edges, first, second)
        if path:
            return [_render(path), f"you asked for {asked}"]
    for c in dict.fromkeys(_name(dst) for _, dst in edges):
        left, right = _path(edges, a, c, 2), _path(edges, b, c, 2)
        if left and right:
            return [_render(left), _render(right)]
    return [_render([e]) for e in edges[:4]]


def _pinned_version(requirement: Requirement) -> Version | None:
    specs = list(requirement.specifier)
    if len(specs) == 1 and specs[0].operator in ("==", "==="):
        try:
            return Version(specs[0].version.rstrip(".*"))
        except InvalidVersion:
            return None
    return None


def _fix(probe: _Probe, relaxed: Requirement, other: str) -> tuple[str, str] | None:
    """The nearest version of `relaxed` that resolves together with `other`: the fix, and its pin."""
    version = _pinned_version(relaxed)
    name = relaxed.name
    if version is None:
        attempt = probe.run([name, other])
        if isinstance(attempt, dict):
            found = attempt[canonicalize_name(name)]
            return f"drop the constraint {relaxed}: {name} {found} works with {other}", f"{name}=={found}"
        return None
    public = version.public  # `>` and `<` take no local label (+cu124)
    for spec, lowest in ((f"{name}>{public}", True), (f"{name}<{public}", False)):
        attempt = probe.run([spec, other], lowest=lowest)
        if isinstance(attempt, dict):
            found = attempt[canonicalize_name(name)]
            return f"{name} {found} works with {other}", f"{name}=={found}"
    return None


COMBINATIONS = 16  # choices of one fix per conflict tried before saying none works


def _together(probe: _Probe, texts: list[str], conflicts: list[Conflict]) -> list[str]:
    """Whether the fixes proposed for several conflicts can be applied together: the first fix of each is
    tried with the whole intent, then other choices of one fix per conflict. Lines for the report, or none."""
    if len(conflicts) < 2 or not all(c.pins for c in conflicts):
        return []  # a conflict without a fix stays, whatever is applied
    fixed = list(enumerate(conflicts, 1))

    def works(choice: tuple[tuple[str, str], ...]) -> bool:
        replaced: dict[str, str] = {}
        for old, pin in choice:
            if replaced.setdefault(old, pin) != pin:
                return False  # one requirement, two different versions
        return isinstance(probe.run([replaced.get(t, t) for t in texts]), dict)

    def said(choice: tuple[tuple[str, str], ...]) -> str:
        return ", ".join(f"{pin} ({number}.)" for (number, _), (_, pin) in zip(fixed, choice))

    choices = list(itertools.islice(itertools.product(*(c.pins for _, c in fixed)), COMBINATIONS))
    if works(choices[0]):
        return []
    lines = [f"these fixes cannot all be applied together: {said(choices[0])}"]
    other = next((choice for choice in choices[1:] if works(choice)), None)
    if other is not None:
        lines.append(f"  together, these work: {said(other)}")
    else:
        lines.append("  no choice of one fix per conflict works: apply one, then run `lock update` again")
    return lines


def bounds(request: EngineRequest, pinned: dict[str, str]) -> Bound:
    """`bound(src, name)`: the bound the metadata of the versions of `src` (before the cutoff, on its index)
    put on `name` for the target, as `name>=1.20.3`; None when it cannot be read or there is none.
    `pinned`: project -> the name of the index the intent assigns it."""
    urls = {index.name: index.url for index in request.indexes}
    default_url = request.default_index or default_index_url()
    environment = marker_environment(request.python_version, request.platform)
    cache: dict[tuple[str, str], str | None] = {}

    def bound(src: str, name: str) -> str | None:
        if (src, name) not in cache:
            try:
                cache[(src, name)] = _bound(src, name)
            except (UpstreamError, ValueError):
                cache[(src, name)] = None  # a courtesy: uv's words stand
        return cache[(src, name)]

    def _bound(src: str, name: str) -> str | None:
        requirement = Requirement(src)
        project = canonicalize_name(requirement.name)
        url = urls.get(pinned.get(project, "pypi"), default_url)
        versions = simple_index.project_versions(url, project, request.cutoff) if url else None
        chosen = sorted(v for v in versions or {} if requirement.specifier.contains(v, prereleases=True))
        specs: dict[str, list[Version]] = {}
        for version in chosen[-BOUND_VERSIONS:]:
            for line in simple_index.requires_dist(url or "", project, version) or []:
                dep = Requirement(line)
                if canonicalize_name(dep.name) != canonicalize_name(name) or not str(dep.specifier):
                    continue
                if dep.marker is None or dep.marker.evaluate(environment):
                    specs.setdefault(str(dep.specifier), []).append(version)
        if len(specs) == 1:
            return f"{name}{next(iter(specs))}"
        return (
            " or ".join(f"{name}{spec} ({project} {', '.join(map(str, found))})" for spec, found in specs.items())
            or None
        )

    return bound


def _check_exists(
    ctx: UpdateContext, request: EngineRequest, requirements: list[Requirement], intent: PythonIntent
) -> None:
    """A project that is not on its index, or a pinned version it does not have, is an input error."""
    pinned = intent.index_of()
    urls = {index.name: index.url for index in request.indexes}
    default_url = request.default_index or default_index_url()
    where = f"python.envs.{intent.name}" if intent.name else "python"
    keys = [f"{where}.requirements[{i}]" for i in range(len(intent.requirements))]
    keys += [f"{where}.bootstrap[{i}]" for i in range(len(intent.bootstrap))]
    for key, requirement in zip(keys, requirements):
        name = canonicalize_name(requirement.name)
        index_name = pinned.get(name, "pypi")
        url = urls.get(index_name, default_url)
        if not url:
            continue
        versions = simple_index.project_versions(url, name, ctx.cutoff)
        if versions is None:
            raise InputError(ctx.intent.path, key, f"no project {requirement.name!r} on index {index_name!r}")
        wanted = _pinned_version(requirement)
        if wanted is None:
            continue
        matching = [v for v in versions if requirement.specifier.contains(v, prereleases=True)]
        if not matching:
            near = ", ".join(str(v) for v in simple_index.nearest(list(versions), wanted)) or "none"
            raise InputError(
                ctx.intent.path,
                key,
                f"{requirement}: no such version on index {index_name!r} "
                f"before the cutoff {ctx.cutoff}; nearest: {near}",
            )


def explain(
    ctx: UpdateContext,
    request: EngineRequest,
    failure: ResolutionFailed,
    engine: UvEngine,
    workdir: Path,
    intent: PythonIntent | None = None,
) -> ImagelockError:
    """Every conflict of the intent (of one env, when given), each with its requirement chain and nearest
    fixes (exit 1)."""
    intent = intent or ctx.intent.python
    assert intent is not None
    requirements = intent.requirements + intent.bootstrap
    try:
        _check_exists(ctx, request, requirements, intent)
    except UpstreamError:
        pass  # the existence check is a courtesy; uv's own report below still stands
    probe = _Probe(request, engine, workdir / "conflicts")
    bound = bounds(request, intent.index_of())
    texts = [str(r) for r in requirements]
    conflicts: list[Conflict] = []
    alone_bad: set[str] = set()
    with ThreadPoolExecutor(PARALLEL) as pool:
        for text, result in zip(texts, pool.map(lambda t: probe.run([t]), texts)):
            if isinstance(result, str):
                alone_bad.add(text)
                conflicts.append(Conflict(members=[text], chain=chain_of(result, [text], bound), message=result))
        pairs = [(a, b) for a, b in itertools.combinations(texts, 2) if a not in alone_bad and b not in alone_bad]
        for (a, b), result in zip(pairs, pool.map(lambda p: probe.run(list(p)), pairs)):
            if isinstance(result, str):
                conflicts.append(Conflict(members=[a, b], chain=chain_of(result, [a, b], bound), message=result))
        pair_conflicts = [c for c in conflicts if len(c.members) == 2]
        jobs = [(c, m, other) for c in pair_conflicts for m, other in (c.members, c.members[::-1])]
        for (conflict, relaxed, _other), fix in zip(
            jobs, pool.map(lambda j: _fix(probe, Requirement(j[1]), j[2]), jobs)
        ):
            if fix:
                conflict.fixes.append(fix[0])
                conflict.pins.append((relaxed, fix[1]))
        together = _together(probe, texts, conflicts)
    if not conflicts:
        conflicts.append(Conflict(members=texts, chain=[], message=failure.message))
        together = []
    lines = []
    for number, conflict in enumerate(conflicts, 1):
        body = conflict.lines()
        lines.append(f"{number}. {body[0]}")
        lines += [f"   {line}" for line in body[1:]]
    lines += together
    section = f"python env {intent.name!r}" if intent.name else "python"
    count = f"{len(conflicts)} conflict{'s' if len(conflicts) != 1 else ''}"
    summary = f"{ctx.intent.path}: {section}: {count}; nothing was written"
    return AnswerIsNo(summary, lines)
