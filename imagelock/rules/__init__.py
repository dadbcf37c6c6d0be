"""Cross-layer compatibility: rules over the whole lock, all violations reported together.

Each module is one rule family with its fact table and the source of those
facts; each exposes `check(lock, targets) -> Iterator[Finding]` and skips the
layers a lock does not have. `lock update` refuses to write a lock with
violations and `lock check` reports them, both through `evaluate`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

from imagelock.intent.document import Intent
from imagelock.lock.model import Lock, Universe
from imagelock.rules import (
    architectures,
    base_image,
    driver,
    gpu,
    kernel,
    pinned_requires,
    pins,
    targets,
    torch_family,
    wheel_tags,
)
from imagelock.rules.report import Finding, Report
from imagelock.rules.targets import Targets

Rule = Callable[[Lock, Targets], Iterator[Finding]]

RULES: tuple[Rule, ...] = (
    driver.check,
    torch_family.check,
    gpu.check,
    architectures.check,
    kernel.check,
    wheel_tags.check,
    base_image.check,
)


def check_targets(targets: Targets) -> None:
    """Refuse (InputError) instance types whose GPU is not recorded, before any rule runs."""
    for instance_type in targets.instance_types:
        gpu.gpu_of(instance_type, targets)


def evaluate(lock: Lock, targets: Targets) -> Report:
    """Every rule over the lock; nothing stops at the first violation.

    A lock with several Python envs is judged env by env (each with the rest of the lock), and what only an
    env's view finds is named after it: torch in `train` and vllm in `serve` never meet in one venv."""
    report = Report()
    python = lock.python
    if python is None or not python.envs:
        for rule in RULES:
            report.findings.extend(rule(lock, targets))
        return report
    rest = dataclasses.replace(lock, layers={k: v for k, v in lock.layers.items() if k != "python"})
    for rule in RULES:
        report.findings.extend(rule(rest, targets))
    seen = {(f.rule, f.subject, tuple(f.facts)) for f in report.findings}
    for env in python.envs:
        view = dataclasses.replace(lock, layers={**lock.layers, "python": python.single(env)})
        for rule in RULES:
            for finding in rule(view, targets):
                if (finding.rule, finding.subject, tuple(finding.facts)) not in seen:
                    report.findings.append(dataclasses.replace(finding, subject=f"{finding.subject} (env {env.name})"))
    return report


def without_index(intent: Intent, lock: Lock | None = None) -> Report:
    """What needs no index: the rules over what did resolve (`lock`; none at `lock init`) with the intent's
    exact pins standing in for a Python layer that did not (pins.py), and the exact pins the asked releases
    publish in their own metadata (pinned_requires.py)."""
    lock = lock or Lock(name=intent.name, intent_sha256=intent.sha256, universe=Universe("", "intent"))
    if lock.python is None and intent.python is not None:
        lock = dataclasses.replace(lock, layers={**lock.layers, "python": pins.pinned_layer(intent.python)})
    report = evaluate(lock, targets.from_intent(intent))
    if intent.python is not None:
        report.findings += pinned_requires.check(intent.python)
    return report


__all__ = [
    "Finding",
    "Report",
    "Targets",
    "RULES",
    "check_targets",
    "evaluate",
    "pinned_requires",
    "pins",
    "targets",
    "without_index",
]
