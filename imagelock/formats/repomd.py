"""repomd.xml, the signed root of an rpm repository's metadata (createrepo_c writes it; dnf reads it).

Format: `<repomd xmlns="http://linux.duke.edu/metadata/repo">` holding a `<revision>` and one `<data type=…>`
per metadata file, each with `<location href>`, `<checksum type>` (of the file as stored), `<size>`, and
for a compressed file `<open-checksum type>` / `<open-size>` (of its decompressed content). See the
rpm-metadata description in createrepo_c's documentation and libsolv's repo_repomdxml.c, which reads the
same elements. Only the entries a closure needs are kept; every error is a RepomdError naming the element.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

NS = "{http://linux.duke.edu/metadata/repo}"
_HEX = re.compile(r"^[0-9a-f]+$")
_HREF = re.compile(r"^[A-Za-z0-9._+~/-]+$")
DIGEST_SIZES = {"sha256": 64, "sha512": 128, "sha384": 96, "sha224": 56, "sha1": 40, "sha": 40, "md5": 32}


class RepomdError(ValueError):
    """repomd.xml is not what createrepo writes; the message names the element."""


@dataclass(frozen=True)
class Checksum:
    kind: str  # sha256, sha512, ...
    hex: str


@dataclass(frozen=True)
class RepomdData:
    """One metadata file: where it is, and what it must hash to."""

    kind: str  # primary, filelists, other, ...
    location: str  # href relative to the repository's base URL
    checksum: Checksum
    size: int | None
    open_checksum: Checksum | None = None
    open_size: int | None = None


@dataclass(frozen=True)
class Repomd:
    revision: str | None
    data: dict[str, RepomdData]


def _checksum(element: ET.Element | None, what: str) -> Checksum | None:
    if element is None:
        return None
    kind = (element.get("type") or "").lower()
    value = (element.text or "").strip().lower()
    if kind == "sha":
        kind = "sha1"
    if kind not in DIGEST_SIZES or len(value) != DIGEST_SIZES[kind] or not _HEX.match(value):
        raise RepomdError(f"{what}: not a checksum ({kind or 'no type'}: {value[:80]!r})")
    return Checksum(kind, value)


def _size(element: ET.Element | None, what: str) -> int | None:
    if element is None:
        return None
    text = (element.text or "").strip()
    if not text.isdigit():
        raise RepomdError(f"{what}: expected a size in bytes, found {text[:40]!r}")
    return int(text)


def parse(data: bytes) -> Repomd:
    """The verified bytes of repomd.xml -> its revision and metadata entries."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise RepomdError(f"not XML ({exc})") from None
    if root.tag != f"{NS}repomd":
        raise RepomdError(f"root element is {root.tag!r}, not repomd")
    revision = root.findtext(f"{NS}revision")
    entries: dict[str, RepomdData] = {}
    for element in root.findall(f"{NS}data"):
        kind = element.get("type") or ""
        what = f"<data type={kind!r}>"
        location = element.find(f"{NS}location")
        href = location.get("href") if location is not None else None
        if not href or not _HREF.match(href) or href.startswith("/") or ".." in href.split("/"):
            raise RepomdError(f"{what}: location href {href!r} is not a plain relative path")
        checksum = _checksum(element.find(f"{NS}checksum"), f"{what} checksum")
        if checksum is None:
            raise RepomdError(f"{what}: no checksum")
        entries[kind] = RepomdData(
            kind=kind,
            location=href,
            checksum=checksum,
            size=_size(element.find(f"{NS}size"), f"{what} size"),
            open_checksum=_checksum(element.find(f"{NS}open-checksum"), f"{what} open-checksum"),
            open_size=_size(element.find(f"{NS}open-size"), f"{what} open-size"),
        )
    return Repomd(revision=revision.strip() if revision else None, data=entries)
