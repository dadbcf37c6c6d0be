"""Every package version the pinned archive offers, indexed for resolution.

Architecture `all` packages live with the native architecture, as in apt's
cache, so "one version per (name, arch)" holds for them too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence

from imagelock.domains.apt.archive import IndexText
from imagelock.domains.apt.packages_index import Stanza
from imagelock.domains.apt.relations import parse_relations
from imagelock.formats import debversion

Key = tuple[str, str]  # (name, arch) with arch "all" folded into the native architecture

# The order in which apt's cache generator reads a stanza's fields: a package
# gets its cache ID the first time its name is met, as a Package or as the
# target of any of these relations (debListParser::NewVersion).
APT_FIELD_ORDER = (
    "Package",
    "Pre-Depends",
    "Depends",
    "Conflicts",
    "Breaks",
    "Recommends",
    "Suggests",
    "Replaces",
    "Enhances",
    "Provides",
)


class Ambiguous(Exception):
    """A name that two repositories offer and the intent did not assign: which one serves it is not
    imagelock's to guess (the apt counterpart of never mixing Python indexes)."""

    def __init__(self, name: str, repositories: tuple[str, ...]) -> None:
        super().__init__(name)
        self.name = name
        self.repositories = repositories


class Universe:
    def __init__(
        self,
        stanzas: Iterable[Stanza],
        architectures: list[str],
        texts: list[IndexText] | None = None,
        ambiguous: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        # Names several repositories offer with no assignment: left out, and asking for one raises Ambiguous.
        self.ambiguous = ambiguous or {}
        self.texts = texts or []  # the index texts in the order apt reads them, for mention_order
        self._mentions: dict[str, tuple[int, ...]] = {}
        self.architectures = list(architectures)
        self.native = self.architectures[0]
        # A tuple per name, not a list: most names have one version, and a
        # one-item tuple takes about half of what a list grown by append does.
        self.by_name: dict[str, tuple[Stanza, ...]] = {}
        for stanza in stanzas:
            listed = self.by_name.get(stanza.name)
            self.by_name[stanza.name] = (stanza,) if listed is None else (*listed, stanza)
        self._sorted: set[str] = set()
        self._providers: dict[str, list[Stanza]] | None = None
        self.pins: dict[Key, str] = {}

    def arch_key(self, stanza: Stanza) -> str:
        return self.native if stanza.arch == "all" else stanza.arch

    def versions(self, name: str, arch: str | None = None) -> Sequence[Stanza]:
        """All versions of a name, newest first (ties: the first suite listed wins).

        Each name's versions were added in index order, so a stable sort keeps
        that order among equal versions.
        """
        entries = self.by_name.get(name, ())
        if not entries and name in self.ambiguous:
            raise Ambiguous(name, self.ambiguous[name])
        if len(entries) > 1 and name not in self._sorted:
            entries = tuple(sorted(entries, key=lambda s: debversion.key(s.version), reverse=True))
            self.by_name[name] = entries
            self._sorted.add(name)
        if arch is None:
            return entries
        return [s for s in entries if self.arch_key(s) == arch]

    def candidate(self, name: str, arch: str) -> Stanza | None:
        """The version apt would install: the pinned one if pinned, else the newest."""
        pinned = self.pins.get((name, arch))
        for stanza in self.versions(name, arch):
            if pinned is None or stanza.version == pinned:
                return stanza
        return None

    def providers(self, name: str) -> list[tuple[Stanza, str | None]]:
        """(package version, provided version) for every version that Provides `name`.

        The table keeps only which versions provide a name; the provided versions
        come from parsing again the Provides of the few names resolution asks about.
        """
        if self._providers is None:
            self._providers = self._provider_table()
        return [
            (stanza, rel.version if rel.op == "=" else None)
            for stanza in self._providers.get(name, ())
            for group in parse_relations(stanza.provides)
            for rel in group
            if rel.name == name
        ]

    def _provider_table(self) -> dict[str, list[Stanza]]:
        """Name -> the versions whose Provides list it, in the order of `by_name`.

        Each distinct Provides text is parsed once, without filling
        parse_relations' cache with the whole archive's Provides.
        """
        table: dict[str, list[Stanza]] = {}
        provided: dict[str, tuple[str, ...]] = {}  # Provides text -> the names it lists, each once
        for entries in self.by_name.values():
            for stanza in entries:
                text = stanza.provides
                if not text:
                    continue
                names = provided.get(text)
                if names is None:
                    groups = parse_relations.__wrapped__(text)
                    names = provided[text] = tuple(dict.fromkeys(rel.name for group in groups for rel in group))
                for provided_name in names:
                    table.setdefault(provided_name, []).append(stanza)
        return table

    def exists(self, name: str) -> bool:
        return name in self.by_name

    def names(self) -> Iterable[str]:
        return self.by_name.keys()

    def mention_order(self, name: str) -> tuple[int, ...]:
        """Where apt's cache first meets `name`: the order of the cache ID apt gives the package.

        apt breaks a tie between equally good providers by that ID (the one met
        last wins); nothing else in the indexes records it, so it is recovered
        from the index texts (read again from the store), only for the few
        names that tie.
        """
        cached = self._mentions.get(name)
        if cached is not None:
            return cached
        fields = "|".join(re.escape(f) for f in APT_FIELD_ORDER)
        pattern = re.compile(
            rf"^({fields}):[^\n]*?(?<![A-Za-z0-9.+\-]){re.escape(name)}(?![A-Za-z0-9.+\-])", re.MULTILINE
        )
        found: tuple[int, ...] = (len(self.texts), 0, 0, 0, 0)
        for number, text in enumerate(self.texts):
            first = text.read(functools.partial(_first_mention, pattern))
            if first is not None:
                found = (number, *first)
                break
        self._mentions[name] = found
        return found


def _first_mention(pattern: re.Pattern[str], chunks: Iterator[str]) -> tuple[int, int, int, int] | None:
    """(chunk, stanza start, field, end) of the first stanza that mentions the name, its earliest field
    in APT_FIELD_ORDER; None when no stanza does. Chunks end between stanzas, so a stanza is in one chunk."""
    for number, chunk in enumerate(chunks):
        best = None
        for match in pattern.finditer(chunk):
            stanza_start = chunk.rfind("\n\n", 0, match.start()) + 1
            if best is not None and stanza_start > best[1]:
                break
            key = (number, stanza_start, APT_FIELD_ORDER.index(match.group(1)), match.end())
            best = key if best is None or key < best else best
        if best is not None:
            return best
    return None
