"""What both SBOMs of the image say, computed once: the locked rows and the dependency edges between them.

`sbom.cdx.json` (imagelock.build.sbom) and `sbom.spdx.json` (imagelock.build.sbom_spdx) are two spellings of
one graph, so they are made from one walk over the lock (imagelock.domains.components) and cannot disagree
on what the image holds or on what needs what. The edges are those the lock records: a row's `depends_on`
keys matched against the keys of the rows of its own layer (a wheel's requirements in its venv, a .deb's
Depends in its closure); a key the layer does not hold names nothing here.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import quote

from packageurl import PackageURL

from imagelock import domains
from imagelock.lock.component import Component
from imagelock.lock.model import Lock

# Every document identifier is a name-based UUID in this namespace over the lock's digest: the same lock,
# the same identifier, and no clock or random source involved.
SERIAL_NAMESPACE = uuid.UUID("6c0c3e4b-8f36-5d0a-9c1e-2a6f1b7d9e10")


@dataclass(frozen=True)
class Graph:
    """The image's rows in lock order, each with its layer, and per row the indexes of the rows it needs."""

    rows: tuple[tuple[str, Component], ...]
    needs: tuple[tuple[int, ...], ...]


def of(lock: Lock) -> Graph:
    """Every locked row of every layer and the edges the lock records between rows of one layer."""
    rows = tuple(domains.components(lock))
    keyed = {(layer, c.key): i for i, (layer, c) in enumerate(rows) if c.key is not None}
    needs = tuple(tuple(keyed[(layer, key)] for key in c.depends_on if (layer, key) in keyed) for layer, c in rows)
    return Graph(rows, needs)


def serial(lock: Lock) -> uuid.UUID:
    """The documents' identifier: derived from the lock's digest alone."""
    return uuid.uuid5(SERIAL_NAMESPACE, lock.digest())


def escape_url(url: str) -> str:
    """A locked URL as a valid URI reference: a `%` that starts no escape, a second `#`, a space or a
    character outside ASCII is percent-encoded; what is already a URI passes unchanged."""
    url = re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", url)
    head, mark, fragment = url.partition("#")
    return quote(head + mark + fragment.replace("#", "%23"), safe="!#$%&'()*+,/:;=?@~")


def purl(component: Component) -> PackageURL:
    """The row's package URL, as the purl library spells and escapes it."""
    p = component.purl
    return PackageURL(
        type=p.type, namespace=p.namespace, name=p.name, version=p.version, qualifiers=dict(p.qualifiers) or None
    )
