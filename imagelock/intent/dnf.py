"""The `[dnf]` intent section (dnf, and yum on Amazon Linux): repositories, a release version, packages.

[dnf]
releasever = "2023.6.20241212"            # or "latest": the newest release before universe.cutoff
packages = ["gcc14", "kernel-devel"]
[[dnf.repos]]
id = "amazonlinux"
baseurl = "https://…/$releasever/…"       # dnf's own variables: $releasever, $basearch, $arch
gpgkey = "keys/RPM-GPG-KEY-amazon-linux-2023"
[dnf.choose]
gcc = { rule = "newest-numbered", with = ["gcc-c++"] }   # gcc14 and gcc14-c++ over gcc11 over gcc

Every value is checked here against rpm's and dnf's character sets, so nothing else sees a string that
could be taken for an option, a glob or a shell word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imagelock.errors import InputError, did_you_mean
from imagelock.intent.fields import check_keys

KEYS = (
    "releasever",
    "release-list",
    "basearch",
    "packages",
    "choose",
    "repos",
    "base-manifest",
    "install-weak-deps",
)
CHOOSE_KEYS = ("rule", "with")
NEWEST_NUMBERED = "newest-numbered"  # the one rule of [dnf.choose]: the family's highest-numbered name
RULES = (NEWEST_NUMBERED,)
REPO_KEYS = ("id", "baseurl", "gpgkey", "includepkgs", "excludepkgs")
BASEARCHES = ("x86_64", "aarch64")
VARIABLES = ("releasever", "basearch", "arch")
LATEST = "latest"  # releasever chosen from the release list at universe.cutoff
# Where Amazon Linux 2023 lists its release versions (aquasecurity/vuln-list-update, amazon/amazon.go:
# al2023ReleasemdURI); `dnf check-release-update` reads the same list.
AL2023_RELEASE_LIST = "https://cdn.amazonlinux.com/al2023/core/releasemd.xml"

RELEASEVER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
# What `dnf install` accepts that is not a glob or a path: name, name.arch, name-[epoch:]version[-release][.arch].
PACKAGE = re.compile(r"^[A-Za-z0-9_+][A-Za-z0-9_.+:~^-]*$")
NAME = re.compile(r"^[A-Za-z0-9_+][A-Za-z0-9_.+-]*$")  # a package name alone: [dnf.choose]
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_+*?][A-Za-z0-9_.+*?-]*$")  # includepkgs/excludepkgs: names and globs
_URL = re.compile(r"^https?://[^\s\x00-\x1f\x7f'\"\\`]+$")
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
ARMOR_BEGIN = b"-----BEGIN PGP PUBLIC KEY BLOCK-----"


@dataclass
class DnfRepoIntent:
    id: str
    baseurl: str  # as written, with dnf's variables
    gpgkey: Path
    where: str  # dnf.repos[i], for messages
    includepkgs: list[str] = field(default_factory=list)
    excludepkgs: list[str] = field(default_factory=list)

    def url(self, releasever: str, basearch: str) -> str:
        """The baseurl with dnf's variables substituted, as dnf substitutes them."""
        values = {"releasever": releasever, "basearch": basearch, "arch": basearch}
        return _VARIABLE.sub(lambda m: values[m.group(1) or m.group(2)], self.baseurl).rstrip("/")


@dataclass(frozen=True)
class DnfFamily:
    """`[dnf.choose] gcc = "newest-numbered"`: a family of numbered names (gcc, gcc11, gcc14) of which the
    rule picks one, and the companions (`gcc-c++`) that must be offered at the same number (gcc14-c++)."""

    family: str
    rule: str
    companions: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"dnf.choose.{self.family}"


@dataclass
class DnfIntent:
    path: Path
    releasever: str  # a release version, or LATEST
    basearch: str
    repos: list[DnfRepoIntent]
    packages: list[str]  # as written; `packages[i]` in messages
    base_manifest: Path | None = None
    install_weak_deps: bool = False
    release_list: str = AL2023_RELEASE_LIST  # read only for releasever = "latest"
    choose: list[DnfFamily] = field(default_factory=list)


def _path(table: dict[str, Any], key: str, path: Path, where: str, what: str) -> Path:
    raw = table.get(key)
    if not isinstance(raw, str) or not raw:
        raise InputError(path, f"{where}.{key}", f"missing: expected the path of {what}")
    resolved = (path.parent / raw).resolve()
    if not resolved.is_file():
        raise InputError(path, f"{where}.{key}", f"no such file {raw!r}")
    return resolved


def _names(table: dict[str, Any], key: str, path: Path, where: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list):
        raise InputError(path, f"{where}.{key}", "expected an array of package names or globs")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not NAME_PATTERN.match(item):
            raise InputError(path, f"{where}.{key}[{i}]", f"expected a package name or glob, found {item!r}")
    return list(value)


def _repo(table: Any, path: Path, where: str) -> DnfRepoIntent:
    check_keys(table, REPO_KEYS, path, where)
    repo_id = table.get("id")
    if not isinstance(repo_id, str) or not REPO_ID.match(repo_id):
        raise InputError(path, f"{where}.id", f'expected a repository id such as "amazonlinux", found {repo_id!r}')
    baseurl = table.get("baseurl")
    if not isinstance(baseurl, str) or not _URL.match(baseurl):
        raise InputError(path, f"{where}.baseurl", f"expected the http(s) URL of the repository, found {baseurl!r}")
    if "@" in baseurl.split("/", 3)[2]:
        raise InputError(path, f"{where}.baseurl", "credentials do not belong in an intent: the lock would hold them")
    for match in _VARIABLE.finditer(baseurl):
        name = match.group(1) or match.group(2)
        if name not in VARIABLES:
            raise InputError(
                path,
                f"{where}.baseurl",
                f"unknown variable ${name}{did_you_mean(name, VARIABLES)}; dnf's are ${', $'.join(VARIABLES)}",
            )
    gpgkey = _path(table, "gpgkey", path, where, "the repository's ASCII-armored signing key (RPM-GPG-KEY-…)")
    if not gpgkey.read_bytes().lstrip().startswith(ARMOR_BEGIN):
        raise InputError(
            path,
            f"{where}.gpgkey",
            f"{table['gpgkey']!r} is not an ASCII-armored OpenPGP public key (rpm imports only those)",
        )
    return DnfRepoIntent(
        id=repo_id,
        baseurl=baseurl,
        gpgkey=gpgkey,
        where=where,
        includepkgs=_names(table, "includepkgs", path, where),
        excludepkgs=_names(table, "excludepkgs", path, where),
    )


def _family(family: str, value: Any, path: Path) -> DnfFamily:
    key = f"dnf.choose.{family}"
    expected = f'expected "{NEWEST_NUMBERED}", or {{ rule = "{NEWEST_NUMBERED}", with = ["{family}-devel"] }}'
    if not NAME.match(family):
        raise InputError(path, key, f"expected a package name as the family, found {family!r}")
    companions: list[str] = []
    if isinstance(value, dict):
        check_keys(value, CHOOSE_KEYS, path, key)
        raw = value.get("with", [])
        if not isinstance(raw, list):
            raise InputError(path, f"{key}.with", f'expected an array of names such as "{family}-devel"')
        for i, name in enumerate(raw):
            if not isinstance(name, str) or not NAME.match(name) or not name.startswith(family) or name == family:
                raise InputError(
                    path,
                    f"{key}.with[{i}]",
                    f'expected a name of the family, {family!r} and a suffix (such as "{family}-devel"), '
                    f"found {name!r}",
                )
            companions.append(name)
        value = value.get("rule")
    if value not in RULES:
        raise InputError(path, key, f"{expected}; found {value!r}")
    return DnfFamily(family=family, rule=str(value), companions=tuple(dict.fromkeys(companions)))


def _choose(table: dict[str, Any], path: Path) -> list[DnfFamily]:
    raw = table.get("choose", {})
    if not isinstance(raw, dict):
        raise InputError(path, "dnf.choose", f'expected a table such as [dnf.choose] gcc = "{NEWEST_NUMBERED}"')
    return [_family(family, value, path) for family, value in raw.items()]


def parse(table: Any, path: Path) -> DnfIntent:
    check_keys(table, KEYS, path, "dnf")
    releasever = table.get("releasever")
    if not isinstance(releasever, str) or not RELEASEVER.match(releasever):
        raise InputError(
            path,
            "dnf.releasever",
            f'expected the release version the repositories are pinned at, such as "2023.6.20241212", '
            f'or "{LATEST}" (the newest release before universe.cutoff); found {releasever!r}',
        )
    release_list = table.get("release-list", AL2023_RELEASE_LIST)
    if not isinstance(release_list, str) or not _URL.match(release_list) or "@" in release_list.split("/", 3)[2]:
        raise InputError(
            path, "dnf.release-list", f"expected the http(s) URL of a releasemd.xml, found {release_list!r}"
        )
    if "release-list" in table and releasever != LATEST:
        raise InputError(
            path, "dnf.release-list", f'is read only with releasever = "{LATEST}"; found releasever {releasever!r}'
        )
    basearch = table.get("basearch", "x86_64")
    if basearch not in BASEARCHES:
        raise InputError(path, "dnf.basearch", f"expected one of {', '.join(BASEARCHES)}; found {basearch!r}")
    raw_repos = table.get("repos")
    if not isinstance(raw_repos, list) or not raw_repos:
        raise InputError(path, "dnf.repos", "missing: expected at least one [[dnf.repos]] table")
    repos: list[DnfRepoIntent] = []
    for i, raw in enumerate(raw_repos):
        repo = _repo(raw, path, f"dnf.repos[{i}]")
        if any(r.id == repo.id for r in repos):
            raise InputError(path, f"dnf.repos[{i}].id", f"{repo.id!r} is already the id of another repository")
        repos.append(repo)
    choose = _choose(table, path)
    packages = table.get("packages", [])
    if not isinstance(packages, list) or not (packages or choose):
        raise InputError(
            path,
            "dnf.packages",
            'expected a non-empty array of package names such as "gcc14" (or a [dnf.choose] table)',
        )
    seen: set[str] = set()
    for i, text in enumerate(packages):
        if not isinstance(text, str) or not PACKAGE.match(text):
            raise InputError(
                path,
                f"dnf.packages[{i}]",
                f"expected a package as dnf names one (name, name.arch or name-version-release), found {text!r}",
            )
        if text in seen:
            raise InputError(path, f"dnf.packages[{i}]", f"{text!r} is already requested")
        seen.add(text)
    weak = table.get("install-weak-deps", False)
    if not isinstance(weak, bool):
        raise InputError(path, "dnf.install-weak-deps", "expected true or false")
    manifest = None
    if "base-manifest" in table:
        manifest = _path(table, "base-manifest", path, "dnf", "the base image's `rpm -qa` manifest")
    return DnfIntent(
        path=path,
        releasever=releasever,
        basearch=basearch,
        repos=repos,
        packages=list(packages),
        base_manifest=manifest,
        install_weak_deps=weak,
        release_list=release_list,
        choose=choose,
    )
