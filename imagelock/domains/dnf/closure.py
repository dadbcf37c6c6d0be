"""The closure `dnf install` computes, by libsolv, the SAT solver dnf itself uses (through libdnf).

libsolv reads the verified primary metadata (`repo.add_rpmmd`), the base image's installed packages form
the `@System` repository, and the request is solved with the solver flags libdnf's Goal sets for
`dnf install` (no uninstalling, yum-style obsoletes, best candidates obeying policy, installonly packages
such as kernel-devel installed beside the running ones, weak dependencies as `install_weak_deps` says).
tests/dnf/test_dnf_agreement.py holds the result to Debian's dnf 4.14 on the same repositories and base.

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
from imagelock.lock.model import DnfPackage

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

    def solve(self) -> Closure:
        solv, pool = self.solv, self.pool
        jobs = []
        requested: list[tuple[str, Any]] = []
        for i, text in enumerate(self.intent.packages):
            selection = self._select(text, f"dnf.packages[{i}]")
            requested.append((text, selection))
            # No SOLVER_FORCEBEST: dnf.conf's `best=False`, as Amazon Linux, Fedora and Debian ship it. So an
            # installed package satisfies its request as it is ("already installed"), as with dnf.
            jobs += selection.jobs(solv.Job.SOLVER_INSTALL)
        for provide in INSTALLONLY:
            selection = pool.select(provide, solv.Selection.SELECTION_PROVIDES)
            if not selection.isempty():
                jobs += selection.jobs(solv.Job.SOLVER_MULTIVERSION)
        solver = pool.Solver()
        solver.set_flag(solv.Solver.SOLVER_FLAG_ALLOW_UNINSTALL, 0)
        solver.set_flag(solv.Solver.SOLVER_FLAG_BEST_OBEY_POLICY, 1)
        solver.set_flag(solv.Solver.SOLVER_FLAG_YUM_OBSOLETES, 1)
        solver.set_flag(solv.Solver.SOLVER_FLAG_ALLOW_VENDORCHANGE, 1)
        solver.set_flag(solv.Solver.SOLVER_FLAG_IGNORE_RECOMMENDED, 0 if self.intent.install_weak_deps else 1)
        problems = solver.solve(jobs)
        if problems:
            details = []
            for problem in problems:
                details.append(str(problem))
                rules = [str(rule.info()) for rule in problem.findallproblemrules()]
                details += [f"  {rule}" for rule in dict.fromkeys(rules) if rule != str(problem)][:6]
            count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
            raise AnswerIsNo(f"dnf: the request cannot be installed ({count})", details)
        transaction = solver.transaction()
        self._refuse_erasures(transaction)
        new = list(transaction.newsolvables())
        self._refuse_mixing(new)
        origin: dict[int, str] = {}
        for text, selection in requested:
            for s in selection.solvables():
                origin.setdefault(s.id, text)
        return Closure([self._package(s, origin.get(s.id)) for s in new], list(self.warnings))

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
