"""Read `Packages` indexes into the few fields resolution and the lock need.

Indexes are large (Ubuntu main+universe is ~90k stanzas, ~100 MB of text), so
the parser reads them a chunk at a time, pulls only the fields it needs with
one regular expression, and keeps per version one small object whose repeated
strings (versions, architectures) are shared. Relationship fields stay
unparsed text until a package is reached by resolution
(relations.parse_relations).
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from imagelock.domains.apt.archive import IndexText
from imagelock.errors import UpstreamError


@dataclass(slots=True)
class Stanza:
    """One binary package version as an index lists it.

    What only the lock needs (Filename, Size, SHA256) is one string, split when
    asked for: every version of the archive is read, a few hundred are locked,
    and one string takes ~70 bytes less than three objects (~6 MiB on jammy).
    """

    name: str
    version: str
    arch: str
    artifact: str  # "<Filename>\n<Size>\n<SHA256>": no field value holds a newline
    suite: str
    multi_arch: str = "no"
    depends: str = ""
    pre_depends: str = ""
    provides: str = ""
    conflicts: str = ""
    breaks: str = ""
    essential: bool = False
    priority: str = "optional"
    # Its Description calls it a transitional (dummy) package: it only pulls another in under its name.
    transitional: bool = False
    repository: str = ""  # the [apt.repositories] name that serves it; "" for the main archive

    @property
    def filename(self) -> str:
        return self.artifact.split("\n", 1)[0]

    @property
    def size(self) -> int:
        return int(self.artifact.split("\n", 2)[1])

    @property
    def sha256(self) -> str:
        return self.artifact.rsplit("\n", 1)[1]


_FIELDS = (
    "Package",
    "Version",
    "Architecture",
    "Multi-Arch",
    "Depends",
    "Pre-Depends",
    "Provides",
    "Conflicts",
    "Breaks",
    "Filename",
    "Size",
    "SHA256",
    "Essential",
    "Priority",
    "Description",
)
# A field line (a newline, then the field name); continuation lines (leading
# blank) are folded into the value. Description continuation lines start with a
# blank, so they can never look like a field. The leading newline, rather than
# `^` in multi-line mode, lets the regex engine jump from newline to newline,
# which halves the time spent on the text the parser skips.
_FIELD = re.compile(r"\n(" + "|".join(re.escape(f) for f in _FIELDS) + r"):[ \t]*([^\n]*(?:\n[ \t][^\n]*)*)")


def _stanza(fields: dict[str, str], suite: str, where: str) -> Stanza:
    """One Stanza; strings that many versions repeat (versions, architectures, the
    few Multi-Arch and Priority values) are interned, so each is kept once. Names and
    relation fields are mostly distinct: interning them costs more than it saves."""
    get = fields.get
    intern = sys.intern
    try:  # the fields are looked up in the order errors name them
        name, version, arch, filename, size = (
            fields["Package"],
            fields["Version"],
            fields["Architecture"],
            fields["Filename"],
            fields["Size"],
        )
        int(size)  # checked now, read again only if the version is locked
        return Stanza(
            name,
            intern(version),
            intern(arch),
            f"{filename}\n{size}\n{fields['SHA256']}",
            suite,
            intern(get("Multi-Arch", "no")),
            get("Depends", ""),
            get("Pre-Depends", ""),
            get("Provides", ""),
            get("Conflicts", ""),
            get("Breaks", ""),
            get("Essential") == "yes",
            intern(get("Priority", "optional")),
            "transitional" in get("Description", "").lower(),
        )
    except KeyError as exc:
        name = fields.get("Package", "?")
        raise UpstreamError(f"{where}: stanza of {name} has no {exc.args[0]} field") from None
    except ValueError:
        raise UpstreamError(f"{where}: stanza of {fields.get('Package')} has a bad Size") from None


def parse(chunks: Iterable[str], suite: str, where: str) -> list[Stanza]:
    """Every stanza of an index given as text chunks that end between stanzas; `where` names it in errors."""
    out: list[Stanza] = []
    current: dict[str, str] = {}
    for chunk in chunks:
        for key, value in _FIELD.findall("\n" + chunk):  # the first line is a field line too
            if key == "Package":
                if current:
                    out.append(_stanza(current, suite, where))
                current = {}
            if "\n" in value:
                value = " ".join(line.strip() for line in value.split("\n"))
            current[key] = value.strip()
    if current:
        out.append(_stanza(current, suite, where))
    return out


def read(text: IndexText, suite: str, where: str) -> list[Stanza]:
    """Every stanza of a verified index, read from the store a chunk at a time."""
    return text.read(functools.partial(parse, suite=suite, where=where))
