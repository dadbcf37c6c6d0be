"""What the Python layer does not promise, for `lock check`: a pre-release interpreter, and a package built on the
image from an sdist the intent allows (its inputs are pinned, its output is not).

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
from imagelock.lock.finding import NOT_REPRODUCIBLE, PRERELEASE, Finding
from imagelock.lock.model import Lock


def findings(lock: Lock, intent: Intent) -> list[Finding]:
    """One finding per env whose interpreter is a pre-release, and one per sdist the bootstrap builds."""
    if lock.python is None:
        return []
    out = []
    for env in lock.python.environments():
        for package in env.packages:
            if package.is_sdist:
                out.append(
                    Finding(
                        NOT_REPRODUCIBLE,
                        f"python package {package.name} {package.version}",
                        f"built on the image from its sdist ({package.wheel.filename}), sha256-pinned like its build "
                        "packages; the wheel it builds is not pinned by content (a build may differ byte for byte)",
                        "lock a wheel of it if one is published (drop it from allow-sdist), or build the wheel once, "
                        "publish it on an index you control and pin the package to that index",
                    )
                )
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
