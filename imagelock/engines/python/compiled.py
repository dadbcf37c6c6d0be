"""What `uv pip compile` and `pip-compile` write: pins annotated with who requires them, and reports.

Both tools print the pip-tools requirements format (`name==version  # via a, b`
with `--annotation-style line`), so one reader serves both engines.
"""

from __future__ import annotations

import re

from packaging.utils import canonicalize_name

from imagelock.engines.python.contract import ResolvedPackage

_VIA = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>\S+)(?:\s+#\s+via\s+(?P<via>.*))?$")


def parse_requirements(text: str, root: str) -> dict[str, ResolvedPackage]:
    """`name==version  # via a, b` lines -> packages with their dependents.

    `root` is how the tool names the request itself in `# via` (uv: the synthetic
    project; pip-compile: `-r <file>`); it becomes the dependent "".
    """
    packages: dict[str, ResolvedPackage] = {}
    for line in text.splitlines():
        match = _VIA.match(line.strip())
        if not match:
            continue
        via = [v.strip() for v in (match["via"] or "").split(",") if v.strip()]
        dependents = []
        for item in via:
            head = item.split(" ", 1)[0]
            dependents.append("" if head == root else canonicalize_name(head))
        name = canonicalize_name(match["name"])
        packages[name] = ResolvedPackage(name=name, version=match["version"], dependents=dependents)
    return packages


def clean_report(text: str) -> str:
    """A tool's error report without uv's box-drawing decoration and without hints."""
    lines = []
    for line in text.splitlines():
        stripped = line.strip().lstrip("×╰─▶│ ").strip()
        if not stripped or stripped.startswith(("hint:", "help:")):
            continue
        lines.append(stripped)
    return "\n".join(lines)
