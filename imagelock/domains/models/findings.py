"""What the models layer does not pin, for `lock check`: files the intent asks for without a hash.

The intent names files by pattern (`files = ["*.json", "model.safetensors"]`);
the lock pins each file it found at the commit by sha256. A pattern that no
hashed file in the lock matches, or a model the lock holds nothing of, is a file
the build cannot verify: the image would bake whatever the Hub serves, or miss it.
"""

from __future__ import annotations

import fnmatch

from imagelock.hashing import is_sha256
from imagelock.intent.document import Intent
from imagelock.intent.models import ModelIntent
from imagelock.lock.finding import NOT_VERIFIED, Finding
from imagelock.lock.model import Lock, Model

FIX = (
    "run `lock update --refresh models` where the Hub (or a recording of these files) answers, so the lock "
    "records each file's sha256"
)


def _unpinned(model: ModelIntent, locked: Model | None) -> list[str]:
    """The intent's patterns that no file the lock pins by sha256 matches."""
    hashed = [item.path for item in locked.files if is_sha256(item.sha256)] if locked else []
    return [pattern for pattern in model.files if not any(fnmatch.fnmatchcase(p, pattern) for p in hashed)]


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
                f"the intent asks for {', '.join(missing)} in {model.dest}, and the lock pins no file matching "
                f"{'it' if len(missing) == 1 else 'them'} by sha256{at}"
            )
        out.append(Finding(NOT_VERIFIED, f"models {model.repo}", what, FIX))
    return out
