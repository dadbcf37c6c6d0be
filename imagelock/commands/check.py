"""`lock check`: offline verdict on a lock, no resolution.

Fresh means: the lock parses, was made from this very intent (same hash), its
content matches its digest, every artifact it locks carries a sha256, and its
layers pass the cross-layer compatibility rules (imagelock.rules).

Beside that verdict it lists findings (imagelock.lock.finding): what the lock
does not pin or prove, each with its fix. Every domain offers its own through
the contract, and the generated build offers its Packer plugins. Findings never
make a lock stale; `lock check --strict` fails on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from imagelock import domains
from imagelock import rules as compat
from imagelock.build import findings as build_findings
from imagelock.errors import InputError
from imagelock.hashing import is_sha256
from imagelock.intent.document import Intent, default_lock_path
from imagelock.lock import tamper
from imagelock.lock.finding import NOT_VERIFIED, Finding
from imagelock.lock.model import Lock


@dataclass
class CheckResult:
    lock_path: Path
    digest: str
    image: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check(intent_path: str | Path, lock_path: str | Path | None = None) -> CheckResult:
    intent = domains.read_intent(intent_path)
    path = Path(lock_path) if lock_path else default_lock_path(intent_path)
    lock, claimed = domains.read_lock(path)
    with lock.frozen():  # check only reads the lock: its digest is computed once
        return _judge(intent, path, lock, claimed)


def _judge(intent: Intent, path: Path, lock: Lock, claimed: str) -> CheckResult:
    """The verdict on one lock against its intent: problems, findings and notes; then on each variant."""
    actual = lock.digest()
    result = CheckResult(lock_path=path, digest=actual, image=lock.image_name())
    if lock.intent_sha256 != intent.sha256:
        envs = _stale_envs(intent, lock)
        result.problems += envs or [
            f"stale: {intent.path} changed since the lock was written "
            f"(intent sha256 {intent.sha256[:12]}, lock made from {lock.intent_sha256[:12]}); "
            "run `lock update`"
        ]
    if claimed != actual:
        result.problems.append(f"tampered: {tamper.line(path, lock.to_table(), lock.parts(), claimed, actual)}")
    _image(intent, path, lock, result)
    _variants(intent, path, lock, result)
    return result


def _variants(intent: Intent, path: Path, lock: Lock, result: CheckResult) -> None:
    """Each variant judged as the image it builds (its view of the lock), its lines naming it."""
    for name in sorted(intent.variants.keys() - lock.variants.keys()):
        result.problems.append(
            f"stale: variant {name}: the intent has [variants.{name}], the lock does not; run `lock update`"
        )
    for name in sorted(lock.variants.keys() - intent.variants.keys()):
        result.problems.append(f"stale: variant {name}: the lock has it, the intent no longer does; run `lock update`")
    shared = {(f.kind, f.subject, f.what) for f in result.findings}
    for name in sorted(intent.variants.keys() & lock.variants.keys()):
        variant, view = intent.variants[name], domains.variant_lock(lock, name)
        if view.intent_sha256 != variant.intent.sha256:
            envs = _stale_envs(variant.intent, view)  # a Python env it takes changed: name the env
            if envs:
                result.problems += [f"stale: variant {name}: {line.removeprefix('stale: ')}" for line in envs]
                continue
            result.problems.append(
                f"stale: variant {name}: what [variants.{name}] makes of {intent.path} changed since the lock was "
                f"written (its intent sha256 {variant.intent.sha256[:12]}, lock made from {view.intent_sha256[:12]}); "
                "run `lock update`"
            )
            continue  # the rest would only repeat it layer by layer
        with view.frozen():
            own = CheckResult(lock_path=path, digest=view.digest(), image=view.image_name())
            _image(variant.intent, path, view, own)
        result.problems += [f"variant {name}: {p}" for p in own.problems]
        result.notes += [f"variant {name}: {n}" for n in own.notes if n not in result.notes]
        result.findings += [
            Finding(f.kind, f"variant {name}: {f.subject}", f.what, f.fix)
            for f in own.findings
            if (f.kind, f.subject, f.what) not in shared
        ]


def _image(intent: Intent, path: Path, lock: Lock, result: CheckResult) -> None:
    """What makes one image's lock fresh for its intent, besides its hash: layers, hashes, rules, findings."""
    if lock.name != intent.name:
        result.problems.append(f"stale: the lock is named {lock.name!r}, the intent {intent.name!r}")
    for domain in domains.DOMAINS:
        wanted = domain.name in intent.sections
        present = bool(lock.layers.get(domain.name))
        if wanted and not present:
            result.problems.append(f"stale: the intent has [{domain.name}] but the lock has no {domain.name} layer")
        if present and not wanted:
            result.problems.append(f"stale: the lock has a {domain.name} layer the intent no longer asks for")
    unhashed: dict[str, list[str]] = {}
    for artifact in domains.artifacts(lock):
        if artifact.unhashed:  # held without a hash on purpose: the build measures it
            unhashed.setdefault(artifact.kind, []).append(artifact.name)
        elif not is_sha256(artifact.sha256):
            result.problems.append(f"unhashed: {artifact.what} has no valid sha256")
    result.findings += [_unhashed(kind, names) for kind, names in unhashed.items()]
    for domain in domains.DOMAINS:
        result.problems.extend(domain.problems(lock, intent))
    report = compat.evaluate(lock, compat.targets.from_intent(intent))
    result.problems += [f"incompatible: {finding.one_line()}" for finding in report.violations]
    result.notes += [f"not checked: {finding.one_line()}" for finding in report.unchecked]
    for domain in domains.DOMAINS:
        result.findings.extend(domain.findings(lock, intent))
        result.notes.extend(domain.notes(lock, intent))
    try:
        result.findings.extend(build_findings.findings(lock, path))
    except InputError:
        pass  # no template to judge: `lock generate` and `lock check --generated` refuse this lock and say why


def _stale_envs(intent: Intent, lock: Lock) -> list[str]:
    """One line per Python env whose part of the intent changed since the lock was written (each env of
    `[python.envs]` records the sha256 of what it asked for); empty when none did, or the intent has no envs."""
    wanted = intent.python.envs if intent.python else []
    if not wanted or lock.python is None or not lock.python.envs:
        return []
    locked = {env.name: env.intent_sha256 for env in lock.python.envs}
    out = []
    for env in wanted:
        name = env.name or ""
        if name not in locked:
            out.append(
                f"stale: {intent.path} asks for python env {name!r}, which the lock does not hold; "
                f"run `lock update --only python.{name}`"
            )
        elif locked[name] != env.sha256:
            out.append(
                f"stale: python env {name!r} changed in {intent.path} since the lock was written "
                f"(env sha256 {(env.sha256 or '')[:12]}, lock made from {(locked[name] or '')[:12]}); "
                f"run `lock update --only python.{name}`"
            )
    for name in sorted(locked.keys() - {env.name for env in wanted}):
        out.append(
            f"stale: the lock holds python env {name!r}, which {intent.path} no longer asks for; "
            "run `lock update --only python`"
        )
    return out


def _unhashed(kind: str, names: list[str]) -> Finding:
    """Files the lock holds without a hash: the build can fetch them, but nothing proves what it gets."""
    shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    noun = "file" if kind == "file" else f"{kind} file"  # a [[files]] entry is a "file", not a "file file"
    return Finding(
        NOT_VERIFIED,
        f"{noun}s without a hash",
        f"{len(names)} {noun}{'s' if len(names) != 1 else ''} ({shown}): the upstream could not give "
        "their hash when the lock was written, so the build fetches them unverified and measures them",
        "build once, then `lock update --learn measured.json` with the build's /var/lib/imagelock/measured.json "
        "(IMAGELOCK_REQUIRE_HASHES=1 makes a build refuse them)",
    )
