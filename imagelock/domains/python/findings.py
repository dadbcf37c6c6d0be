"""What the Python layer does not promise, for `lock check`: a pre-release interpreter.

Every wheel is pinned by sha256, so the layer itself is reproducible; what it
cannot vouch for is an interpreter the lock records as a pre-release
(`version = "3.14.0rc1"`; the intent names a minor version, so only a lock
that records the interpreter's full version can say so). The interpreter's own
package, when apt installs it, is judged by the apt layer's findings
(imagelock.domains.apt.findings), which name the venv that runs on it.
"""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

from imagelock.intent.document import Intent
from imagelock.lock.finding import PRERELEASE, Finding
from imagelock.lock.model import Lock


def findings(lock: Lock, intent: Intent) -> list[Finding]:
    """One finding per env whose interpreter is a pre-release."""
    if lock.python is None:
        return []
    out = []
    for env in lock.python.environments():
        try:
            version = Version(env.version)
        except InvalidVersion:
            continue
        if not version.is_prerelease:
            continue
        minor = ".".join(str(part) for part in version.release[:2])
        out.append(
            Finding(
                PRERELEASE,
                f"python interpreter {env.version}",
                f"the venv at {env.venv} is made with a pre-release of Python {minor}, not a final release",
                f"build the venv with a final release of Python {minor}, or name a minor version that has one",
            )
        )
    return out
