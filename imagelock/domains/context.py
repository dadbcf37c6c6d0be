"""What every domain resolver is handed: the intent, the previous lock, the options, the upstreams."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imagelock.intent.document import Intent
from imagelock.lock.model import Lock
from imagelock.net.upstreams import LIVE, Upstreams


@dataclass
class UpdateContext:
    """One `lock update` run, as each domain's `resolve(ctx)` sees it."""

    intent: Intent
    previous: Lock | None
    cutoff: str
    upgrade: bool = False
    upgrade_packages: list[str] = field(default_factory=list)
    refresh: list[str] = field(default_factory=list)
    engine: str = "uv"
    # `lock update --only python.<name>`: the Python envs to resolve; the others keep their locked pins.
    python_envs: list[str] = field(default_factory=list)
    # Where every request goes: the real upstreams, or recorded stand-ins for them.
    upstreams: Upstreams = LIVE
    workdir: Path | None = None
    # Shared between the domains of one run (the apt and kernel layers load one archive).
    cache: dict[str, Any] = field(default_factory=dict)
