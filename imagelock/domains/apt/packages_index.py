"""Read `Packages` indexes into the few fields resolution and the lock need.

Indexes are large (Ubuntu main+universe is ~80k stanzas), so the parser pulls
only the fields it needs with one regular expression over the whole text and
leaves relationship fields unparsed until a package is reached by resolution.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from imagelock.errors import UpstreamError


@dataclass(slots=True)
class Stanza:
    """One binary package version as an index lists it."""

    name: str
    version: str
    arch: str
    filename: str
    size: int
    sha256: str
    suite: str
    multi_arch: str = "no"
    depends: str = ""
    pre_depends: str = ""
    provides: str = ""
    conflicts: str = ""
    breaks: str = ""
    essential: bool = False
    priority: str = "optional"
    order: int = 0  # position across all indexes, for apt-like tie-breaks

    @property
    def ident(self) -> str:
        return f"{self.name}={self.version} ({self.arch})"


_FIELDS = ("Package", "Version", "Architecture", "Multi-Arch", "Depends", "Pre-Depends", "Provides",
           "Conflicts", "Breaks", "Filename", "Size", "SHA256", "Essential", "Priority")
# A field line at the start of a line; continuation lines (leading blank) are
# folded into the value. Description continuation lines start with a blank, so
# they can never look like a field.
_FIELD = re.compile(r"^(" + "|".join(re.escape(f) for f in _FIELDS) + r"):[ \t]*(.*(?:\n[ \t].*)*)",
                    re.MULTILINE)


def parse(text: str, suite: str, where: str, start: int = 0) -> list[Stanza]:
    """Every stanza in `text`; `where` names the index in errors."""
    out: list[Stanza] = []
    current: dict[str, str] = {}
    order = start

    def flush() -> None:
        nonlocal order
        if not current:
            return
        try:
            out.append(Stanza(
                name=current["Package"], version=current["Version"], arch=current["Architecture"],
                filename=current["Filename"], size=int(current["Size"]), sha256=current["SHA256"],
                suite=suite, multi_arch=current.get("Multi-Arch", "no"),
                depends=current.get("Depends", ""), pre_depends=current.get("Pre-Depends", ""),
                provides=current.get("Provides", ""), conflicts=current.get("Conflicts", ""),
                breaks=current.get("Breaks", ""), essential=current.get("Essential") == "yes",
                priority=current.get("Priority", "optional"), order=order,
            ))
        except KeyError as exc:
            name = current.get("Package", "?")
            raise UpstreamError(f"{where}: stanza of {name} has no {exc.args[0]} field") from None
        except ValueError:
            raise UpstreamError(f"{where}: stanza of {current.get('Package')} has a bad Size") from None
        order += 1

    for match in _FIELD.finditer(text):
        key, value = match.group(1), match.group(2)
        if key == "Package":
            flush()
            current = {}
        if "\n" in value:
            value = " ".join(line.strip() for line in value.split("\n"))
        current[key] = value.strip()
    flush()
    return out
