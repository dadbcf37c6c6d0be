"""What the models layer does not pin, for `lock check`: files the intent asks for that the lock lacks.

The intent names files by pattern (`files = ["*.json", "model.safetensors"]`);
the lock holds each file it found at the commit. A pattern that no file in the
lock matches, or a model the lock holds nothing of, is a file the image will not
have. (Files the lock holds without a hash are `lock check`'s generic finding.)
"""

from __future__ import annotations

import fnmatch

from imagelock.intent.document import Intent
from imagelock.intent.models import ModelIntent
from imagelock.lock.finding import NOT_VERIFIED, Finding
from imagelock.lock.model import Lock, Model

FIX = (
    "run `lock update --refresh models` where the Hub (or a recording of these files) answers, so the lock "
    "records each file's sha256"
)


def _unpinned(model: ModelIntent, locked: Model | None) -> list[str]:
    """The intent's patterns that no file the lock holds matches."""
    held = [item.path for item in locked.files] if locked else []
    return [pattern for pattern in model.files if not any(fnmatch.fnmatchcase(p, pattern) for p in held)]


def findings(lock: Lock, intent: Intent) -> list[Finding]:
    wanted: list[ModelIntent] = intent.sections.get("models") or []
    locked = {(model.repo, model.dest): model for model in lock.models}
    out = []
    for model in wanted:
        entry = locked.get((model.repo, model.dest))
        missing = _unpinned(model, entry)
        if not missing:
            continue
        if entry is None:
            what = f"the intent asks for {', '.join(model.files)} in {model.dest}, and the lock pins none of its files"
        else:
            at = f" at {entry.commit[:12]}" if entry.commit else ""
            what = (
                f"the intent asks for {', '.join(missing)} in {model.dest}, and the lock holds no file matching "
                f"{'it' if len(missing) == 1 else 'them'}{at}"
            )
        out.append(Finding(NOT_VERIFIED, f"models {model.repo}", what, FIX))
    return out
