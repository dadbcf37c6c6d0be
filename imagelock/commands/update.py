"""`lock update`: resolve every domain the intent names and write the lock atomically.

Each domain in imagelock.domains.DOMAINS resolves its own section (`resolve(ctx)`).
A domain left out by `--only` keeps what the previous lock recorded for it. A
lock that is intact and was made from this very intent, cutoff and engine is
kept as it is, with nothing resolved again, unless a flag asks for movement.
The resolved lock then passes the cross-layer compatibility rules (or nothing
is written) and gets its image version: the previous one, bumped by what moved.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from imagelock import domains, writes
from imagelock import rules as compat
from imagelock.build import ansible
from imagelock.commands import learn as learning
from imagelock.domains.context import UpdateContext
from imagelock.domains.contract import Domain
from imagelock.errors import AnswerIsNo, InputError, UpstreamError, did_you_mean
from imagelock.intent.document import Intent, default_lock_path
from imagelock.intent.fields import parse_cutoff
from imagelock.intent.variants import canonical
from imagelock.lock import codec as lockfile
from imagelock.lock import tables
from imagelock.lock.diff import diff
from imagelock.lock.model import Lock, LockVariant, Universe, instant
from imagelock.lock.tables import digest_table
from imagelock.lock.version import next_version
from imagelock.net.upstreams import LIVE, Upstreams
from imagelock.progress import LayerProgress
from imagelock.replay.server import ReplayServer, Snapshot


@dataclass
class UpdateResult:
    lock: Lock
    text: str
    path: Path
    changed: bool
    written: bool
    previous: Lock | None = None
    report: compat.Report | None = None
    learned: int = 0  # files `--learn` gave a hash


def now_cutoff() -> str:
    return instant(dt.datetime.now(dt.UTC))


def _cutoff(intent: Intent, previous: Lock | None, moving: bool, asked: str | None = None) -> Universe:
    """The intent's cutoff; else `--cutoff`; else the one the lock recorded at its first update; else now."""
    if intent.cutoff:
        if asked is not None:
            raise InputError(
                intent.path,
                "universe.cutoff",
                f"the intent pins the cutoff ({intent.cutoff}); move it there instead of with --cutoff",
            )
        return Universe(cutoff=intent.cutoff, source="intent")
    if asked is not None:
        return Universe(cutoff=parse_cutoff(asked, "lock update", "--cutoff"), source="update-time")
    if previous is not None and previous.universe.source == "update-time" and not moving:
        return previous.universe
    return Universe(cutoff=now_cutoff(), source="update-time")


def _violations(report: compat.Report) -> str:
    count = len(report.violations)
    return f"{count} cross-layer violation{'s' if count != 1 else ''}"


def _combined(intent: Intent, lock: Lock, targets: compat.Targets, refused: list[AnswerIsNo]) -> AnswerIsNo:
    """Each layer's refusal, then what the cross-layer rules say about the rest and the intent's pins.

    A lone refusal with no cross-layer violation is returned as the layer said it
    (plus any notes), so each domain keeps its own wording.
    """
    if lock.python is None and intent.python is not None:
        lock.python = compat.pins.pinned_layer(intent.python)
    report = compat.evaluate(lock, targets)
    details = [line for answer in refused for line in answer.details]
    if not report.violations:
        if len(refused) == 1:
            return AnswerIsNo(refused[0].summary, details + report.lines())
        return AnswerIsNo("; ".join(answer.summary for answer in refused), details + report.lines())
    summary = "; ".join(answer.summary.removesuffix("; nothing was written") for answer in refused)
    details += ["cross-layer (judged on what did resolve and on the intent's exact pins):", *report.lines()]
    return AnswerIsNo(f"{summary}; {_violations(report)}; nothing was written", details)


def _unanswered(intent: Intent, lock: Lock, refused: list[AnswerIsNo], error: UpstreamError) -> UpstreamError:
    """An upstream could not answer (exit 2), with what needs none of it said first: each layer's own refusal,
    the cross-layer rules over what did resolve and the intent's exact pins, and the exact pins the intent's
    releases publish in their own metadata (rules/pinned_requires.py)."""
    report = compat.without_index(intent, lock)
    details = [line for answer in refused for line in answer.details] + report.lines()
    if details:
        error.details = ["judged without the upstream that could not be reached:", *details]
    return error


def update(
    intent_path: str | Path,
    lock_path: str | Path | None = None,
    *,
    only: list[str] | None = None,
    upgrade: bool = False,
    upgrade_packages: list[str] | None = None,
    refresh: list[str] | None = None,
    dry_run: bool = False,
    engine: str = "uv",
    replay: str | Path | ReplayServer | None = None,
    cutoff: str | None = None,
    learn: str | Path | None = None,
    progress: LayerProgress | None = None,
) -> UpdateResult:
    """`progress`: where each layer's resolution shows (one row per layer); None shows nothing."""
    intent = domains.read_intent(intent_path)
    measured = learning.read(learn) if learn is not None else None
    path = Path(lock_path) if lock_path else default_lock_path(intent_path)
    started = _on_disk(path)  # what a concurrent writer must not have replaced by the time this one writes
    previous, claimed = domains.read_lock(path) if started is not None else (None, None)
    if previous is not None and claimed is not None:  # what it keeps it re-digests: an edit would pass as locked
        domains.intact(path, previous, claimed, "nothing was written: restore it (`git checkout`) or remove it")
    known = domains.by_name()
    only, python_envs = _only_envs(intent, only)
    for flag, names in (("--only", only or []), ("--refresh", refresh or [])):
        for name in names:
            if name not in known:
                raise InputError(
                    None,
                    flag,
                    f"unknown domain {name!r}{did_you_mean(name, known)}; expected one of: {', '.join(known)}",
                )
    _check_upgrade_packages(intent, previous, upgrade_packages or [])
    moving = upgrade or bool(upgrade_packages)
    _check_engine_cutoff(intent, engine, cutoff)
    universe = _cutoff(intent, previous, moving=moving, asked=cutoff)
    targets = compat.targets.from_intent(intent)
    compat.check_targets(targets)  # a mistyped instance type fails before minutes of resolution
    if (
        previous is not None
        and claimed is not None
        and not (moving or refresh or only)
        and _unchanged(intent, previous, claimed, universe, engine)
    ):
        if intent.ansible is not None:
            ansible.check(intent.ansible, previous, intent.path)
        report = compat.evaluate(previous, targets)
        text = path.read_text(encoding="utf-8")
        current = text == lockfile.dumps(previous)  # else written before its layer and field digests were kept
        if not report.violations and not _learns(previous, measured) and current:
            return UpdateResult(
                lock=previous, text=text, path=path, changed=False, written=False, previous=previous, report=report
            )
        if not report.violations:  # only learning or the digests beside the content move it: nothing is resolved
            return _write(copy.deepcopy(previous), previous, intent, targets, path, started, dry_run, measured, learn)
    lock = Lock(name=intent.name, intent_sha256=intent.sha256, universe=universe)
    # Where `lock mirror` put the artifacts stays recorded; artifacts new in this update
    # are not there until `lock mirror` runs again (it uploads only what is missing).
    lock.mirror = previous.mirror if previous else None

    server = replay if isinstance(replay, ReplayServer) or replay is None else ReplayServer(Snapshot.open(replay))
    with contextlib.ExitStack() as stack:
        workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="imagelock-"))
        upstreams: Upstreams = stack.enter_context(server) if server else LIVE
        ctx = UpdateContext(
            intent=intent,
            previous=previous,
            cutoff=universe.cutoff,
            upgrade=upgrade,
            upgrade_packages=list(upgrade_packages or []),
            refresh=list(refresh or []),
            engine=engine,
            python_envs=python_envs,
            upstreams=upstreams,
            workdir=Path(workdir),
        )
        wanted = []
        for domain in domains.DOMAINS:
            if domain.name not in intent.sections:
                continue
            if only and domain.name not in only:
                if previous is not None and domain.name in previous.layers:
                    lock.layers[domain.name] = previous.layers[domain.name]
                continue
            wanted.append(domain)
        refused: list[AnswerIsNo] = []
        unreachable: UpstreamError | None = None
        for domain, outcome in _resolve_all(wanted, ctx, progress):
            if isinstance(outcome, AnswerIsNo):  # keep going: every layer's "no" goes into one report
                refused.append(outcome)
            elif isinstance(outcome, UpstreamError):  # what needs no upstream is still judged, below
                unreachable = unreachable or outcome
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                lock.layers[domain.name] = outcome
        if unreachable is not None:
            raise _unanswered(intent, lock, refused, unreachable)
        _resolve_variants(lock, ctx, only or [], refused, progress)

    if refused:
        raise _combined(intent, lock, targets, refused)
    return _write(lock, previous, intent, targets, path, started, dry_run, measured, learn)


def _check_engine_cutoff(intent: Intent, engine: str, asked: str | None) -> None:
    """pip has no upload-time filter: a pip-tools lock would record a cutoff its versions do not honour."""
    if engine != "pip-tools" or intent.python is None or not (intent.cutoff or asked is not None):
        return
    raise InputError(
        None if asked is not None else intent.path,
        "--cutoff" if asked is not None else "universe.cutoff",
        "the pip-tools engine cannot honour an upload-time cutoff (pip has no such filter) and would lock "
        "versions as of now; drop the cutoff or use the default engine, uv; nothing was written",
    )


def _check_upgrade_packages(intent: Intent, previous: Lock | None, names: list[str]) -> None:
    """Every `--upgrade-package` names a package the lock or the intent holds: a typo would move nothing
    and pass as done. Without a previous Python layer there is nothing to keep, so any name is accepted."""
    if not names:
        return
    layers = [previous.python] if previous is not None and previous.python is not None else []
    if previous is not None:
        layers += [v.layers["python"] for v in previous.variants.values() if v.layers.get("python") is not None]
    if not layers:
        return
    known = {canonicalize_name(p.name) for layer in layers for p in layer.all_packages}
    if intent.python is not None:
        for env in intent.python.envs or [intent.python]:
            known |= {canonicalize_name(r.name) for r in env.requirements + env.bootstrap}
    for name in names:
        if canonicalize_name(name) not in known:
            raise InputError(
                None,
                "--upgrade-package",
                f"no package {name!r} in the lock{did_you_mean(canonicalize_name(name), known)}; "
                f"its packages: {', '.join(sorted(known))}; nothing was written",
            )


def _resolve_variants(
    lock: Lock, shared: UpdateContext, only: list[str], refused: list[AnswerIsNo], progress: LayerProgress | None
) -> None:
    """Each variant's own layers (docs/variants.md); everything else it takes from the shared layers.

    A domain's section that several variants share (with the sections its resolver reads) is resolved
    once, and stored once: the first variant (by name) holds it, the others take it as `domain@first`.
    A domain left out by `--only` keeps what the previous lock recorded for the variant."""
    previous = shared.previous
    resolved: dict[tuple[str, str], Any] = {}
    holder: dict[tuple[str, str], str] = {}  # the variant whose own layer holds a resolution
    for name in sorted(shared.intent.variants):
        variant = shared.intent.variants[name]
        before = previous.variants.get(name) if previous is not None else None
        ctx = copy.copy(shared)
        ctx.intent, ctx.cache = variant.resolving, {}
        ctx.previous = domains.variant_lock(previous, name) if previous is not None and before else previous
        own: dict[str, Any] = {}
        take = list(variant.selectors)
        for domain in domains.DOMAINS:
            if domain.name not in variant.own:
                continue
            if only and domain.name not in only:  # keeps what it had, held or taken from another variant
                kept = _own_layer(previous, name, domain.name) if previous is not None else None
                if kept is None:
                    continue
                key = (domain.name, "kept " + digest_table({"layer": tables.to_table(kept)}))
                resolved[key] = kept
            else:
                key = (domain.name, canonical({d: variant.resolving.raw.get(d) for d in (domain.name, *domain.reads)}))
            if key not in resolved:
                try:
                    resolved[key] = _resolve_one(domain, ctx, progress, f"{domain.name} (variant {name})")
                except AnswerIsNo as answer:  # every "no" goes into one report, this variant named
                    refused.append(AnswerIsNo(f"variant {name}: {answer.summary}", answer.details))
                    resolved[key] = None
            if not resolved[key]:
                continue
            if key in holder:
                take.append(f"{domain.name}@{holder[key]}")
            else:
                holder[key] = name
                own[domain.name] = resolved[key]
        lock.variants[name] = LockVariant(intent_sha256=variant.intent.sha256, take=take, layers=own)


def _own_layer(lock: Lock, variant: str, layer: str) -> Any:
    """The layer a variant of `lock` resolved itself for `layer`, held or taken from the variant holding it."""
    entry = lock.variants.get(variant)
    if entry is None:
        return None
    if layer in entry.layers:
        return entry.layers[layer]
    for selector in entry.take:
        name, at, other = selector.partition(":")[0].partition("@")
        if at and name == layer and other in lock.variants:
            return lock.variants[other].layers.get(layer)
    return None


def _only_envs(intent: Intent, only: list[str] | None) -> tuple[list[str] | None, list[str]]:
    """`--only python.<name>` resolves the python layer, and in it only the named envs: (domains, envs)."""
    if not only:
        return only, []
    domains_: list[str] = []
    envs: list[str] = []
    for name in only:
        domain, dot, env = name.partition(".")
        if not dot or domain != "python":
            domains_.append(name)
            continue
        have = [e.name or "" for e in intent.python.envs] if intent.python else []
        if env not in have:
            raise InputError(
                None,
                "--only",
                f"no python env {env!r} in {intent.path}{did_you_mean(env, have)}"
                + (f"; its envs: {', '.join(have)}" if have else "; it has no [python.envs]"),
            )
        envs.append(env)
        if domain not in domains_:
            domains_.append(domain)
    if "python" in only:  # the whole layer asked for as well: every env moves
        envs = []
    return domains_, envs


def _learns(lock: Lock, measured: dict[str, tuple[str, int]] | None) -> bool:
    """Whether `--learn` would give a hash to a file this lock holds without one (or contradict it)."""
    if not measured:
        return False
    probe = copy.deepcopy(lock)
    return bool(learning.contradictions(probe, measured)) or learning.apply(probe, measured, "") > 0


def _write(
    lock: Lock,
    previous: Lock | None,
    intent: Intent,
    targets: compat.Targets,
    path: Path,
    started: bytes | None,
    dry_run: bool,
    measured: dict[str, tuple[str, int]] | None,
    learn: str | Path | None,
) -> UpdateResult:
    """Learn what was measured, judge, version and write the resolved (or kept) lock."""
    learned = learning.apply(lock, measured, learn or "") if measured else 0
    if intent.ansible is not None:  # every role variable names a value of this lock, or nothing is written
        ansible.check(intent.ansible, lock, intent.path)
    report = compat.evaluate(lock, targets)
    if report.violations:
        raise AnswerIsNo(f"{intent.path}: {_violations(report)}; nothing was written", report.lines())
    for name, variant in sorted(intent.variants.items()):
        judged = compat.evaluate(domains.variant_lock(lock, name), compat.targets.from_intent(variant.intent))
        if judged.violations:
            raise AnswerIsNo(
                f"{intent.path}: variant {name}: {_violations(judged)}; nothing was written", judged.lines()
            )
    lock.version = next_version(previous, lock, diff(previous, lock, domains.DOMAINS) if previous else None)
    text = lockfile.dumps(lock)
    old = path.read_text(encoding="utf-8") if path.exists() else None
    changed = old != text
    written = False
    if not dry_run:
        with writes.exclusive(path):
            _still(path, started)
            written = writes.write_atomic(path, text)
    return UpdateResult(
        lock=lock,
        text=text,
        path=path,
        changed=changed,
        written=written,
        previous=previous,
        report=report,
        learned=learned,
    )


def _on_disk(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):  # no lock yet (writing it says why, if it cannot be)
        return None
    except OSError as exc:
        raise InputError(path, None, f"cannot be read ({exc.strerror})") from None


def _still(path: Path, started: bytes | None) -> None:
    """The lock on disk is the one this update started from: another writer did not get there first.

    Two updates of one lock (say, from two intents in two CI jobs) must not both say "wrote" while
    the last one silently wins: the later one refuses, naming what it found.
    """
    now = _on_disk(path)
    if now == started:
        return
    if now is None:
        found = "was removed"
    else:
        other = re.search(rb'^intent-sha256 = "([0-9a-f]{12})', now, re.MULTILINE)
        found = f"was rewritten (from intent {other[1].decode()}...)" if other else "was rewritten"
    raise InputError(
        path, None, f"{found} by another process while this update ran; nothing was written: run `lock update` again"
    )


def _resolve_one(domain: Domain, ctx: UpdateContext, progress: LayerProgress | None, name: str = "") -> Any:
    """One layer's resolution, its row of the progress display started and ended around it."""
    name = name or domain.name
    if progress is None:
        return domain.resolve(ctx)
    progress.start(name)
    try:
        layer = domain.resolve(ctx)
    except AnswerIsNo:
        progress.finish(name, "refused")
        raise
    except Exception:
        progress.finish(name, "failed")
        raise
    said = domain.summary(layer) if layer else ""
    progress.finish(name, f"done: {said}" if said else "done")
    return layer


def _resolve_all(
    wanted: list[Domain], ctx: UpdateContext, progress: LayerProgress | None = None
) -> list[tuple[Domain, Any]]:
    """Each domain's layer, or the exception it raised, in domain order.

    A domain that mostly waits on a subprocess (`runs_apart`: uv) resolves on a
    thread of its own while the others resolve here, so its wait overlaps their
    work; the outcomes are still taken in the list's order, so messages and the
    lock are the same as one after another.
    """
    outcomes: dict[str, Any] = {}
    if progress is not None:
        progress.add(dict.fromkeys(domain.name for domain in wanted))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="imagelock-apart") as pool:
        apart = {
            domain.name: pool.submit(_resolve_one, domain, ctx, progress) for domain in wanted if domain.runs_apart
        }
        for domain in wanted:
            if domain.runs_apart:
                continue
            try:
                outcomes[domain.name] = _resolve_one(domain, ctx, progress)
            except Exception as exc:  # noqa: BLE001 - taken in domain order below
                outcomes[domain.name] = exc
        for name, future in apart.items():
            try:
                outcomes[name] = future.result()
            except Exception as exc:  # noqa: BLE001 - taken in domain order below
                outcomes[name] = exc
    return [(domain, outcomes[domain.name]) for domain in wanted]


def _unchanged(intent: Intent, previous: Lock, claimed: str, universe: Universe, engine: str) -> bool:
    """The previous lock is what resolving again would give: same intent, cutoff and engine, intact, consistent."""
    if previous.intent_sha256 != intent.sha256 or previous.name != intent.name or previous.universe != universe:
        return False
    if previous.python is not None and previous.python.engine != engine:
        return False
    if set(previous.layers) != set(intent.sections) or claimed != previous.digest():
        return False
    if {n: v.intent_sha256 for n, v in previous.variants.items()} != {
        n: v.intent.sha256 for n, v in intent.variants.items()
    }:
        return False
    return not any(domain.problems(previous, intent) for domain in domains.DOMAINS)
