"""The contract between the Python domain and its resolution engines (uv, pip-tools).

The domain turns an intent into an EngineRequest of plain values: requirements,
the target, the cutoff, and index URLs already pointed at whatever serves them
(the upstream or a stand-in). An engine therefore knows nothing of intents, locks
or where an index really lives; it answers with every package of the closure: its version, who
requires it, and the wheels its index lists for that version (the domain keeps
the one the target installs). Engines depend on this module and on nothing of
each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from imagelock.errors import ImagelockError
from imagelock.lock.model import Wheel


@dataclass
class EngineIndex:
    """An index as the engine is told about it: the name, the URL to use now, its packages."""

    name: str
    url: str
    packages: list[str]


@dataclass
class EngineRequest:
    """One resolution: what to resolve, for which target, as of when, from where."""

    requirements: list[str]
    python_version: str
    platform: str
    cutoff: str
    default_index: str | None  # None: the engine's own default (PyPI)
    indexes: list[EngineIndex] = field(default_factory=list)
    preferences: dict[str, str] = field(default_factory=dict)  # name -> version to keep when still allowed
    upgrade: bool = False
    upgrade_packages: list[str] = field(default_factory=list)
    lowest_direct: bool = False
    constraints: list[str] = field(default_factory=list)  # PEP 508 pins that bound versions, install nothing
    # Canonical names that may resolve to a source distribution; every other package must have a wheel.
    allow_sdist: list[str] = field(default_factory=list)
    # What the user wrote that these requirements come from, for messages (`[python] in locks/seed.toml`):
    # an engine's own name for the request (uv's synthetic project) never reaches the user.
    label: str = "the intent"


@dataclass
class ResolvedPackage:
    """A package of the closure; `dependents` holds "" for the request itself."""

    name: str
    version: str
    dependents: list[str]
    wheels: list[Wheel] = field(default_factory=list)  # as the index lists them; the lock keeps one


class ResolutionFailed(ImagelockError):
    """The engine found no solution; `message` is the engine's own explanation."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class SdistOnly(ImagelockError):
    """Packages the resolution needs that ship no wheel usable here: only a source distribution, which the
    request does not allow. Not a conflict: the intent may allow them by name (exit 2, the input must change)."""

    exit_code = 2

    def __init__(self, names: list[str]) -> None:
        self.names = names
        super().__init__(", ".join(names))


class Engine(Protocol):
    """What the Python domain asks of an engine."""

    # None when a request may pin packages to their own index (EngineRequest.indexes); else why not.
    cannot_pin_indexes: str | None

    def caveats(self, python_version: str, target: str) -> list[str]:
        """Why this engine's answer for that target may not be what the intent asked for (warnings)."""
        ...

    def resolve(self, request: EngineRequest, workdir: Path) -> dict[str, ResolvedPackage]:
        """Every package of the closure by canonical name, each with its wheels for the pinned version.

        Raises ResolutionFailed when the requirements cannot be satisfied, and
        UpstreamError when an index cannot be read. `workdir` is the engine's to use.
        """
        ...


def default_index_url() -> str | None:
    """The index the Python tooling uses when the intent names none (PyPI), for engines and
    checks that need it spelled out; None when pip, which names it, is not installed."""
    try:
        # pip is optional here and this is its internal module (~8 ms to import): it is
        # loaded only by the runs that need the URL spelled out, not by every update.
        from pip._internal.models.index import PyPI
    except ImportError:
        return None
    return str(PyPI.simple_url)
