"""The closure `dnf install` computes, by libsolv, the SAT solver dnf itself uses (through libdnf).

libsolv reads the verified primary metadata (`repo.add_rpmmd`), the base image's installed packages form
the `@System` repository, and the request is solved with the jobs and solver flags libdnf's Goal makes for
`dnf install` under the dnf.conf that distributions ship (best=False, strict=True, obsoletes=True): each
request is one SOLVER_INSTALL of a set of packages (dnf's selector: what the name matches, plus every
package that obsoletes one of those when the request is a bare name), no uninstalling, downgrades allowed,
yum-style obsoletes, best candidates obeying policy, installonly packages such as kernel-devel installed
beside the running ones, weak dependencies as `install_weak_deps` says. tests/dnf/test_dnf_agreement.py
holds the result to Debian's dnf 4.14 on the same repositories and base.

`solv` is the PyPI wheel of libsolv's own Python binding (manylinux, CPython 3.11); it is imported here
only, so nothing but `lock update` of a `[dnf]` intent loads it.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imagelock.domains.dnf.repository import LoadedRepo
from imagelock.errors import AnswerIsNo, InputError, UpstreamError, did_you_mean
from imagelock.intent.dnf import DnfIntent
from imagelock.lock.model import DnfChoice, DnfPackage

# dnf's default `installonlypkgs`: these are installed beside the installed versions, never upgraded over.
INSTALLONLY = (
    "kernel",
    "kernel-PAE",
    "installonlypkg(kernel)",
    "installonlypkg(kernel-module)",
    "installonlypkg(vm)",
    "multiversion(kernel)",
)
_EVR = re.compile(r"^(?:(?P<epoch>[0-9]+):)?(?P<version>[^-]+)-(?P<release>[^-]+)$")


@dataclass(frozen=True)
class Installed:
    """One package of the base image, as `rpm -qa` lists it."""

    name: str
    evr: str  # [epoch:]version-release, epoch 0 left out
    arch: str


@dataclass
class Closure:
    packages: list[DnfPackage]
    warnings: list[str] = field(default_factory=list)


def _solv() -> Any:
    try:
        import solv
    except ImportError:
        raise UpstreamError(
            "the Python binding of libsolv is not installed: `pip install solv` (the PyPI wheel) "
            "is needed to resolve a [dnf] section"
        ) from None
    return solv


def split_evr(evr: str) -> tuple[int | None, str, str]:
    match = _EVR.match(evr)
    if not match:
        raise ValueError(evr)
    epoch = int(match["epoch"]) if match["epoch"] and int(match["epoch"]) else None
    return epoch, match["version"], match["release"]


def _excluded(name: str, include: list[str], exclude: list[str]) -> bool:
    """dnf's includepkgs/excludepkgs of one repository (globs, as dnf matches them)."""
    if include and not any(fnmatch.fnmatchcase(name, p) for p in include):
        return True
    return any(fnmatch.fnmatchcase(name, p) for p in exclude)


class Solver:
    """One pool: the verified repositories, the base image, and dnf's solver settings."""

    def __init__(self, intent: DnfIntent, repos: list[LoadedRepo], installed: list[Installed]) -> None:
        solv = self.solv = _solv()
        self.intent = intent
        self.pool = pool = solv.Pool()
        pool.setdisttype(solv.Pool.DISTTYPE_RPM)
        pool.setarch(intent.basearch)
        self.repos: dict[str, LoadedRepo] = {}
        considered: list[int] = []
        for loaded in repos:
            repo = pool.add_repo(loaded.intent.id)
            handle = solv.xfopen(str(loaded.primary_xml))
            if handle is None or not repo.add_rpmmd(handle, None, 0):
                raise UpstreamError(f"{loaded.record.baseurl}: libsolv cannot read its primary metadata")
            handle.close()
            self.repos[loaded.intent.id] = loaded
            considered += [
                s.id
                for s in repo.solvables_iter()
                if not _excluded(s.name, loaded.intent.includepkgs, loaded.intent.excludepkgs)
            ]
        self.warnings: list[str] = []
        self._obsoleters: dict[int, list[Any]] | None = None
        self.system = pool.add_repo("@System")
        self._add_installed(installed)
        considered += [s.id for s in self.system.solvables_iter()]
        pool.set_considered_list(considered)
        pool.installed = self.system
        pool.addfileprovides()
        pool.createwhatprovides()

    def _add_installed(self, installed: list[Installed]) -> None:
        """The base image as libsolv's installed repository. An installed version the repositories still
        list takes its dependencies from there; one they dropped is known by name only (a warning)."""
        solv, pool = self.solv, self.pool
        listed = {(s.name, s.evr, s.arch): s for s in pool.solvables_iter() if s.repo.name != "@System"}
        unknown = []
        for item in installed:
            s = self.system.add_solvable()
            s.name, s.evr, s.arch = item.name, item.evr, item.arch
            source = listed.get((item.name, item.evr, item.arch))
            if source is not None:
                for key in (
                    solv.SOLVABLE_PROVIDES,
                    solv.SOLVABLE_REQUIRES,
                    solv.SOLVABLE_CONFLICTS,
                    solv.SOLVABLE_OBSOLETES,
                    solv.SOLVABLE_RECOMMENDS,
                    solv.SOLVABLE_SUPPLEMENTS,
                ):
                    for dep in source.lookup_deparray(key):
                        s.add_deparray(key, dep)
            else:
                unknown.append(f"{item.name}-{item.evr}.{item.arch}")
            s.add_deparray(
                solv.SOLVABLE_PROVIDES, pool.rel2id(pool.str2id(item.name), pool.str2id(item.evr), solv.REL_EQ)
            )
        self.system.internalize()
        if unknown:
            self.warnings.append(
                f"{len(unknown)} base-image packages are no longer listed by the repositories, so their "
                f"dependencies are unknown: {', '.join(unknown[:8])}{' ...' if len(unknown) > 8 else ''}"
            )

    def _candidates(self, text: str, key: str) -> list[Any]:
        """The packages of dnf's selector for `dnf install <text>` (dnf/subject.py `_get_best_selectors`):
        what the text matches and, when it matched as a bare name, every package that obsoletes one of
        those (dnf's `obsoletes=True`: "pk0 is obsoleted by pk2, trying to install pk2 instead")."""
        selection = self._select(text, key)
        matched = list(selection.solvables())
        if selection.flags != self.solv.Selection.SELECTION_NAME:
            return matched
        ids = {s.id for s in matched}
        obsoleters = self._obsoleted_by()
        found = {o.id: o for s in matched for o in obsoleters.get(s.id, []) if o.id not in ids}
        return matched + list(found.values())

    def _obsoleted_by(self) -> dict[int, list[Any]]:
        """Package id -> the packages that obsolete it, as libdnf's `filter(obsoletes=...)` finds them: among
        what dnf's query sees (the considered available packages and the installed ones), an Obsoletes that
        names the package and whose version range holds for it (by name, not by what it provides, as rpm
        obsoletes). Computed once."""
        if self._obsoleters is None:
            solv = self.solv
            self._obsoleters = {}
            for s in self.pool.solvables_iter():
                if s.repo.name != "@System" and not self._considered(s):
                    continue
                for dep in s.lookup_deparray(solv.SOLVABLE_OBSOLETES):
                    for target in self.pool.whatprovides(dep):
                        if target.matchesdep(solv.SOLVABLE_NAME, dep):
                            self._obsoleters.setdefault(target.id, []).append(s)
        return self._obsoleters

    def _select(self, text: str, key: str) -> Any:
        """What `dnf install <text>` matches: a name (with .arch or -version-release), else a provide."""
        solv, pool = self.solv, self.pool
        flags = solv.Selection.SELECTION_NAME | solv.Selection.SELECTION_DOTARCH | solv.Selection.SELECTION_CANON
        selection = pool.select(text, flags)
        if selection.isempty():
            selection = pool.select(text, solv.Selection.SELECTION_PROVIDES)
        if selection.isempty():
            names = sorted({s.name for s in pool.solvables_iter() if s.repo.name != "@System"})
            repos = ", ".join(self.repos)
            raise InputError(
                self.intent.path,
                key,
                f"no package {text!r} in the repositories ({repos}) at releasever {self.intent.releasever}"
                f"{did_you_mean(text, names)}",
            )
        return selection

    def offered(self) -> set[str]:
        """The names the repositories offer for this architecture, after includepkgs/excludepkgs: what a
        `[dnf.choose]` rule chooses among."""
        return {s.name for s in self.pool.solvables_iter() if s.repo.name != "@System" and s.installable()}

    def requests(self, chosen: list[DnfChoice]) -> list[tuple[str, str, str]]:
        """(what dnf is asked, the intent key, the original) of every request: `packages`, then the names
        `[dnf.choose]` resolved to, each remembering the family it was chosen for."""
        asked = [(text, f"dnf.packages[{i}]", text) for i, text in enumerate(self.intent.packages)]
        for choice in chosen:
            written = [choice.family, *choice.companions]
            asked += [
                (name, f"dnf.choose.{choice.family}", f"{choice.rule} {as_written}")
                for name, as_written in zip(choice.names, written, strict=True)
            ]
        return asked

    def solve(self, chosen: list[DnfChoice] | None = None) -> Closure:
        solv, pool = self.solv, self.pool
        # libdnf's sltrToJob of a selector holding packages: one job per request, SOLVER_SOLVABLE_ONE_OF
        # them. No SOLVER_WEAK: dnf.conf's strict=True. No SOLVER_FORCEBEST: best=False, as Amazon Linux,
        # Fedora and Debian ship it, so an installed package satisfies its request as it is ("already
        # installed"), and a best candidate that cannot be installed gives way to the next (a warning below).
        one_of = solv.Job.SOLVER_SOLVABLE_ONE_OF | solv.Job.SOLVER_SETARCH | solv.Job.SOLVER_SETEVR
        installs = []
        origin: dict[int, str] = {}
        for text, key, original in self.requests(chosen or []):
            candidates = self._candidates(text, key)
            installs.append(pool.Job(solv.Job.SOLVER_INSTALL | one_of, pool.towhatprovides([s.id for s in candidates])))
            for s in candidates:
                origin.setdefault(s.id, original)
        multiversion = []
        for provide in INSTALLONLY:
            selection = pool.select(provide, solv.Selection.SELECTION_PROVIDES)
            if not selection.isempty():
                multiversion += selection.jobs(solv.Job.SOLVER_MULTIVERSION)
        solver = self._solver(weak_deps=self.intent.install_weak_deps)
        problems = solver.solve(installs + multiversion)
        if problems:
            count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
            raise AnswerIsNo(f"dnf: the request cannot be installed ({count})", self._explain(problems))
        transaction = solver.transaction()
        self._refuse_erasures(transaction)
        new = list(transaction.newsolvables())
        self._refuse_mixing(new)
        warnings = list(self.warnings) + self._skipped(installs, multiversion)
        return Closure([self._package(s, origin.get(s.id)) for s in new], warnings)

    def _solver(self, *, weak_deps: bool) -> Any:
        """A solver with the flags libdnf's Goal sets for an install (Goal::Impl::initSolver and solve)."""
        solv = self.solv
        solver = self.pool.Solver()
        solver.set_flag(solv.Solver.SOLVER_FLAG_ALLOW_UNINSTALL, 0)
        solver.set_flag(solv.Solver.SOLVER_FLAG_ALLOW_DOWNGRADE, 1)  # Goal::install adds DNF_ALLOW_DOWNGRADE
        solver.set_flag(solv.Solver.SOLVER_FLAG_BEST_OBEY_POLICY, 1)
        solver.set_flag(solv.Solver.SOLVER_FLAG_YUM_OBSOLETES, 1)
        solver.set_flag(solv.Solver.SOLVER_FLAG_ALLOW_VENDORCHANGE, 1)
        solver.set_flag(solv.Solver.SOLVER_FLAG_IGNORE_RECOMMENDED, 0 if weak_deps else 1)
        return solver

    def _skipped(self, installs: list[Any], multiversion: list[Any]) -> list[str]:
        """What dnf prints after a best=False solve (dnf/base.py `_skipped_packages`): the same jobs with
        SOLVER_FORCEBEST, and why they fail, i.e. which better candidate was left out and why."""
        solv = self.solv
        forced = [self.pool.Job(job.how | solv.Job.SOLVER_FORCEBEST, job.what) for job in installs]
        solver = self._solver(weak_deps=True)  # kept alive: its problems point into it
        problems = solver.solve(forced + multiversion)
        if not problems:
            return []
        return [f"a better candidate was skipped, as dnf (best=False) skips it: {problem}" for problem in problems]

    @staticmethod
    def _explain(problems: list[Any]) -> list[str]:
        """Each problem and the rules that make it, as libsolv words them (and dnf prints them)."""
        details = []
        for problem in problems:
            details.append(str(problem))
            rules = [str(rule.info()) for rule in problem.findallproblemrules()]
            details += [f"  {rule}" for rule in dict.fromkeys(rules) if rule != str(problem)][:6]
        return details

    def _refuse_erasures(self, transaction: Any) -> None:
        """A package the transaction removes outright (not replaced by a newer one) is refused, as
        `dnf install` without --allowerasing refuses it."""
        solv = self.solv
        for cls in transaction.classify(solv.Transaction.SOLVER_TRANSACTION_SHOW_OBSOLETES):
            if cls.type == solv.Transaction.SOLVER_TRANSACTION_ERASE:
                names = ", ".join(str(s) for s in cls.solvables())
                raise AnswerIsNo(f"dnf: installing the request would remove base-image packages: {names}")

    def _refuse_mixing(self, new: list[Any]) -> None:
        """No source mixing: a name two repositories offer must be assigned to one of them."""
        offered: dict[str, list[str]] = {}
        for s in self.pool.solvables_iter():
            if s.repo.name != "@System" and s.isinstalled() is False and self._considered(s):
                owners = offered.setdefault(s.name, [])
                if s.repo.name not in owners:
                    owners.append(s.repo.name)
        for s in new:
            owners = offered.get(s.name, [])
            if len(owners) > 1:
                first, second = (self.repos[o].intent for o in owners[:2])
                raise InputError(
                    self.intent.path,
                    f"{second.where}",
                    f"{s.name} is offered by repositories {first.id!r} and {second.id!r}: assign it to one "
                    f"(includepkgs of one, or excludepkgs of the other)",
                )

    def _considered(self, s: Any) -> bool:
        loaded = self.repos.get(s.repo.name)
        return loaded is not None and not _excluded(s.name, loaded.intent.includepkgs, loaded.intent.excludepkgs)

    def _package(self, s: Any, original: str | None) -> DnfPackage:
        solv = self.solv
        loaded = self.repos[s.repo.name]
        checksum = s.lookup_checksum(solv.SOLVABLE_CHECKSUM)
        nevra = f"{s.name}-{s.evr}.{s.arch}"
        if checksum is None or checksum.typestr() != "sha256":
            kind = checksum.typestr() if checksum is not None else "no"
            raise UpstreamError(
                f"{loaded.record.baseurl}: {nevra} has a {kind} checksum in the primary metadata; "
                "imagelock locks by sha256 only"
            )
        location = s.lookup_location()[0]
        if not location or location.startswith("/") or ".." in Path(location).parts or "://" in location:
            raise UpstreamError(f"{loaded.record.baseurl}: {nevra} has no plain relative location ({location!r})")
        epoch, version, release = split_evr(s.evr)
        return DnfPackage(
            name=s.name,
            version=version,
            release=release,
            arch=s.arch,
            repo=s.repo.name,
            location=location,
            sha256=checksum.hex(),
            size=s.lookup_num(solv.SOLVABLE_DOWNLOADSIZE),
            epoch=epoch,
            requested=original is not None,
            original=original,
        )
