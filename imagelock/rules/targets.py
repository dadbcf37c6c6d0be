"""What the intent says about where the image will run, beyond what the lock pins.

The GPU rule needs the instance types the image is built for; they live in the
intent's `[base]` table (`instance-types = ["g5.xlarge", "g6.2xlarge"]`), whose
other keys belong to the base-image domain. Only this key is read here, strictly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from imagelock.intent.base import parse_instance_types
from imagelock.intent.document import Intent


@dataclass
class Targets:
    instance_types: list[str] = field(default_factory=list)
    path: Path | None = None  # the intent they were read from, for error messages


def family(instance_type: str) -> str:
    """`g5.xlarge` -> `g5`."""
    return instance_type.split(".", 1)[0]


def from_intent(intent: Intent | None) -> Targets:
    if intent is None:
        return Targets()
    base = intent.section("base")
    if not isinstance(base, dict) or "instance-types" not in base:
        return Targets()
    return Targets(instance_types=parse_instance_types(base["instance-types"], intent.path), path=intent.path)
