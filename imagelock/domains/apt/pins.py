"""apt preferences for a layer with several repositories (apt_preferences(5)).

apt picks a name's candidate by pin priority first, version second. The lock serves every name
from one repository (layer.partition), so the image's apt must agree: each repository's suites get
its priority, and each assigned name the priority ASSIGNED on its repository's suites, above any
repository's own (intent.apt.PRIORITY_RANGE), so apt's candidate is the locked repository's.

A suite is pinned by the fields of its signed Release (`Pin: release o=…,l=…,a=…,n=…`), which is
all apt can pin a repository by (no URL); a value that would not survive the preferences syntax
(a comma, a quote) is left out of the pin, and two repositories apt cannot tell apart are refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from imagelock.lock.model import AptLayer, AptSource

ASSIGNED = 990  # an assignment's pin priority: apt's "target release", which wins over every repository's
DEFAULT = 500  # apt's priority for a repository it has no pin for (the main archive)
VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._:~+/()-]*$")
FIELDS = (("o", "origin"), ("l", "label"), ("a", "release_suite"), ("n", "codename"))


def fields(source: AptSource) -> tuple[tuple[str, str], ...]:
    """The (key, value) pairs a suite is pinned by: the Release fields safe to write."""
    out = []
    for key, name in FIELDS:
        value = getattr(source, name)
        if isinstance(value, str) and VALUE.match(value) and not value.endswith(" "):
            out.append((key, value))
    return tuple(out)


def release_pin(source: AptSource) -> str:
    return "release " + ",".join(f"{k}={v}" for k, v in fields(source))


def _matches(pin: tuple[tuple[str, str], ...], source: AptSource) -> bool:
    """Whether apt would apply a pin of these fields to this suite (every field the pin names agrees)."""
    theirs = dict(fields(source))
    return all(theirs.get(k) == v for k, v in pin)


def repositories(layer: AptLayer) -> list[tuple[str, list[AptSource]]]:
    """(name, suites) of every repository, the main archive (named "archive") first."""
    return [("archive", layer.sources), *((r.name, r.sources) for r in layer.repositories)]


def clash(layer: AptLayer) -> str | None:
    """Why apt preferences cannot single out one of the layer's repositories, or None."""
    everyone = repositories(layer)
    for name, sources in everyone:
        for source in sources:
            pin = fields(source)
            if not pin:
                return (
                    f"repository {name!r}: its {source.suite} Release has no Origin, Label, Suite or Codename to pin by"
                )
            for other, their_sources in everyone:
                hit = next((s for s in their_sources if other != name and _matches(pin, s)), None)
                if hit is not None:
                    return (
                        f"repository {name!r}: apt cannot tell its {source.suite} Release ({release_pin(source)}) "
                        f"from repository {other!r}'s {hit.suite}: their Origin, Label, Suite and Codename agree"
                    )
    return None


def pins(layer: AptLayer) -> Iterator[tuple[str, str, int]]:
    """(package or "*", pin, priority): each repository's priority, then each assignment on its repository."""
    if not layer.repositories:
        return
    for repository in layer.repositories:
        for source in repository.sources:
            yield "*", release_pin(source), repository.priority
    assigned = [(layer.sources, layer.assigned), *((r.sources, r.assigned) for r in layer.repositories)]
    for sources, names in assigned:
        for name in names:
            for source in sources:
                yield name, release_pin(source), ASSIGNED
