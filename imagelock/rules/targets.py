"""What the intent says about where the image will run, beyond what the lock pins.

The GPU rule needs the instance types the image is built for; they live in the
intent's `[base]` table (`instance-types = ["g5.xlarge", "g6.2xlarge"]`), whose
other keys belong to the base-image domain. Only this key is read here, strictly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from imagelock.errors import InputError
from imagelock.intent.document import Intent

_INSTANCE = re.compile(r"^([a-z][a-z0-9-]*)\.([a-z0-9]+)$")


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
    value = base["instance-types"]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(intent.path, "base.instance-types", "expected an array of EC2 instance types "
                         "such as [\"g5.xlarge\"]")
    for i, name in enumerate(value):
        if not _INSTANCE.match(name):
            raise InputError(intent.path, f"base.instance-types[{i}]", f"expected an EC2 instance type such as "
                             f"\"g5.xlarge\", found {name!r}")
    return Targets(instance_types=list(value), path=intent.path)
