"""`lock diff OLD NEW`: what moved between two locks, layer by layer.

A reviewer of a refreshed lock needs three things: which packages, files and
images changed (old -> new), how big the artifacts are that the image build
will now download, and whether the image itself changed (its digest, so its
name). Every layer is flattened to items keyed by identity (a package name, a
model file path, a region) and compared; an item whose version or sha256
differs is "changed".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from imagelock.lock.model import Lock

UNIVERSE = "universe"

# An artifact at least this big is called out in the summary: it dominates build time.
LARGE = 100 * 1024 * 1024


@dataclass(frozen=True)
class Item:
    """One thing a layer pins: what it is called, its version, the hash and size of its artifact."""

    key: str
    version: str
    sha256: str | None = None
    size: int | None = None
    requested: bool = False
    # In a layer whose change is a new image generation (`moves_major`): this item moving alone is a new
    # release of the same generation (a newer AMI of the same name pattern), a minor move.
    release: bool = False


class Layered(Protocol):
    """What diff needs of a domain (imagelock.domains.contract.Domain is one)."""

    @property
    def name(self) -> str: ...
    @property
    def image_order(self) -> int: ...
    @property
    def moves_major(self) -> bool: ...
    def items(self, layer: Any) -> Iterable[Item]: ...


@dataclass
class Change:
    layer: str
    kind: str  # "added", "removed" or "changed"
    key: str
    old: str | None = None
    new: str | None = None
    old_size: int | None = None
    new_size: int | None = None
    requested: bool = False  # the intent asked for it by name
    release: bool = False  # a new release within the layer's generation (Item.release)

    @property
    def hash_only(self) -> bool:
        """Same version, different bytes: a rebuilt artifact rather than a move."""
        return self.kind == "changed" and self.old == self.new


@dataclass
class LockDiff:
    old_image: str
    new_image: str
    old_digest: str
    new_digest: str
    old_version: str | None
    new_version: str | None
    changes: list[Change] = field(default_factory=list)
    # The layers in report order, from the bottom of the image to the top (the universe first).
    layers: list[str] = field(default_factory=list)
    # Layers whose change makes a new image generation (the version's major).
    major: frozenset[str] = frozenset()

    @property
    def differ(self) -> bool:
        return self.old_digest != self.new_digest or self.old_version != self.new_version

    def layer(self, name: str) -> list[Change]:
        return [c for c in self.changes if c.layer == name]

    def to_json(self) -> dict[str, Any]:
        return {
            "differ": self.differ,
            "image": {"old": self.old_image, "new": self.new_image},
            "digest": {"old": self.old_digest, "new": self.new_digest},
            "version": {"old": self.old_version, "new": self.new_version},
            "layers": {name: [asdict(c) for c in self.layer(name)] for name in self.layers if self.layer(name)},
        }


# --- flattening each layer to items ------------------------------------------------


def _items(lock: Lock | None, domain: Layered | None) -> Iterator[Item]:
    if lock is None:
        return
    if domain is None:
        yield Item("cutoff", lock.universe.cutoff)
    elif lock.layers.get(domain.name):
        yield from domain.items(lock.layers[domain.name])


def _compare(domain: Layered | None, old: Lock | None, new: Lock) -> list[Change]:
    layer = domain.name if domain else UNIVERSE
    before = {item.key: item for item in _items(old, domain)}
    after = {item.key: item for item in _items(new, domain)}
    changes = []
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key), after.get(key)
        if a is None and b is not None:
            changes.append(
                Change(layer, "added", key, new=b.version, new_size=b.size, requested=b.requested, release=b.release)
            )
        elif b is None and a is not None:
            changes.append(
                Change(layer, "removed", key, old=a.version, old_size=a.size, requested=a.requested, release=a.release)
            )
        elif a is not None and b is not None and (a.version != b.version or a.sha256 != b.sha256):
            changes.append(
                Change(
                    layer,
                    "changed",
                    key,
                    a.version,
                    b.version,
                    a.size,
                    b.size,
                    a.requested or b.requested,
                    a.release and b.release,
                )
            )
    # What the intent asked for first, then moves, additions, removals: the order a reviewer reads in.
    order = {"changed": 0, "added": 1, "removed": 2}
    return sorted(changes, key=lambda c: (not c.requested, order[c.kind], c.key))


def diff(old: Lock | None, new: Lock, domains: Sequence[Layered]) -> LockDiff:
    """Every difference between two locks; `old` None means everything in `new` is added."""
    ordered = sorted(domains, key=lambda d: d.image_order)
    result = LockDiff(
        old_image=old.image_name() if old else "(none)",
        new_image=new.image_name(),
        old_digest=old.digest() if old else "",
        new_digest=new.digest(),
        old_version=old.version if old else None,
        new_version=new.version,
        layers=[UNIVERSE, *(d.name for d in ordered)],
        major=frozenset(d.name for d in ordered if d.moves_major),
    )
    for domain in [None, *ordered]:
        result.changes += _compare(domain, old, new)
    return result


# --- rendering ----------------------------------------------------------------------


def human_size(size: int | None) -> str:
    if size is None:
        return "size unknown"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _sizes(change: Change, arrow: str = "->") -> str:
    if change.kind == "added":
        return human_size(change.new_size)
    if change.kind == "removed":
        return human_size(change.old_size)
    if change.old_size == change.new_size:
        return human_size(change.new_size)
    return f"{human_size(change.old_size)} {arrow} {human_size(change.new_size)}"


def _what(change: Change, arrow: str = "->") -> str:
    if change.kind == "added":
        return f"{change.new}"
    if change.kind == "removed":
        return f"{change.old}"
    if change.hash_only:
        return f"{change.new} (same version, new sha256)"
    return f"{change.old} {arrow} {change.new}"


def _counts(changes: list[Change]) -> str:
    parts = []
    for kind in ("changed", "added", "removed"):
        n = sum(1 for c in changes if c.kind == kind)
        if n:
            parts.append(f"{n} {kind}")
    return ", ".join(parts)


def _download(changes: list[Change]) -> int:
    """Bytes of new artifacts this change makes the image build fetch (known sizes only)."""
    return sum(c.new_size or 0 for c in changes if c.kind in ("added", "changed"))


def _header(d: LockDiff) -> str:
    image = d.new_image if d.old_image == d.new_image else f"{d.old_image} -> {d.new_image}"
    line = f"image {image}"
    if d.old_version != d.new_version:
        line += f" (version {d.old_version or 'none'} -> {d.new_version or 'none'})"
    elif d.new_version:
        line += f" (version {d.new_version})"
    return line


def render_text(d: LockDiff) -> str:
    if not d.differ:
        return f"no differences (image {d.new_image})"
    lines = [_header(d)]
    marks = {"added": "+", "removed": "-", "changed": "~"}
    for layer in d.layers:
        changes = d.layer(layer)
        if not changes:
            continue
        lines.append(f"{layer}: {_counts(changes)}")
        for c in changes:
            size = _sizes(c) if (c.old_size or c.new_size) else ""
            large = " [large]" if max(c.old_size or 0, c.new_size or 0) >= LARGE else ""
            lines.append(f"  {marks[c.kind]} {c.key} {_what(c)}" + (f" ({size}){large}" if size else ""))
    return "\n".join(lines)


def render_summary(d: LockDiff) -> str:
    """One line per layer: what `lock update` prints after writing."""
    if not d.differ:
        return "no changes"
    parts = [_header(d)]
    for layer in d.layers:
        changes = d.layer(layer)
        if changes:
            moved = ", ".join(f"{c.key} {_what(c)}" for c in changes[:3] if c.kind == "changed")
            more = f"; {moved}" if moved else ""
            parts.append(f"  {layer}: {_counts(changes)}{more}" + (" ..." if len(changes) > 3 and moved else ""))
    return "\n".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(d: LockDiff) -> str:
    """A pull-request body: what changed per layer, artifact sizes, the image it now builds."""
    if not d.differ:
        return f"No differences: the lock still builds `{d.new_image}`.\n"
    out = ["## Lock refresh", ""]
    out.append(f"- Image: `{d.old_image}` → `{d.new_image}`")
    if d.old_version != d.new_version:
        out.append(f"- Version: {d.old_version or 'none'} → **{d.new_version or 'none'}**{_why_bump(d)}")
    out.append(f"- Digest: `{d.old_digest[:12] or 'none'}` → `{d.new_digest[:12]}`")
    download = _download(d.changes)
    if download:
        out.append(f"- New artifacts to download (known sizes): {human_size(download)}")
    asked = [c for c in d.changes if c.requested]
    if asked:
        out += ["", "What the intent asks for:", ""]
        out += [f"- {c.layer} `{c.key}`: {_what(c, '→')}" for c in asked]
    out.append("")
    out.append("| layer | changes |")
    out.append("| --- | --- |")
    for layer in d.layers:
        if d.layer(layer):
            out.append(f"| {layer} | {_counts(d.layer(layer))} |")
    for layer in d.layers:
        changes = d.layer(layer)
        if not changes:
            continue
        out += ["", f"### {layer}", "", "| | name | old | new | size |", "| --- | --- | --- | --- | --- |"]
        for c in changes:
            mark = "rebuilt" if c.hash_only else c.kind
            size = _sizes(c, "→") if (c.old_size or c.new_size) else ""
            if max(c.old_size or 0, c.new_size or 0) >= LARGE:
                size = f"**{size}**"
            name = f"**`{_cell(c.key)}`**" if c.requested else f"`{_cell(c.key)}`"
            out.append(f"| {mark} | {name} | {_cell(c.old or '')} | {_cell(c.new or '')} | {size} |")
    out += [
        "",
        "Sizes in **bold** are artifacts of 100 MiB or more; an empty size is one the index does not "
        "publish (PyTorch's). Rendered by `lock diff OLD NEW --format markdown`.",
        "",
    ]
    return "\n".join(out)


def _why_bump(d: LockDiff) -> str:
    """Why the version moved as it did (imagelock.lock.version), for the reviewer of a refresh."""
    old, new = (v.split(".") if v else [] for v in (d.old_version, d.new_version))
    if len(old) != 3 or len(new) != 3:
        return ""
    moved = [c for c in d.changes if c.layer != UNIVERSE and not c.hash_only]
    if old[0] != new[0]:
        generation = [f"{c.layer} `{c.key}`" for c in moved if c.layer in d.major and not c.release]
        what = f"a new generation ({', '.join(generation)})" if generation else "another CUDA major"
        return f" (major: {what})"
    if old[1] != new[1]:
        releases = [f"`{c.key}`" for c in moved if c.layer in d.major]
        others = [c for c in moved if c.layer not in d.major]
        layers = ", ".join(dict.fromkeys(c.layer for c in others))
        parts = [f"a newer release of the same base image ({', '.join(releases)})"] if releases else []
        parts += [f"{layers} moved ({len(others)} item{'s' if len(others) != 1 else ''})"] if others else []
        return f" (minor: {'; '.join(parts)})" if parts else " (minor)"
    return " (patch: the content changed, no package moved)"


def render(d: LockDiff, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(d.to_json(), indent=2, sort_keys=True)
    if fmt == "markdown":
        return render_markdown(d)
    return render_text(d)
