"""Saying what changed in a lock whose content no longer matches its digest: the layer, the entry, the field.

The digest covers the whole content. Beside it a lock keeps one digest per part (its head, each layer,
its mirror: `[layer-digests]`), outside what the digest covers, so a changed part can be named from the
lock alone. The entry and the field need the content as it was: when the lock is in a git repository,
the newest committed copy whose content still matches the digest this one claims is that content, and
the two are compared value by value. Without it the message names the part.

The digest proves integrity, not origin: whoever can write the lock can also recompute every digest in
it. A signature (`lock sign`) says who wrote it.
"""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path
from typing import Any

from imagelock.lock.tables import content_table, digest_table
from imagelock.untrusted import load_toml, read_text

PARTS = "layer-digests"  # the table of per-part digests, outside the content the digest covers
HEAD = "head"
GIT_DEPTH = 50  # commits of the lock's history searched for its intact copy


def part_digests(table: dict[str, Any], layers: list[str]) -> dict[str, str]:
    """The digest of each part of a lock's content table: its head, each layer, its mirror."""
    content = content_table(table)
    head = {k: v for k, v in content.items() if k not in layers and k != "mirror"}
    out = {HEAD: digest_table(head)}
    for name in [*layers, "mirror"]:
        if name in content:
            out[name] = digest_table(content[name])
    return out


def recorded_parts(path: str | Path) -> dict[str, str] | None:
    """The per-part digests a lock file records (None: none, or not a table of strings)."""
    parts = load_toml(read_text(path, "no such lock file"), path).get(PARTS)
    if isinstance(parts, dict) and all(isinstance(v, str) for v in parts.values()):
        return parts
    return None


def line(path: str | Path, table: dict[str, Any], layers: list[str], claimed: str, actual: str) -> str:
    """Why a lock's content does not match its digest, naming what changed where the lock can tell."""
    where = explain(path, table, recorded_parts(path), layers)
    return (
        f"the lock's content does not match its digest (recorded {claimed}, content {actual}): {where}; "
        "the digest proves the lock is intact, not who wrote it (`lock sign` does)"
    )


def explain(path: str | Path, table: dict[str, Any], recorded: dict[str, str] | None, layers: list[str]) -> str:
    """What changed, as one clause: `python: packages[3] (six).wheel.sha256 …`, or the parts that changed."""
    if recorded is None:
        return "the lock records no per-layer digests to say where (written before they were kept)"
    now = part_digests(table, layers)
    changed = sorted(name for name in now.keys() | recorded.keys() if now.get(name) != recorded.get(name))
    if not changed:
        return "the `digest` line itself was edited (every layer still matches its own digest)"
    original = _committed_original(Path(path), recorded)
    if original is not None:
        lines = _differences(original, content_table(table))
        if lines:
            shown = "; ".join(lines[:3]) + (f"; and {len(lines) - 3} more" if len(lines) > 3 else "")
            return f"changed since it was written: {shown}"
    parts = ", ".join("its head (name, universe, intent)" if p == HEAD else p for p in changed)
    return f"changed in {parts} (no intact copy of this lock in git to name the entry and field)"


def _committed_original(path: Path, recorded: dict[str, str]) -> dict[str, Any] | None:
    """The newest committed copy of this lock whose parts match the digests it claims, as a content table."""
    try:
        top = subprocess.run(
            ["git", "-C", str(path.parent), "rev-parse", "--show-toplevel"], capture_output=True, text=True, timeout=10
        )
        if top.returncode != 0:
            return None
        rel = path.resolve().relative_to(Path(top.stdout.strip()).resolve()).as_posix()
        log = subprocess.run(
            ["git", "-C", top.stdout.strip(), "log", f"-{GIT_DEPTH}", "--format=%H", "--", rel],
            capture_output=True,
            text=True,
            timeout=20,
        )
        for commit in log.stdout.split():
            shown = subprocess.run(
                ["git", "-C", top.stdout.strip(), "show", f"{commit}:{rel}"], capture_output=True, timeout=20
            )
            if shown.returncode != 0:
                continue
            try:
                old = tomllib.loads(shown.stdout.decode("utf-8"))
            except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
                continue
            stored = old.pop("layer-digests", None)
            old.pop("digest", None)
            if stored == recorded and part_digests(old, [k for k in stored if k not in (HEAD, "mirror")]) == recorded:
                return content_table(old)
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    return None


def _label(key: str, index: int, item: Any) -> str:
    if not isinstance(item, dict):
        return f"{key}[{index}]"
    name = item.get("name") or item.get("path") or item.get("dest") or item.get("repo")
    return f"{key}[{index}]" + (f" ({name})" if isinstance(name, str) else "")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _differences(old: Any, new: Any, key: str = "") -> list[str]:
    """Every value that differs, as `key: old -> new`, walking both tables in step."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(old.keys() | new.keys()):
            sub = f"{key}.{k}" if key else k
            if k not in new:
                out.append(f"{sub}: removed")
            elif k not in old:
                out.append(f"{sub}: added ({_short(new[k])})")
            else:
                out += _differences(old[k], new[k], sub)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            out += _differences(a, b, _label(key, i, b))
        return out
    if isinstance(old, list) and isinstance(new, list):
        return [f"{key}: {len(old)} entries -> {len(new)}"]
    return [] if old == new else [f"{key}: {_short(old)} -> {_short(new)}"]
