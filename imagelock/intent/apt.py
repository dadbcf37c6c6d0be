"""Strict parsers for the `[apt]` and `[kernel]` intent sections.

Package names and versions are checked against Debian policy's character sets
here, so nothing else ever sees a string that could be mistaken for an option
or a shell word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imagelock.errors import InputError, did_you_mean
from imagelock.formats import debversion
from imagelock.intent.fields import check_keys

APT_KEYS = (
    "archive",
    "snapshot",
    "snapshot-service",
    "suites",
    "components",
    "architectures",
    "keyring",
    "allow-unsigned",
    "packages",
    "base-manifest",
    "repositories",
    "assign",
)
REPOSITORY_KEYS = ("url", "suites", "components", "keyring", "priority")
ARCHIVE = "archive"  # the name `assign` gives the main [apt] archive
REPOSITORY_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# A flat repository's suite: a directory below the URL ending in "/" (`./` for the URL itself), as apt writes it.
FLAT_SUITE = re.compile(r"^(?:\./|[A-Za-z0-9][A-Za-z0-9._\-]*(?:/[A-Za-z0-9][A-Za-z0-9._\-]*)*/)$")
# Pin priorities a repository may have: below 990, the priority of an assignment (docs/sources.md),
# and above 0, so the repository still serves the names only it has, as apt installs them.
PRIORITY_RANGE = (1, 989)
DEFAULT_PRIORITY = 500
KERNEL_KEYS = ("version", "flavour", "packages")
KERNEL_PARTS = ("image", "modules", "headers", "modules-extra")
DEFAULT_KERNEL_PARTS = ("image", "modules", "headers")

NAME = re.compile(r"^[a-z0-9][a-z0-9+.\-]+$")
ARCH = re.compile(r"^[a-z0-9][a-z0-9\-]*$")
SUITE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]*$")
REPOSITORY_SUITE = re.compile(f"(?:{SUITE.pattern})|(?:{FLAT_SUITE.pattern})")
SNAPSHOT = re.compile(r"^[0-9]{8}T[0-9]{6}Z$")
SNAPSHOT_ID = "@SNAPSHOTID@"  # where the timestamp goes, as apt's `Snapshots:` Release field writes it
KERNEL_VERSION = re.compile(r"^(?P<abi>[0-9]+\.[0-9]+\.[0-9]+-[0-9]+)-(?P<flavour>[a-z0-9][a-z0-9\-]*)$")
FLAVOUR = re.compile(r"^[a-z][a-z0-9\-]*$")
# generic-hwe-24.04, generic-hwe-24.04-edge: a flavour followed by the hardware-enablement track Ubuntu names
# its metapackages after (linux-image-generic-hwe-24.04); the kernel packages keep the plain flavour.
FLAVOUR_TRACK = re.compile(r"^(?P<flavour>[a-z][a-z0-9\-]*?)-(?P<track>hwe-[0-9]{2}\.[0-9]{2}(?:-edge)?)$")


@dataclass(frozen=True)
class PackageRequest:
    """One `packages` entry: `name`, `name=version`, `name:arch`, `name:arch=version`."""

    name: str
    arch: str | None
    version: str | None
    original: str
    key: str  # where it came from, e.g. apt.packages[3]


@dataclass
class RepositoryIntent:
    """One `[apt.repositories.<name>]`: another signed apt repository beside the main archive."""

    name: str
    url: str
    suites: list[str]
    components: list[str]  # empty for a flat repository
    keyring: Path
    priority: int = DEFAULT_PRIORITY

    @property
    def flat(self) -> bool:
        return self.suites[0].endswith("/")


@dataclass
class AptIntent:
    path: Path
    archive: str
    suites: list[str]
    components: list[str]
    architectures: list[str]
    keyring: Path | None
    allow_unsigned: bool
    packages: list[PackageRequest]
    snapshot: str | None = None  # a YYYYMMDDTHHMMSSZ timestamp
    snapshot_from_cutoff: bool = False
    base_manifest: Path | None = None
    # The snapshot service's URL with @SNAPSHOTID@ where the timestamp goes; `archive` is then the
    # upstream archive, the build's last source. None: `archive` itself is read (at `<archive>/<snapshot>`).
    snapshot_service: str | None = None
    repositories: list[RepositoryIntent] = field(default_factory=list)
    # package name -> the repository that serves it (ARCHIVE for the main archive)
    assign: dict[str, str] = field(default_factory=dict)

    @property
    def native(self) -> str:
        return self.architectures[0]


@dataclass
class KernelIntent:
    path: Path
    flavour: str
    abi: str | None  # None: the ABI the flavour's (or track's) metapackage names, else the newest
    parts: list[str] = field(default_factory=lambda: list(DEFAULT_KERNEL_PARTS))
    track: str | None = None  # "hwe-24.04": asked by kernel.flavour = "generic-hwe-24.04"; None: the release's own

    @property
    def metapackage(self) -> str:
        """The metapackage whose dependency says which ABI the flavour (or its track) means today."""
        return f"linux-image-{self.flavour}" + (f"-{self.track}" if self.track else "")


def _strings(
    table: dict[str, Any],
    key: str,
    path: Path,
    pattern: re.Pattern[str],
    what: str,
    default: list[str] | None = None,
    prefix: str = "apt",
) -> list[str]:
    value = table.get(key, default)
    where = f"{prefix}.{key}"
    if value is None:
        raise InputError(path, where, f"missing: expected an array of {what}")
    if not isinstance(value, list) or not value:
        raise InputError(path, where, f"expected a non-empty array of {what}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not pattern.match(item):
            raise InputError(
                path, f"{where}[{i}]", f"expected {what[:-1] if what.endswith('s') else what}, found {item!r}"
            )
    if len(set(value)) != len(value):
        raise InputError(path, where, "lists the same entry twice")
    return value


def parse_package(text: Any, path: Path, key: str) -> PackageRequest:
    if not isinstance(text, str):
        raise InputError(path, key, 'expected a string such as "dkms" or "dkms=2.8.7-2ubuntu2.2"')
    spec, eq, version = text.partition("=")
    name, colon, arch = spec.partition(":")
    if not NAME.match(name):
        what = repr(text) if name == text else f"{text!r}: {name!r}"
        raise InputError(
            path,
            key,
            f"{what} is not a Debian package name (lower-case letters, digits, '+', '-', '.'; at least two characters)",
        )
    if colon and not ARCH.match(arch):
        raise InputError(path, key, f"{text!r}: {arch!r} is not an architecture name")
    if eq and not debversion.is_valid(version):
        raise InputError(path, key, f"{text!r}: {version!r} is not a Debian version")
    return PackageRequest(name=name, arch=arch or None, version=version or None, original=text, key=key)


def parse_apt(table: Any, path: Path) -> AptIntent:
    check_keys(table, APT_KEYS, path, "apt")
    archive = table.get("archive")
    if not isinstance(archive, str) or not archive.startswith(("http://", "https://")):
        raise InputError(
            path,
            "apt.archive",
            "expected the http(s) URL of the distribution's archive, a mirror, or a snapshot service",
        )
    snapshot = table.get("snapshot")
    from_cutoff = False
    if snapshot is True:
        snapshot, from_cutoff = None, True
    elif snapshot is False:
        snapshot = None
    elif snapshot is not None and (not isinstance(snapshot, str) or not SNAPSHOT.match(snapshot)):
        raise InputError(
            path,
            "apt.snapshot",
            'expected a snapshot timestamp such as "20240415T000000Z", '
            f"or true to take it from universe.cutoff; found {snapshot!r}",
        )
    service = table.get("snapshot-service")
    if service is not None:
        if (
            not isinstance(service, str)
            or not service.startswith(("http://", "https://"))
            or service.count(SNAPSHOT_ID) != 1
            or any(c.isspace() for c in service)
        ):
            raise InputError(
                path,
                "apt.snapshot-service",
                f"expected the snapshot service's URL with {SNAPSHOT_ID} where the timestamp goes, such as "
                f'"https://snapshot.ubuntu.com/ubuntu/{SNAPSHOT_ID}" or '
                f'"https://snapshot.debian.org/archive/debian/{SNAPSHOT_ID}"; found {service!r}',
            )
        if snapshot is None and not from_cutoff:
            raise InputError(
                path,
                "apt.snapshot",
                "a snapshot-service needs the snapshot to read: true (the state at universe.cutoff) or a "
                'timestamp such as "20240415T000000Z"',
            )
    suites = _strings(table, "suites", path, REPOSITORY_SUITE, 'suite names such as "jammy"')
    components = _strings(table, "components", path, ARCH, 'components such as "main"', ["main"])
    architectures = _strings(table, "architectures", path, ARCH, 'architectures such as "amd64"', ["amd64"])
    allow_unsigned = table.get("allow-unsigned", False)
    if not isinstance(allow_unsigned, bool):
        raise InputError(path, "apt.allow-unsigned", "expected true or false")
    keyring_value = table.get("keyring")
    keyring = None
    if keyring_value is None:
        if not allow_unsigned:
            raise InputError(
                path,
                "apt.keyring",
                "missing: expected the path of the archive's signing "
                "keyring (or allow-unsigned = true, which locks nothing trustworthy)",
            )
    else:
        if not isinstance(keyring_value, str):
            raise InputError(path, "apt.keyring", "expected a path to a keyring file")
        keyring = (path.parent / keyring_value).resolve()
        if not keyring.is_file():
            raise InputError(path, "apt.keyring", f"no such keyring file {keyring_value!r}")
    base_manifest = None
    if "base-manifest" in table:
        value = table["base-manifest"]
        if not isinstance(value, str):
            raise InputError(path, "apt.base-manifest", "expected a path to a `dpkg-query -W` listing")
        base_manifest = (path.parent / value).resolve()
        if not base_manifest.is_file():
            raise InputError(path, "apt.base-manifest", f"no such file {value!r}")
    raw_packages = table.get("packages", [])
    if not isinstance(raw_packages, list):
        raise InputError(path, "apt.packages", 'expected an array of strings such as "dkms=2.8.7-2ubuntu2.2"')
    packages: list[PackageRequest] = []
    seen: dict[tuple[str, str | None], str] = {}
    for i, text in enumerate(raw_packages):
        request = parse_package(text, path, f"apt.packages[{i}]")
        if request.arch is not None and request.arch not in (*architectures, "all"):
            raise InputError(
                path,
                request.key,
                f"{text!r}: architecture {request.arch!r} is not in "
                f"apt.architectures ({', '.join(architectures)}){did_you_mean(request.arch, architectures)}",
            )
        ident = (request.name, request.arch)
        if ident in seen:
            raise InputError(path, request.key, f"{request.name} is already requested as {seen[ident]!r}")
        seen[ident] = text
        packages.append(request)
    repositories = _repositories(table.get("repositories", {}), path, architectures)
    assign = _assign(table.get("assign", {}), path, repositories)
    return AptIntent(
        path=path,
        archive=archive.rstrip("/"),
        suites=suites,
        components=components,
        architectures=architectures,
        keyring=keyring,
        allow_unsigned=allow_unsigned,
        packages=packages,
        snapshot=snapshot,
        snapshot_from_cutoff=from_cutoff,
        base_manifest=base_manifest,
        snapshot_service=service.rstrip("/") if service else None,
        repositories=repositories,
        assign=assign,
    )


def _repositories(value: Any, path: Path, architectures: list[str]) -> list[RepositoryIntent]:
    """`[apt.repositories.<name>]`, in the order the intent lists them."""
    if not isinstance(value, dict):
        raise InputError(path, "apt.repositories", "expected tables such as [apt.repositories.cuda]")
    out = []
    for name, table in value.items():
        where = f"apt.repositories.{name}"
        if not REPOSITORY_NAME.match(name) or name == ARCHIVE:
            raise InputError(
                path,
                where,
                "expected a repository name of lower-case letters, digits and '-' "
                f"(not {ARCHIVE!r}, the name of the main [apt] archive)",
            )
        out.append(_repository(name, check_keys(table, REPOSITORY_KEYS, path, where), path, where))
    return out


def _repository(name: str, table: dict[str, Any], path: Path, where: str) -> RepositoryIntent:
    url = table.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or any(c.isspace() for c in url):
        raise InputError(path, f"{where}.url", "expected the http(s) URL of the repository")
    suites = _strings(
        table, "suites", path, REPOSITORY_SUITE, 'suite names such as "jammy" (or "./" for a flat one)', None, where
    )
    flats = [s.endswith("/") for s in suites]
    if any(flats) and len(suites) != 1:
        raise InputError(path, f"{where}.suites", 'a flat repository has one suite, such as ["./"]')
    if flats[0]:
        if "components" in table:
            raise InputError(
                path,
                f"{where}.components",
                f"a flat repository (suite {suites[0]!r}) has no components: its Packages index sits beside its "
                "InRelease; leave components out",
            )
        components: list[str] = []
    else:
        components = _strings(table, "components", path, ARCH, 'components such as "main"', ["main"], where)
    keyring_value = table.get("keyring")
    if not isinstance(keyring_value, str):
        raise InputError(
            path,
            f"{where}.keyring",
            "missing: expected the path of the repository's signing keyring (every repository is signed)",
        )
    keyring = (path.parent / keyring_value).resolve()
    if not keyring.is_file():
        raise InputError(path, f"{where}.keyring", f"no such keyring file {keyring_value!r}")
    priority = table.get("priority", DEFAULT_PRIORITY)
    low, high = PRIORITY_RANGE
    if isinstance(priority, bool) or not isinstance(priority, int) or not low <= priority <= high:
        raise InputError(
            path,
            f"{where}.priority",
            f"expected an apt pin priority from {low} to {high} (990 is an assignment's), found {priority!r}",
        )
    return RepositoryIntent(
        name=name, url=url.rstrip("/"), suites=suites, components=components, keyring=keyring, priority=priority
    )


def _assign(value: Any, path: Path, repositories: list[RepositoryIntent]) -> dict[str, str]:
    """`[apt.assign]`: package name -> the repository that serves it."""
    names = [ARCHIVE, *(r.name for r in repositories)]
    if not isinstance(value, dict):
        raise InputError(path, "apt.assign", 'expected a table of package name = "repository"')
    out = {}
    for package, repository in value.items():
        where = f"apt.assign.{package}"
        if isinstance(repository, dict):  # `python3.11 = "x"` unquoted is a dotted key: a nested table
            raise InputError(
                path,
                where,
                f'expected a repository name; a package name with a dot must be quoted: "{package}.…" = "…"',
            )
        if not NAME.match(package):
            raise InputError(path, where, f"{package!r} is not a Debian package name")
        if not isinstance(repository, str) or repository not in names:
            raise InputError(
                path,
                where,
                f"unknown repository {repository!r}{did_you_mean(str(repository), names)}; "
                f"expected one of: {', '.join(names)}",
            )
        out[package] = repository
    return out


def parse_kernel(table: Any, path: Path) -> KernelIntent:
    check_keys(table, KERNEL_KEYS, path, "kernel")
    version = table.get("version")
    flavour = table.get("flavour")
    if version is None and flavour is None:
        raise InputError(
            path,
            "kernel.version",
            "missing: expected a kernel release such as "
            '"5.15.0-105-generic" (or kernel.flavour such as "generic" for the kernel the flavour means)',
        )
    abi = None
    track = None
    if isinstance(flavour, str) and (split := FLAVOUR_TRACK.match(flavour)):
        flavour, track = split["flavour"], split["track"]
    if version is not None:
        if not isinstance(version, str):
            raise InputError(path, "kernel.version", 'expected a string such as "5.15.0-105-generic"')
        match = KERNEL_VERSION.match(version)
        if not match:
            hint = ""
            if re.match(r"^[0-9]+\.[0-9]+\.[0-9]+-[0-9]+\.[0-9]+$", version):
                abi_guess = version.rsplit(".", 1)[0]
                hint = (
                    f" ({version!r} is a package version; the kernel release is "
                    f'"{abi_guess}-generic" or another flavour)'
                )
            raise InputError(
                path,
                "kernel.version",
                f'expected a kernel release ABI-flavour such as "5.15.0-105-generic", found {version!r}{hint}',
            )
        abi = match["abi"]
        if flavour is not None and flavour != match["flavour"]:
            asked = table.get("flavour")
            raise InputError(path, "kernel.flavour", f"{asked!r} disagrees with kernel.version {version!r}")
        flavour = match["flavour"]
    if not isinstance(flavour, str) or not FLAVOUR.match(flavour):
        raise InputError(
            path,
            "kernel.flavour",
            f'expected a kernel flavour such as "generic", "generic-hwe-24.04" or "aws", found {flavour!r}',
        )
    parts_value = table.get("packages", list(DEFAULT_KERNEL_PARTS))
    if not isinstance(parts_value, list) or not parts_value:
        raise InputError(path, "kernel.packages", f"expected a non-empty array of: {', '.join(KERNEL_PARTS)}")
    for i, part in enumerate(parts_value):
        if part not in KERNEL_PARTS:
            raise InputError(
                path,
                f"kernel.packages[{i}]",
                f"unknown part {part!r}"
                f"{did_you_mean(str(part), KERNEL_PARTS)}; expected one of: {', '.join(KERNEL_PARTS)}",
            )
    return KernelIntent(path=path, flavour=flavour, abi=abi, parts=list(parts_value), track=track)
