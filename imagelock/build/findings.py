"""What the generated build does not pin, for `lock check`: Packer plugins without an exact version.

`packer init` fetches every plugin the template's `required_plugins` declares,
at the newest release its version constraint allows: a constraint such as
`>= 1.2` or `~> 1.3` lets the same template build with another plugin next
month. Only one exact version (`= 1.3.3`, or a bare `1.3.3`, which Packer
reads as `=`) pins it. The template is rendered in memory from the lock, exactly
as `lock generate` writes it, and read back: what it declares is what is judged.
"""

from __future__ import annotations

import re
from pathlib import Path

from imagelock.build import generate
from imagelock.lock.finding import NOT_REPRODUCIBLE, Finding
from imagelock.lock.model import Lock

TEMPLATE = "image.pkr.hcl"
_BLOCK = re.compile(r"\brequired_plugins\s*\{")
_ENTRY = re.compile(r"([A-Za-z_][\w-]*)\s*=\s*\{([^{}]*)\}")
_EXACT = re.compile(r"^\s*=?\s*v?\d+(?:\.\d+){0,2}(?:-[0-9A-Za-z.]+)?\s*$")


def _attribute(body: str, name: str) -> str | None:
    match = re.search(rf"\b{name}\s*=\s*\"([^\"]*)\"", body)
    return match.group(1) if match else None


def _blocks(template: str) -> list[str]:
    """The body of every `required_plugins { ... }` block, comment lines left out."""
    text = "\n".join(line for line in template.splitlines() if not line.lstrip().startswith(("#", "//")))
    bodies = []
    for match in _BLOCK.finditer(text):
        depth, start = 1, match.end()
        for end in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            if depth == 0:
                bodies.append(text[start:end])
                break
    return bodies


def unpinned_plugins(template: str) -> list[Finding]:
    """One finding per plugin the template declares without exactly one version."""
    out = []
    for body in _blocks(template):
        for name, entry in _ENTRY.findall(body):
            version = _attribute(entry, "version")
            if version is not None and _EXACT.match(version):
                continue
            source = _attribute(entry, "source") or name
            said = f"version {version!r}" if version is not None else "no version"
            out.append(
                Finding(
                    NOT_REPRODUCIBLE,
                    f"packer plugin {name} ({source})",
                    f"{TEMPLATE} declares it with {said}, so `packer init` takes whichever release is newest that day",
                    'declare exactly one version (`version = "= X.Y.Z"`) in imagelock/build/packer.py',
                )
            )
    return out


def findings(lock: Lock, lock_path: str | Path) -> list[Finding]:
    """The Packer template this lock generates, judged.

    InputError when the lock generates no template (a value the generator refuses):
    then there is nothing to judge, and `lock generate` says why.
    """
    return unpinned_plugins(generate.render_template(lock, lock_path))
