"""`lock update`: resolve every domain the intent names and write the lock atomically.

Each domain is a module with `resolve(ctx) -> section`, registered in RESOLVERS
under the name of its intent section, which is also the name of its lock field.
A domain left out by `--only` keeps what the previous lock recorded for it.
The resolved lock then passes the cross-layer compatibility rules (or nothing
is written) and gets its image version: the previous one, bumped by what moved.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagelock.intent import document as intent_mod
from imagelock.lock import model as lockfile
from imagelock.errors import AnswerIsNo, InputError, did_you_mean
from imagelock.lock.version import next_version
from imagelock.lock.model import Lock, Universe, instant
from imagelock.replay.server import ReplayServer, Snapshot
from imagelock.domains.base import layer as base_image
from imagelock import rules as compat
from imagelock.domains.models import layer as models
from imagelock.domains.nvidia import layer as nvidia
from imagelock.domains.python import layer as python_layer
from imagelock.domains.apt import layer as apt_layer
from imagelock.domains.context import UpdateContext

RESOLVERS: dict[str, Callable[[UpdateContext], Any]] = {
    "python": python_layer.resolve,
    "apt": apt_layer.resolve,
    "kernel": apt_layer.resolve_kernel,
    "nvidia": nvidia.resolve,
    "models": models.resolve,
    "base": base_image.resolve,
}


@dataclass
class UpdateResult:
    lock: Lock
    text: str
    path: Path
    changed: bool
    written: bool
    previous: Lock | None = None
    report: compat.Report | None = None


def now_cutoff() -> str:
    return instant(dt.datetime.now(dt.timezone.utc))


def _cutoff(intent: intent_mod.Intent, previous: Lock | None, moving: bool, asked: str | None = None) -> Universe:
    """The intent's cutoff; else `--cutoff`; else the one the lock recorded at its first update; else now."""
    if intent.cutoff:
        if asked is not None:
            raise InputError(intent.path, "universe.cutoff", f"the intent pins the cutoff ({intent.cutoff}); "
                             "move it there instead of with --cutoff")
        return Universe(cutoff=intent.cutoff, source="intent")
    if asked is not None:
        return Universe(cutoff=intent_mod.parse_cutoff(asked, "lock update", "--cutoff"), source="update-time")
    if previous is not None and previous.universe.source == "update-time" and not moving:
        return previous.universe
    return Universe(cutoff=now_cutoff(), source="update-time")


def _violations(report: compat.Report) -> str:
    count = len(report.violations)
    return f"{count} cross-layer violation{'s' if count != 1 else ''}"


def _combined(intent: intent_mod.Intent, lock: Lock, targets: compat.Targets,
              refused: list[AnswerIsNo]) -> AnswerIsNo:
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


def update(intent_path: str | Path, lock_path: str | Path | None = None, *, only: list[str] | None = None,
           upgrade: bool = False, upgrade_packages: list[str] | None = None, refresh: list[str] | None = None,
           dry_run: bool = False, engine: str = "uv",
           replay: str | Path | ReplayServer | None = None, cutoff: str | None = None) -> UpdateResult:
    intent = intent_mod.read(intent_path)
    path = Path(lock_path) if lock_path else intent_mod.default_lock_path(intent_path)
    previous = lockfile.read(path)[0] if path.exists() else None
    for name in only or []:
        if name not in RESOLVERS:
            raise InputError(None, "--only", f"unknown domain {name!r}{did_you_mean(name, RESOLVERS)}; "
                             f"expected one of: {', '.join(RESOLVERS)}")
    for name in intent.raw:
        if name in ("name", "universe"):
            continue
        if name not in RESOLVERS:
            raise InputError(intent.path, name, "this domain is not supported by this version of imagelock")
    universe = _cutoff(intent, previous, moving=upgrade or bool(upgrade_packages), asked=cutoff)
    targets = compat.targets.from_intent(intent)
    compat.check_targets(targets)  # a mistyped instance type fails before minutes of resolution
    lock = Lock(name=intent.name, intent_sha256=intent.sha256, universe=universe)
    # Where `lock mirror` put the artifacts stays recorded; artifacts new in this update
    # are not there until `lock mirror` runs again (it uploads only what is missing).
    lock.mirror = previous.mirror if previous else None

    server = replay if isinstance(replay, ReplayServer) or replay is None else ReplayServer(Snapshot.open(replay))
    with contextlib.ExitStack() as stack:
        workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="imagelock-"))
        if server:
            stack.enter_context(server)
        ctx = UpdateContext(intent=intent, previous=previous, cutoff=universe.cutoff, upgrade=upgrade,
                            upgrade_packages=list(upgrade_packages or []), refresh=list(refresh or []),
                            engine=engine, replay=server, workdir=Path(workdir))
        refused: list[AnswerIsNo] = []
        for name, resolve in RESOLVERS.items():
            if intent.section(name) is None:
                continue
            if only and name not in only:
                setattr(lock, name, getattr(previous, name) if previous else None)
                continue
            try:
                setattr(lock, name, resolve(ctx))
            except AnswerIsNo as answer:  # keep going: every layer's "no" goes into one report
                refused.append(answer)

    if refused:
        raise _combined(intent, lock, targets, refused)
    report = compat.evaluate(lock, targets)
    if report.violations:
        raise AnswerIsNo(f"{intent.path}: {_violations(report)}; nothing was written", report.lines())
    lock.version = next_version(previous, lock)
    text = lockfile.dumps(lock)
    old = path.read_text(encoding="utf-8") if path.exists() else None
    changed = old != text
    written = False
    if not dry_run:
        written = lockfile.write_atomic(path, text)
    return UpdateResult(lock=lock, text=text, path=path, changed=changed, written=written, previous=previous,
                        report=report)
