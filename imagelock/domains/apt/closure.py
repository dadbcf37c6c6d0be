"""The dependency closure of a request, computed the way `apt-get install` computes it.

This follows apt's classic solver (pkgDepCache::MarkInstall in apt 2.x, the
one in Ubuntu 22.04 and Debian 12):

* the requested packages are first all marked, then each is expanded in order;
* expanding a package walks its Pre-Depends, then its Depends, in field order;
  an or-group already satisfied by something marked or installed is skipped,
  otherwise its first alternative that has an installable candidate is marked
  and expanded at once (depth first), before the next group is looked at, so
  an or-group is decided before a later sibling could satisfy it (checked
  against apt: `bee: Depends: bx, bq` with `bx: Depends: bp | bq` installs bp);
* a choice whose own dependencies cannot be met is undone and the next one
  tried (the next provider, then the next alternative), as MarkInstall does;
* an unsatisfied group with an alternative installed in the base image whose
  candidate would satisfy it (by name, or by what the candidate Provides) is
  solved by upgrading that package first;
* marking a package upgrades, first, every base-image package it would break:
  one its Conflicts or Breaks hit, and, when it upgrades a base-image package,
  every base-image package with a dependency naming it that the installed
  version met and the new one does not (`libgcc-s1` needs `gcc-12-base (=
  12-20220319-1ubuntu1)`: upgrading gcc-12-base upgrades libgcc-s1), as
  MarkInstall does in jammy's apt 2.4; where apt would have to remove such a
  package instead (no newer version, or one that cannot be installed), the
  closure is refused;
* only the candidate version of a package is ever considered (the newest, or
  the one the intent pins), so there is one version per (name, arch);
* among a real package and the packages that Provide its name, apt's
  CompareProviders order decides: the real package first, then essential,
  then native architecture, then higher Priority, then the package apt's cache
  met last (its highest cache ID; checked against apt with two tied providers).

Recommends are not followed (the seed installs with --no-install-recommends).
Beyond the base-image upgrades above, Conflicts and Breaks are checked on the
result, not solved, and so is every
dependency of the closure and of the base image (a later upgrade can break a
group the base image once met):
where apt's problem resolver would start removing, holding or re-choosing
packages, the closure is refused with the problem named, rather than differ
from apt without a word.
Closures apt resolves but its installer may be unable to order (a Pre-Depends
cycle, or a self-dependency under a Pre-Depends) are locked with a warning:
apt's ordering heuristics accept some such cycles and refuse others (found
with the property test), and refusing a closure apt installs would be worse.
Each rule was checked against the real apt (tests/apt/test_apt_agreement.py,
and random archives in tests/apt/test_apt_property.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from imagelock.domains.apt.packages_index import Stanza
from imagelock.domains.apt.relations import Group, Relation, format_group, parse_relations
from imagelock.domains.apt.universe import Key, Universe
from imagelock.errors import AnswerIsNo
from imagelock.formats import debversion

PRIORITY_RANK = {"required": 1, "important": 2, "standard": 3, "optional": 4, "extra": 5}


def meets(version: str, rel: Relation) -> bool:
    """`version` satisfies the relation's version constraint (none: any version does)."""
    return rel.op is None or rel.version is None or debversion.satisfies(version, rel.op, rel.version)


class BaseImageBroken(AnswerIsNo):
    """An upgrade apt makes only by removing a base-image package: the closure is refused, no other choice tried."""


@dataclass
class Installed:
    """A package of the base image (from its `dpkg-query -W` manifest)."""

    name: str
    version: str
    arch: str
    provides: str = ""


@dataclass
class Chosen:
    stanza: Stanza
    requested: bool = False
    original: str | None = None
    parent: Key | None = None
    via: str | None = None  # the relation of the parent that pulled this in
    depends_on: list[str] = field(default_factory=list)


def chosen_label(chosen: Chosen) -> str:
    stanza = chosen.stanza
    return f"{stanza.name}={stanza.version} Depends: {stanza.depends or '-'}; Provides: {stanza.provides or '-'}"


@dataclass
class Root:
    """One requested package, already checked to exist at the wanted version."""

    stanza: Stanza
    original: str


class Resolution:
    def __init__(self, universe: Universe, installed: list[Installed] | None = None) -> None:
        self.u = universe
        self.installed: dict[Key, Installed] = {}
        self.installed_provides: dict[str, list[tuple[Installed, str | None]]] = {}
        for item in installed or []:
            key = (item.name, self.u.native if item.arch == "all" else item.arch)
            self.installed[key] = item
            for group in parse_relations(item.provides):
                for rel in group:
                    self.installed_provides.setdefault(rel.name, []).append(
                        (item, rel.version if rel.op == "=" else None)
                    )
        # The installed versions' dependencies, read from the archive's stanza of that version
        # (a version the archive no longer has is taken to have none), and who names whom in them.
        self.base_groups: dict[Key, tuple[Group, ...]] = {}
        self.base_stanzas: dict[Key, Stanza] = {}
        self._base_rdeps: dict[str, list[tuple[Key, Relation]]] = {}
        for key, item in self.installed.items():
            stanza = self._installed_stanza(item, key)
            if stanza is None:
                continue
            self.base_stanzas[key] = stanza
            self.base_groups[key] = groups = self._groups(stanza)
            for group in groups:
                for rel in group:
                    self._base_rdeps.setdefault(rel.name, []).append((key, rel))
        self._positions: dict[str, int] | None = None
        self.chosen: dict[Key, Chosen] = {}
        self.warnings: list[str] = []
        self.provided: dict[str, list[tuple[Stanza, str | None]]] = {}
        self._expanded: set[Key] = set()

    # --- state ---------------------------------------------------------------------

    def _installed_stanza(self, item: Installed, key: Key) -> Stanza | None:
        for stanza in self.u.versions(item.name):
            if stanza.version == item.version and self.u.arch_key(stanza) == key[1]:
                return stanza
        return None

    def _key(self, stanza: Stanza) -> Key:
        return (stanza.name, self.u.arch_key(stanza))

    def _mark(self, chosen: Chosen) -> None:
        stanza = chosen.stanza
        self.chosen[self._key(stanza)] = chosen
        for group in parse_relations(stanza.provides):
            for rel in group:
                self.provided.setdefault(rel.name, []).append((stanza, rel.version if rel.op == "=" else None))

    def _arches(self, rel: Relation, from_arch: str) -> list[str]:
        if rel.archqual in (None, "any"):
            return [from_arch] + [a for a in self.u.architectures if a != from_arch]
        if rel.archqual == "native":
            return [self.u.native]
        return [rel.archqual]

    def _arch_ok(self, multi_arch: str, arch: str, rel: Relation, from_arch: str) -> bool:
        if arch == from_arch or rel.archqual == arch or (rel.archqual == "native" and arch == self.u.native):
            return True
        if multi_arch == "foreign":
            return True
        return rel.archqual == "any" and multi_arch == "allowed"

    def _satisfier(self, group: Group, from_arch: str) -> Key | None:
        """What already satisfies the group (marked or installed), or None."""
        for rel in group:
            for arch in self._arches(rel, from_arch):
                key = (rel.name, arch)
                chosen = self.chosen.get(key)
                if chosen is not None:
                    if self._arch_ok(chosen.stanza.multi_arch, arch, rel, from_arch) and (
                        meets(chosen.stanza.version, rel)
                    ):
                        return key
                    continue  # a marked version hides the installed one: it replaces it
                item = self.installed.get(key)
                if item is not None and (meets(item.version, rel)):
                    return key
            for stanza, pv in self.provided.get(rel.name, []):
                if (
                    self.chosen.get(self._key(stanza), None) is not None
                    and self._provide_ok(rel, pv)
                    and self._arch_ok(stanza.multi_arch, self.u.arch_key(stanza), rel, from_arch)
                ):
                    return self._key(stanza)
            for item, pv in self.installed_provides.get(rel.name, []):
                if self._provide_ok(rel, pv):
                    return (item.name, self.u.native if item.arch == "all" else item.arch)
        return None

    def _label(self, key: Key) -> str:
        return key[0] if key[1] == self.u.native else f"{key[0]}:{key[1]}"

    @staticmethod
    def _provide_ok(rel: Relation, provided_version: str | None) -> bool:
        if rel.op is None:
            return True
        return provided_version is not None and meets(provided_version, rel)

    # --- choosing ------------------------------------------------------------------

    def _targets(self, rel: Relation, from_arch: str) -> Iterator[Stanza]:
        """Candidate versions that would satisfy one alternative, apt's preference first."""
        found: list[tuple[tuple[int, ...], Stanza]] = []
        for arch in self._arches(rel, from_arch):
            cand = self.u.candidate(rel.name, arch)
            if cand is not None and self._arch_ok(cand.multi_arch, arch, rel, from_arch) and (meets(cand.version, rel)):
                found.append((self._rank(cand, same_group=True), cand))
        for stanza, pv in self.u.providers(rel.name):
            arch = self.u.arch_key(stanza)
            if stanza.name == rel.name or self.u.candidate(stanza.name, arch) is not stanza:
                continue  # only a provider's candidate version can be installed
            if self._provide_ok(rel, pv) and self._arch_ok(stanza.multi_arch, arch, rel, from_arch):
                found.append((self._rank(stanza, same_group=False), stanza))
        yield from self._in_apt_order(found)

    def _in_apt_order(self, found: list[tuple[tuple[int, ...], Stanza]]) -> Iterator[Stanza]:
        """Ranked candidates, best first; ties go to the package apt's cache met last."""
        found.sort(key=lambda item: item[0])
        for rank in dict.fromkeys(r for r, _ in found):  # each rank in order, ties broken within it
            tied = [stanza for r, stanza in found if r == rank]
            if len(tied) > 1:  # (lazily: recovering apt's cache order reads the index texts)
                # apt: "unable to decide" -> the package whose cache ID is higher (met later) wins.
                tied.sort(key=lambda s: self.u.mention_order(s.name), reverse=True)
            yield from tied

    def _rank(self, stanza: Stanza, same_group: bool) -> tuple[int, ...]:
        # apt's CompareProviders, as a sort key (smaller is preferred).
        installed = (stanza.name, self.u.arch_key(stanza)) in self.installed
        return (
            0 if same_group else 1,
            0 if installed else 1,
            0 if stanza.essential else 1,
            0 if self.u.arch_key(stanza) == self.u.native else 1,
            PRIORITY_RANK.get(stanza.priority, 4),
        )

    def _why_not(self, group: Group, from_arch: str) -> str:
        reasons = []
        for rel in group:
            versions = self.u.versions(rel.name)
            cand = self.u.candidate(rel.name, from_arch) or self.u.candidate(rel.name, self.u.native)
            if cand is not None and not self._arch_ok(cand.multi_arch, self.u.arch_key(cand), rel, from_arch):
                reasons.append(
                    f"{rel.name} {cand.version} is {cand.arch} with Multi-Arch: {cand.multi_arch}, "
                    f"so it cannot serve a {from_arch} package"
                )
            elif cand is not None:
                reasons.append(f"{rel.name} {cand.version} is the candidate")
            elif versions:
                reasons.append(f"{rel.name} exists only for {', '.join(sorted({s.arch for s in versions}))}")
            elif self.u.providers(rel.name):
                provs = sorted({s.name for s, _ in self.u.providers(rel.name)})
                reasons.append(f"{rel.name} is virtual; its providers ({', '.join(provs[:5])}) do not satisfy it")
            else:
                reasons.append(f"no package {rel.name} in the archive")
        return "; ".join(reasons)

    def _chain(self, key: Key) -> list[str]:
        out = []
        current: Key | None = key
        while current is not None:
            chosen = self.chosen[current]
            label = f"{chosen.stanza.name}={chosen.stanza.version}"
            if chosen.requested:
                label += f" (asked as {chosen.original!r})"
            out.append(label)
            current = chosen.parent
        return list(reversed(out))

    # --- the walk ------------------------------------------------------------------

    def _groups(self, stanza: Stanza) -> tuple[Group, ...]:
        return parse_relations(stanza.pre_depends) + parse_relations(stanza.depends)

    def _expand(self, key: Key) -> None:
        if key in self._expanded:
            return
        self._expanded.add(key)
        parent = self.chosen[key]
        from_arch = key[1]
        if self.installed:
            self._upgrade_base_dependents(key, parent.stanza)
        for group in self._groups(parent.stanza):
            if self._satisfier(group, from_arch) is not None:
                continue
            failure: AnswerIsNo | None = None
            done = False
            for target in self._choices(group, from_arch):
                target_key = self._key(target)
                existing = self.chosen.get(target_key)
                if existing is not None and existing.stanza is not target:
                    continue
                # apt (MarkInstall) skips a choice whose own dependencies cannot be met and
                # takes the next one; what the failed attempt marked is undone.
                saved = self._save()
                kept = self._met_groups() if target_key in self.installed and existing is None else None
                try:
                    self._mark(Chosen(stanza=target, parent=key, via=format_group(group)))
                    if kept is not None:
                        self._check_upgrade_keeps(kept, target)
                    self._expand(target_key)
                except BaseImageBroken:
                    raise  # apt would remove a base-image package here: no other choice is tried
                except AnswerIsNo as error:
                    self._restore(saved)
                    failure = failure or error
                    continue
                done = True
                break
            if not done:
                if failure is not None:
                    raise failure
                chain = " -> ".join(self._chain(key))
                raise AnswerIsNo(
                    f"apt: cannot satisfy {format_group(group)}, needed by {chain}", [self._why_not(group, from_arch)]
                )

    def _upgrade_base_dependents(self, key: Key, target: Stanza) -> None:
        """Upgrade the base-image packages that marking `target` would break, before its own dependencies.

        apt 2.4's MarkInstall collects them first (MarkInstall_RemoveConflictsIfNotUpgradeable,
        MarkInstall_CollectReverseDepends) and upgrades each to its candidate, expanding it at
        once (MarkInstall_UpgradeOrRemoveConflicts), before the package's own dependencies:

        * an installed package that `target`'s Conflicts or Breaks hits, whose candidate
          it does not hit (`Breaks: lib (<< 2.0)` upgrades an installed lib 1.0 to 2.0);
        * when `target` upgrades an installed package: every installed package whose
          installed version has a dependency naming it that the installed version met and
          the new one does not, each relation on its own (an or-group another alternative
          still meets counts too), in the order of apt's reverse-dependency list: the order
          its cache met those packages in (checked against apt with two such packages whose
          new versions choose differently depending on which goes first; with more, apt's
          list order also depends on how its cache shares the relations' version strings,
          which is not emulated). Found with the jammy oracle: gcc-12 upgrades gcc-12-base,
          which libgcc-s1 and libstdc++6 need at `=` their installed version.

        Where such an upgrade is impossible (no newer version, a newer version the
        relation still hits, or one whose own dependencies fail) apt removes the
        package from the image; imagelock refuses instead.
        """
        pending: list[tuple[Key, str]] = [*self._base_clashes(key, target), *self._base_dependents(key, target)]
        for rkey, why in pending:
            if rkey in self.chosen:  # an earlier one of these upgrades took it along
                continue
            item = self.installed[rkey]
            label = f"{self._label(rkey)}={item.version}"
            if why.startswith(("Conflicts", "Breaks")):
                reason = f"{target.name} {target.version} {why}, which hits the base image's {label}"
            else:
                reason = f"upgrading {target.name} to {target.version} breaks the base image's {label} (it {why})"
            cand = self.u.candidate(item.name, rkey[1])
            if cand is None or debversion.compare(cand.version, item.version) <= 0:
                raise BaseImageBroken(
                    f"apt: {reason}, and the archive has no newer {item.name}: apt would remove {item.name} "
                    "from the image",
                    [" -> ".join(self._chain(key))],
                )
            if why.startswith(("Conflicts", "Breaks")) and self._hits(target, cand):
                raise BaseImageBroken(
                    f"apt: {reason}, and {item.name} {cand.version} is hit too: apt would remove {item.name} "
                    "from the image",
                    [" -> ".join(self._chain(key))],
                )
            self._mark(Chosen(stanza=cand, parent=key, via=f"{why} (base image's {label})"))
            try:
                self._expand(rkey)
            except BaseImageBroken:
                raise
            except AnswerIsNo as error:
                raise BaseImageBroken(
                    f"apt: {reason}, and {item.name} {cand.version} cannot be installed: apt would remove "
                    f"{item.name} from the image",
                    [error.summary, *error.details],
                ) from None

    def _base_dependents(self, key: Key, target: Stanza) -> list[tuple[Key, str]]:
        """Installed packages with a dependency on `key` that its installed version meets and `target` does not."""
        if key not in self.installed:
            return []
        old = self.installed[key].version
        broken: list[tuple[Key, str]] = []
        for rkey, rel in self._base_rdeps.get(target.name, []):
            if rkey in self.chosen or any(rkey == k for k, _ in broken):
                continue
            wanted = rkey[1] if rel.archqual in (None, "any") else self._arches(rel, rkey[1])[0]
            if wanted == key[1] and meets(old, rel) and not meets(target.version, rel):
                broken.append((rkey, f"Depends: {rel}"))
        if len(broken) > 1:
            if self._positions is None:
                self._positions = {name: number for number, name in enumerate(self.u.names())}
            positions = self._positions
            broken.sort(key=lambda item: positions.get(item[0][0], len(positions)))
        return broken

    def _base_clashes(self, key: Key, target: Stanza) -> list[tuple[Key, str]]:
        """Installed packages (not marked) whose installed version `target`'s Conflicts or Breaks hit."""
        hits: list[tuple[Key, str]] = []
        if not self.installed or not (target.conflicts or target.breaks):
            return hits
        for field_name, text in (("Conflicts", target.conflicts), ("Breaks", target.breaks)):
            for group in parse_relations(text):
                for rel in group:
                    found = [(rel.name, arch) for arch in self.u.architectures]
                    found += [
                        (item.name, self.u.native if item.arch == "all" else item.arch)
                        for item, pv in self.installed_provides.get(rel.name, [])
                        if self._provide_ok(rel, pv)
                    ]
                    for ikey in found:
                        item = self.installed.get(ikey)
                        if item is None or ikey == key or item.name == target.name or ikey in self.chosen:
                            continue
                        if ikey[0] == rel.name and not meets(item.version, rel):
                            continue
                        if not any(ikey == k for k, _ in hits):
                            hits.append((ikey, f"{field_name}: {rel}"))
        return hits

    def _hits(self, stanza: Stanza, other: Stanza) -> bool:
        """Whether `stanza`'s Conflicts or Breaks hit the version `other` (by name, or by what it Provides)."""
        for group in parse_relations(stanza.conflicts) + parse_relations(stanza.breaks):
            for rel in group:
                if rel.name == other.name and meets(other.version, rel):
                    return True
                for provided in parse_relations(other.provides):
                    for prv in provided:
                        if prv.name == rel.name and self._provide_ok(rel, prv.version if prv.op == "=" else None):
                            return True
        return False

    def _met_groups(self) -> list[tuple[Key, Group]]:
        """Every dependency group of the marked packages that is met right now."""
        return [
            (key, group)
            for key, chosen in self.chosen.items()
            for group in self._groups(chosen.stanza)
            if self._satisfier(group, key[1]) is not None
        ]

    def _check_upgrade_keeps(self, met: list[tuple[Key, Group]], target: Stanza) -> None:
        """Upgrading a base-image package must not break what its installed version met.

        apt does not mark such an upgrade; the choice fails and the next one is
        tried (found with the property test: pk3 needs `pk5 (>= 2.0)`, pk6 needs
        `pk5 (<< 2.0)` met by pk5 0.5, so apt takes vir1 from pk1, not pk3).
        """
        for key, group in met:
            if self._satisfier(group, key[1]) is None:
                raise AnswerIsNo(
                    f"apt: upgrading {target.name} to {target.version} would break "
                    f"{self._label(key)}'s {format_group(group)}",
                    [],
                )

    def _choices(self, group: Group, from_arch: str) -> Iterator[Stanza]:
        """What may satisfy an unsatisfied group, in apt's order of preference.

        First a package installed in the base image whose candidate would
        satisfy an alternative, by name or by what it Provides: apt upgrades it
        rather than install something new, even for a later alternative (found
        with the property test: `pk2 | pk0 (>= 1.0)` with pk0 0.5 installed
        upgrades pk0 and does not install pk2; `pk0 | vir0` with pk2 0.5
        installed, whose candidate provides vir0, upgrades pk2). Then every
        alternative's targets in order.
        """
        for rel in group:
            upgrades: list[tuple[tuple[int, ...], Stanza]] = []
            for arch in self._arches(rel, from_arch):
                if (rel.name, arch) in self.installed and (rel.name, arch) not in self.chosen:
                    cand = self.u.candidate(rel.name, arch)
                    if (
                        cand is not None
                        and self._arch_ok(cand.multi_arch, arch, rel, from_arch)
                        and (meets(cand.version, rel))
                    ):
                        upgrades.append((self._rank(cand, same_group=True), cand))
            for stanza, pv in self.u.providers(rel.name):
                key = self._key(stanza)
                if stanza.name == rel.name or key not in self.installed or key in self.chosen:
                    continue
                if (
                    self.u.candidate(stanza.name, key[1]) is stanza
                    and self._provide_ok(rel, pv)
                    and self._arch_ok(stanza.multi_arch, key[1], rel, from_arch)
                ):
                    upgrades.append((self._rank(stanza, same_group=False), stanza))
            yield from self._in_apt_order(upgrades)
        for rel in group:  # lazily: ranking ties can need apt's cache order, which is costly to recover
            yield from self._targets(rel, from_arch)

    def _save(self) -> tuple[dict[Key, Chosen], dict[str, list[tuple[Stanza, str | None]]], set[Key]]:
        return dict(self.chosen), {k: list(v) for k, v in self.provided.items()}, set(self._expanded)

    def _restore(self, saved: tuple[dict[Key, Chosen], dict[str, list[tuple[Stanza, str | None]]], set[Key]]) -> None:
        self.chosen, self.provided, self._expanded = saved

    def resolve(self, roots: list[Root]) -> dict[Key, Chosen]:
        """Mark every root, then expand them in request order (as apt-get install does)."""
        keys = []
        for root in roots:
            key = self._key(root.stanza)
            item = self.installed.get(key)
            if item is not None and item.version == root.stanza.version:
                continue  # already in the base image at that version: apt installs nothing
            self._mark(Chosen(stanza=root.stanza, requested=True, original=root.original))
            keys.append(key)
        for key in keys:
            self._expand(key)
        for key, chosen in self.chosen.items():
            chosen.depends_on = self._edges(chosen.stanza, key[1])
        self._check_clashes()
        self._check_still_satisfied()
        self._check_pre_depends_cycles()
        self._warn_unknown_base()
        return self.chosen

    def _warn_unknown_base(self) -> None:
        """Say so when base-image packages are upgraded but some installed versions' dependencies are unknown.

        A `dpkg-query -W` manifest gives names and versions only; the dependencies come
        from the archive's stanza of that version, and an archive lists only the newest
        version of each package per suite (an image built from an older jammy-updates
        has versions the current one dropped), so what an upgrade does to an installed
        version it no longer lists is not checked.
        """
        unknown = sorted(
            self._label(k) + "=" + self.installed[k].version for k in self.installed if k not in self.base_stanzas
        )
        upgraded = sorted(self._label(k) for k in self.chosen if k in self.installed)
        if unknown and upgraded:
            self.warnings.append(
                f"the archive no longer lists {len(unknown)} of the base image's installed versions "
                f"({', '.join(unknown[:3])}{', ...' if len(unknown) > 3 else ''}): whether upgrading "
                f"{', '.join(upgraded[:3])}{', ...' if len(upgraded) > 3 else ''} breaks them is not checked "
                "(their dependencies are unknown)"
            )

    def _check_still_satisfied(self) -> None:
        """Refuse a closure in which a later choice undid an earlier one (apt's resolver would have to step in).

        A group skipped because the base image's version satisfied it can be broken
        when a later dependency upgrades that package (found with the property test:
        `pk5 (<< 2.0)` met by pk5 0.5, then `pk5 (>= 2.0)` elsewhere; apt refuses).
        """
        broken = []
        for key, chosen in self.chosen.items():
            for group in self._groups(chosen.stanza):
                if self._satisfier(group, key[1]) is None:
                    broken.append(
                        f"{self._label(key)}={chosen.stanza.version} needs {format_group(group)}, which "
                        "the rest of the closure no longer satisfies"
                    )
        for key, groups in self.base_groups.items():
            if key in self.chosen:
                continue  # upgraded: its new version's dependencies are checked above
            for group in groups:
                if self._satisfier(group, key[1]) is None:
                    broken.append(
                        f"{self._label(key)}={self.installed[key].version} (base image) needs "
                        f"{format_group(group)}, which the closure no longer satisfies"
                    )
        if broken:
            raise AnswerIsNo(
                "apt: the closure undoes its own dependencies (a package the base image had is "
                "upgraded past what another needs); apt would have to choose another solution or "
                "refuse, which imagelock does not emulate",
                broken,
            )

    def _check_clashes(self) -> None:
        """Refuse a closure in which a Conflicts or Breaks relation holds (apt would not install it as is)."""
        clashes = []
        for _key, chosen in self.chosen.items():
            stanza = chosen.stanza
            for field_name, text in (("Conflicts", stanza.conflicts), ("Breaks", stanza.breaks)):
                for group in parse_relations(text):
                    for rel in group:
                        for other in self._clashing(rel, stanza):
                            clashes.append(
                                f"{stanza.name}={stanza.version} {field_name}: {rel}, and the closure has {other}"
                            )
        for key, stanza in self.base_stanzas.items():  # what the base image keeps must not clash with the closure
            if key in self.chosen:
                continue
            for field_name, text in (("Conflicts", stanza.conflicts), ("Breaks", stanza.breaks)):
                for group in parse_relations(text):
                    for rel in group:
                        for other in self._clashing(rel, stanza, base=False):
                            clashes.append(
                                f"{stanza.name}={stanza.version} (base image) {field_name}: {rel}, and the "
                                f"closure has {other}"
                            )
        if clashes:
            raise AnswerIsNo(
                "apt: the closure would break its own Conflicts/Breaks; apt would have to remove or "
                "hold packages here, which imagelock does not emulate",
                clashes,
            )

    def _clashing(self, rel: Relation, stanza: Stanza, base: bool = True) -> list[str]:
        """What `stanza`'s Conflicts/Breaks `rel` hits: in the closure, and (`base`) in the base image."""
        found = []
        for arch in self.u.architectures:
            other = self.chosen.get((rel.name, arch))
            if other is not None and other.stanza is not stanza and (meets(other.stanza.version, rel)):
                found.append(f"{other.stanza.name}={other.stanza.version}")
            item = self.installed.get((rel.name, arch))
            if base and item is not None and (rel.name, arch) not in self.chosen and (meets(item.version, rel)):
                found.append(f"{item.name}={item.version} (base image)")
        if rel.op is None:  # a versionless Conflicts on a virtual name hits every other provider
            for provider, _ in self.provided.get(rel.name, []):
                if (
                    provider is not stanza
                    and provider.name != stanza.name
                    and self.chosen.get(self._key(provider), None) is not None
                ):
                    found.append(f"{provider.name}={provider.version} (provides {rel.name})")
        return found

    def _edges(self, stanza: Stanza, from_arch: str) -> list[str]:
        edges = []
        for group in self._groups(stanza):
            key = self._satisfier(group, from_arch)
            if key is not None and self._label(key) not in edges:
                edges.append(self._label(key))
        return edges

    def _check_pre_depends_cycles(self) -> None:
        """Warn where apt's installer may be unable to order the closure (X Pre-Depends Y, Y needs X)."""
        graph: dict[Key, list[Key]] = {}
        for key, chosen in self.chosen.items():
            graph[key] = [k for g in self._groups(chosen.stanza) if (k := self._satisfier(g, key[1])) in self.chosen]
        for key, chosen in self.chosen.items():
            for group in parse_relations(chosen.stanza.pre_depends):
                target = self._satisfier(group, key[1])
                if target is None or target not in self.chosen:
                    continue
                if target == key:  # checked against apt: it cannot order a package pre-depending on itself
                    self.warnings.append(
                        f"{self._label(key)} pre-depends on {format_group(group)}, which only "
                        "it provides: apt's installer cannot order that"
                    )
                    continue
                path = self._path(graph, target, key)
                if path is not None:
                    cycle = " -> ".join(self._label(k) for k in [key, *path])
                    self.warnings.append(
                        f"{self._label(key)} pre-depends on {self._label(target)}, which needs "
                        f"{self._label(key)} ({cycle}): apt's installer may be unable to order this"
                    )
                    continue
                # Checked against apt: a package under a Pre-Depends that depends on itself (through a
                # name it Provides) stops apt's installer ("MaxLoopCount reached in SmartUnPack").
                for node in self._reachable(graph, target):
                    if node in graph.get(node, []):
                        self.warnings.append(
                            f"{self._label(key)} pre-depends on {self._label(target)}, and "
                            f"{self._label(node)} under it depends on itself ({chosen_label(self.chosen[node])}): "
                            "apt's installer cannot order that"
                        )
                        break

    @staticmethod
    def _reachable(graph: dict[Key, list[Key]], start: Key) -> list[Key]:
        seen = {start}
        queue = [start]
        for current in queue:
            for nxt in graph.get(current, []):
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        return queue

    @staticmethod
    def _path(graph: dict[Key, list[Key]], start: Key, goal: Key) -> list[Key] | None:
        """A dependency path start -> ... -> goal, breadth first, or None."""
        previous: dict[Key, Key | None] = {start: None}
        queue = [start]
        for current in queue:
            if current == goal:
                path = []
                node: Key | None = current
                while node is not None:
                    path.append(node)
                    node = previous[node]
                return list(reversed(path))
            for nxt in graph.get(current, []):
                if nxt not in previous:
                    previous[nxt] = current
                    queue.append(nxt)
        return None
