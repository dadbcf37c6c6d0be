"""Every locked wheel accepts the image's Python version.

A wheel's file name carries the interpreter and ABI tags it was built for
(PEP 427 file names, PEP 425 tags; `abi3` per PEP 384 works on every CPython at
or above the tagged one). pip refuses a wheel whose tags the interpreter does
not accept, so a lock whose Python version changed under its wheels would fail
at install time. Platform tags are not judged here: the Python layer already
chose each wheel for the target platform.
"""

from __future__ import annotations

from collections.abc import Iterator

from packaging.tags import compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from imagelock.lock.model import Lock, PythonPackage
from imagelock.rules.report import Finding
from imagelock.rules.targets import Targets

SOURCE = "PEP 425 compatibility tags / PEP 427 wheel file names / PEP 384 abi3"


def accepted(python_version: str) -> set[tuple[str, str]]:
    """The (interpreter, abi) pairs a CPython of this minor version accepts."""
    major, minor = (int(x) for x in python_version.split("."))
    tags = list(cpython_tags((major, minor), platforms=["any"]))
    tags += list(compatible_tags((major, minor), f"cp{major}{minor}", platforms=["any"]))
    return {(t.interpreter, t.abi) for t in tags}


def check(lock: Lock, targets: Targets) -> Iterator[Finding]:
    if lock.python is None:
        return
    for env in lock.python.environments():
        yield from _env(env.version, env.packages)


def _env(version: str, packages: list[PythonPackage]) -> Iterator[Finding]:
    ok = accepted(version)
    for package in packages:
        try:
            _, _, _, tags = parse_wheel_filename(package.wheel.filename)
        except InvalidWheelFilename:
            continue
        if any((t.interpreter, t.abi) in ok for t in tags):
            continue
        built = sorted({f"{t.interpreter}-{t.abi}" for t in tags})
        yield Finding(
            "python-tags",
            f"{package.name} {package.version}",
            [
                f"the image's Python is {version} (accepts cp{version.replace('.', '')}, abi3, py3 wheels)",
                f"the locked wheel {package.wheel.filename} is built for {', '.join(built)}",
            ],
            fix=f"re-lock with `lock update --upgrade-package {package.name}` so a cp{version.replace('.', '')} "
            "wheel is chosen, or set python.version to the one the wheel is built for",
            source=SOURCE,
        )
