"""The apt layer of `lock update`: intent -> signed indexes -> closure -> AptLayer.

The kernel layer shares the loaded archive: its packages are part of the
apt request (so the closure contains them and their dependencies), and
`kernel.resolve` names them in the KernelLayer.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from imagelock.domains.apt import archive, pins, suggest
from imagelock.domains.apt.closure import Installed, Resolution, Root
from imagelock.domains.apt.kernel import KernelPlan, plan
from imagelock.domains.apt.packages_index import Stanza, read
from imagelock.domains.apt.recording import upstream_sources
from imagelock.domains.apt.universe import Ambiguous, Universe
from imagelock.domains.context import UpdateContext
from imagelock.errors import InputError
from imagelock.formats.openpgp import dearmor_keyring
from imagelock.hashing import sha256_file
from imagelock.intent.apt import (
    ARCHIVE,
    NAME,
    SNAPSHOT_ID,
    AptIntent,
    KernelIntent,
    PackageRequest,
    RepositoryIntent,
    parse_apt,
    parse_kernel,
)
from imagelock.lock.model import (
    INSTANT,
    AptIndexFile,
    AptLayer,
    AptPackage,
    AptRepository,
    AptSource,
    KernelLayer,
    instant,
)
from imagelock.net.upstreams import AptAccess


@dataclass
class Archive:
    """The archive as pinned for one update: verified sources and every package they offer."""

    snapshot: str | None
    base: str  # the archive URL the lock records (snapshot included)
    keyring_sha256: str
    sources: list[AptSource]
    universe: Universe
    keyring: str | None = None  # the keyring file keyring_sha256 is of, base64 (None: unsigned)
    repositories: list[AptRepository] = field(default_factory=list)


@dataclass
class Loaded:
    intent: AptIntent
    kernel: KernelIntent | None
    archive: Archive


def snapshot_of(cutoff: str) -> str:
    """`2024-04-15T00:00:00Z` -> `20240415T000000Z`, the snapshot service's form."""
    moment = dt.datetime.strptime(cutoff, INSTANT)
    return moment.strftime("%Y%m%dT%H%M%SZ")


def archive_base(intent: AptIntent, cutoff: str) -> tuple[str | None, str]:
    """(snapshot, URL of the archive at that snapshot): the snapshot service's URL with the timestamp in
    place of @SNAPSHOTID@ (Ubuntu's `…/ubuntu/<ts>`, Debian's `…/archive/debian/<ts>`), or
    `<archive>/<YYYYMMDDTHHMMSSZ>` when `archive` itself is the snapshot service."""
    snapshot = intent.snapshot or (snapshot_of(cutoff) if intent.snapshot_from_cutoff else None)
    if snapshot and intent.snapshot_service:
        return snapshot, intent.snapshot_service.replace(SNAPSHOT_ID, snapshot).rstrip("/")
    return snapshot, f"{intent.archive}/{snapshot}" if snapshot else intent.archive


def _read_suites(
    base: str,
    fetch_base: str | None,
    suites: list[str],
    components: list[str],
    architectures: list[str],
    gpg_keyring: Path | None,
    *,
    allow_unsigned: bool = False,
    snapshot: str | None = None,
    repository: str = "",
    pin_fields: bool = False,
) -> tuple[list[AptSource], list[Stanza], list[archive.IndexText]]:
    """Each suite's verified InRelease and Packages indexes, as sources and stanzas (nothing unverified is parsed)."""
    sources: list[AptSource] = []
    stanzas: list[Stanza] = []
    texts: list[archive.IndexText] = []
    for suite in suites:
        flat = archive.is_flat(suite)
        signed = archive.fetch_release(fetch_base or base, suite, gpg_keyring, allow_unsigned)
        where = f"{archive.suite_url(base, suite)}/InRelease"
        if snapshot:
            archive.check_snapshot(signed.release, snapshot, where)
        elif fetch_base is None:  # a recording is old by design, like a snapshot
            archive.check_fresh(signed.release, where)
        moment = archive.release_time(signed.release, where)
        indexes = []
        # A flat repository has one Packages index for every architecture: its stanzas are filtered instead.
        for component in components or [""]:
            for arch in architectures[:1] if flat else architectures:
                index = archive.fetch_packages(fetch_base or base, suite, signed.release, component, arch)
                indexes.append(AptIndexFile(path=index.path, sha256=index.sha256, size=index.size))
                read_stanzas = read(index.text, suite, f"{suite}/{index.path}")
                if flat:
                    read_stanzas = [s for s in read_stanzas if s.arch in (*architectures, "all")]
                for stanza in read_stanzas if repository else ():
                    stanza.repository = repository
                stanzas.extend(read_stanzas)
                texts.append(index.text)
        release = signed.release
        sources.append(
            AptSource(
                suite=suite,
                uri=base,
                components=components,
                architectures=architectures,
                inrelease_sha256=signed.inrelease_sha256,
                indexes=indexes,
                date=instant(moment) if moment else None,
                origin=(release.origin or None) if pin_fields else None,
                label=(release.label or None) if pin_fields else None,
                release_suite=(release.suite or None) if pin_fields else None,
                codename=(release.codename or None) if pin_fields else None,
            )
        )
    return sources, stanzas, texts


def load_archive(
    intent: AptIntent,
    cutoff: str,
    workdir: Path,
    *,
    fetch_base: str | None = None,
    keyring: Path | None = None,
    recording: Path | None = None,
) -> Archive:
    """Fetch and verify every suite's InRelease and Packages indexes; nothing unverified is parsed.

    `fetch_base` and `keyring` stand in for the intent's when a recorded
    archive is served on loopback from a recording; the lock still records the real URL, and
    for a trimmed `recording` the distribution's own signed sources
    (imagelock/domains/apt/recording.py).
    """
    snapshot, base = archive_base(intent, cutoff)
    keyring = keyring or intent.keyring
    gpg_keyring = dearmor_keyring(keyring, workdir) if keyring and not intent.allow_unsigned else None
    keyring_sha256 = sha256_file(keyring) if gpg_keyring is not None and keyring else "unsigned"
    keyring_file = keyring if gpg_keyring is not None else None
    sources, stanzas, texts = _read_suites(
        base,
        fetch_base,
        intent.suites,
        intent.components,
        intent.architectures,
        gpg_keyring,
        allow_unsigned=intent.allow_unsigned,
        snapshot=snapshot,
        pin_fields=bool(intent.repositories),
    )
    if recording is not None and intent.keyring is not None and not intent.allow_unsigned:
        upstream = upstream_sources(recording, sources, dearmor_keyring(intent.keyring, workdir))
        if upstream is not None:  # a trimmed recording: record the distribution's own signed sources
            sources, keyring_sha256, keyring_file = upstream, sha256_file(intent.keyring), intent.keyring
    return Archive(
        snapshot=snapshot,
        base=base,
        keyring_sha256=keyring_sha256,
        keyring=base64.b64encode(keyring_file.read_bytes()).decode("ascii") if keyring_file else None,
        sources=sources,
        universe=Universe(stanzas, intent.architectures, texts),
    )


def load_repository(
    intent: AptIntent, repository: RepositoryIntent, workdir: Path, access: AptAccess
) -> tuple[AptRepository, list[Stanza], list[archive.IndexText]]:
    """One `[apt.repositories.<name>]`, read as the main archive is (its own keyring, every index by its signed
    SHA256), with the Release fields apt preferences pin it by."""
    keyring = access.keyring or repository.keyring
    folder = workdir / f"repository-{repository.name}"
    folder.mkdir(parents=True, exist_ok=True)
    sources, stanzas, texts = _read_suites(
        repository.url,
        access.fetch_base,
        repository.suites,
        repository.components,
        intent.architectures,
        dearmor_keyring(keyring, folder),
        repository=repository.name,
        pin_fields=True,
    )
    locked = AptRepository(
        name=repository.name,
        url=repository.url,
        keyring_sha256=sha256_file(keyring),
        keyring=base64.b64encode(keyring.read_bytes()).decode("ascii"),
        priority=repository.priority,
        sources=sources,
        assigned=sorted(n for n, r in intent.assign.items() if r == repository.name),
    )
    return locked, stanzas, texts


def partition(
    intent: AptIntent, main: list[Stanza], others: list[list[Stanza]]
) -> tuple[list[Stanza], dict[str, tuple[str, ...]]]:
    """Every name served by one repository: the one the intent assigns, or the only one that has it.

    Returns the stanzas kept and the names several repositories offer with no assignment
    (layer.resolve refuses one of those when the closure needs it).
    """
    names = [ARCHIVE, *(r.name for r in intent.repositories)]
    offered: dict[str, list[str]] = {}
    for repository, stanzas in zip(names, [main, *others], strict=True):
        for stanza in stanzas:
            where = offered.setdefault(stanza.name, [])
            if repository not in where:
                where.append(repository)
    for name, repository in intent.assign.items():
        where = offered.get(name, [])
        if repository not in where:
            verb = "does" if len(where) == 1 else "do"
            others_text = f"; {' and '.join(repr(r) for r in where)} {verb}" if where else ""
            raise InputError(
                intent.path,
                f"apt.assign.{name}",
                f"repository {repository!r} does not offer {name!r}{others_text}",
            )
    ambiguous = {name: tuple(where) for name, where in offered.items() if len(where) > 1 and name not in intent.assign}
    kept = [
        stanza
        for stanza in (s for group in (main, *others) for s in group)
        if len(offered[stanza.name]) == 1
        or (stanza.name in intent.assign and intent.assign[stanza.name] == (stanza.repository or ARCHIVE))
    ]
    return kept, ambiguous


def load(ctx: UpdateContext) -> Loaded:
    """Parse the sections and load the archive once per update (apt and kernel share it)."""
    memo = ctx.cache.get("apt")
    if memo is not None:
        return memo
    path = ctx.intent.path
    section = ctx.intent.section("apt")
    if section is None:
        raise InputError(path, "kernel", "needs an [apt] section naming the archive the kernel comes from")
    intent = parse_apt(section, path)
    kernel_section = ctx.intent.section("kernel")
    kernel = parse_kernel(kernel_section, path) if kernel_section is not None else None
    access = ctx.upstreams.apt_archive(archive_base(intent, ctx.cutoff)[1], (path, "apt.archive"))
    loaded = Loaded(
        intent=intent,
        kernel=kernel,
        archive=load_archive(
            intent,
            ctx.cutoff,
            ctx.workdir or Path("."),
            fetch_base=access.fetch_base,
            keyring=access.keyring,
            recording=access.recording,
        ),
    )
    if intent.repositories:
        with_repositories(loaded, ctx)
    ctx.cache["apt"] = loaded
    return loaded


def with_repositories(loaded: Loaded, ctx: UpdateContext) -> None:
    """Read every `[apt.repositories]` and make the universe the partition of all of them."""
    intent, main = loaded.intent, loaded.archive
    repositories, groups, texts = [], [], list(main.universe.texts)
    for repository in intent.repositories:
        access = ctx.upstreams.apt_archive(repository.url, (intent.path, f"apt.repositories.{repository.name}.url"))
        locked, stanzas, repository_texts = load_repository(intent, repository, ctx.workdir or Path("."), access)
        repositories.append(locked)
        groups.append(stanzas)
        texts.extend(repository_texts)
    main_stanzas = [s for entries in main.universe.by_name.values() for s in entries]
    kept, ambiguous = partition(intent, main_stanzas, groups)
    main.universe = Universe(kept, intent.architectures, texts, ambiguous)
    main.repositories = repositories
    problem = pins.clash(
        AptLayer(archive=intent.archive, keyring_sha256="", sources=main.sources, repositories=repositories)
    )
    if problem is not None:  # the image's apt could not be told which repository serves what
        raise InputError(intent.path, "apt.repositories", problem)


def read_manifest(path: Path, universe: Universe) -> list[Installed]:
    """A `dpkg-query -W` listing: `name[:arch]<TAB>version[<TAB>arch]` per line."""
    installed = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) not in (2, 3):
            raise InputError(path, f"line {number}", "expected `name<TAB>version` as `dpkg-query -W` prints it")
        name, _, arch = parts[0].partition(":")
        arch = parts[2] if len(parts) == 3 else (arch or universe.native)
        if not NAME.match(name):
            raise InputError(path, f"line {number}", f"{parts[0]!r} is not a Debian package name")
        provides = next((s.provides for s in universe.by_name.get(name, []) if s.version == parts[1]), "")
        installed.append(Installed(name=name, version=parts[1], arch=arch, provides=provides))
    return installed


def _root(loaded: Loaded, request: PackageRequest, flavours: list[str]) -> Stanza:
    universe = loaded.archive.universe
    path = loaded.intent.path
    arch = request.arch if request.arch not in (None, "all") else universe.native
    versions = universe.versions(request.name, arch)
    if not versions:
        others = universe.versions(request.name)
        if others:
            raise InputError(
                path,
                request.key,
                f"{request.original!r}: {request.name} exists only for "
                f"{', '.join(sorted({s.arch for s in others}))}, not {arch}",
            )
        providers = sorted(
            {
                s.name
                for s, _ in universe.providers(request.name)
                if universe.candidate(s.name, universe.arch_key(s)) is s
            }
        )
        if len(providers) == 1 and request.version is None:
            # apt-get: "Note, selecting 'X' instead of 'Y'" for a virtual name with one provider.
            stanza = universe.candidate(providers[0], arch)
            if stanza is not None:
                return stanza
        if providers:
            raise InputError(
                path,
                request.key,
                f"{request.original!r} is a virtual package provided by "
                f"{', '.join(providers[:8])}: name the one to install",
            )
        where = f"suites {', '.join(loaded.intent.suites)}; components {', '.join(loaded.intent.components)}"
        raise InputError(
            path,
            request.key,
            f"no package {request.name!r} in the archive ({where})"
            f"{suggest.for_unknown_name(universe, request.name, flavours)}",
        )
    if request.version is None:
        return versions[0]
    for stanza in versions:
        if stanza.version == request.version:
            universe.pins[(request.name, arch)] = request.version
            return stanza
    raise InputError(
        path,
        request.key,
        f"{request.original!r}: "
        + suggest.for_missing_version(universe, request.name, arch, request.version, loaded.archive.snapshot),
    )


_KERNEL_PACKAGE = re.compile(
    r"^linux-(?:image|image-unsigned|modules|modules-extra|headers)-"
    r"([0-9]+\.[0-9]+\.[0-9]+-[0-9]+(?:-[a-z0-9-]+)?)$"
)


def _check_kernel_requests(loaded: Loaded, kplan: KernelPlan) -> None:
    """A kernel package of another ABI next to [kernel] would build the driver for the wrong kernel."""
    for request in loaded.intent.packages:
        match = _KERNEL_PACKAGE.match(request.name)
        if match and match.group(1) not in (kplan.release, kplan.abi):
            raise InputError(
                loaded.intent.path,
                request.key,
                f"{request.original!r} is for kernel "
                f"{match.group(1)}, but kernel.version is {kplan.release}: the driver would be built "
                "against another kernel's headers (leave kernel packages to [kernel])",
            )


def kernel_plan(loaded: Loaded) -> KernelPlan | None:
    return plan(loaded.archive.universe, loaded.kernel) if loaded.kernel else None


def request_roots(loaded: Loaded) -> list[Root]:
    """What the closure starts from: each asked-for package at its pinned or newest version, then
    the kernel's image, modules and headers (unless asked for by name already)."""
    kplan = kernel_plan(loaded)
    flavours = [loaded.kernel.flavour] if loaded.kernel else []
    flavours.append("generic")
    if kplan is not None:
        _check_kernel_requests(loaded, kplan)
    roots = [
        Root(stanza=_root(loaded, request, flavours), original=request.original) for request in loaded.intent.packages
    ]
    universe = loaded.archive.universe
    asked = {(r.stanza.name, universe.arch_key(r.stanza)) for r in roots}
    for name in kplan.packages if kplan else []:
        stanza = universe.candidate(name, universe.native)
        if stanza is not None and (name, universe.native) not in asked:
            roots.append(Root(stanza=stanza, original=f"kernel {kplan.release}" if kplan else name))
    return roots


def ambiguity(loaded: Loaded, error: Ambiguous) -> InputError:
    """A name two repositories offer, with no assignment: one line naming the request or `apt.assign`, the
    package and every repository that has it."""
    intent = loaded.intent
    urls = {ARCHIVE: intent.archive, **{r.name: r.url for r in intent.repositories}}
    key = next((r.key for r in intent.packages if r.name == error.name), "apt.assign")
    offered = " and ".join(f"{r!r} ({urls[r]})" for r in error.repositories)
    return InputError(
        intent.path,
        key,
        f"{error.name!r} is offered by repositories {offered}: say which one serves it, "
        f'e.g. [apt.assign] "{error.name}" = "{error.repositories[-1]}"',
    )


def resolve(ctx: UpdateContext) -> AptLayer:
    loaded = load(ctx)
    universe = loaded.archive.universe
    try:
        roots = request_roots(loaded)
        installed = read_manifest(loaded.intent.base_manifest, universe) if loaded.intent.base_manifest else []
        resolution = Resolution(universe, installed)
        chosen = resolution.resolve(roots)
    except Ambiguous as error:
        raise ambiguity(loaded, error) from None
    for warning in resolution.warnings:
        print(f"imagelock: warning: apt: {warning}", file=sys.stderr)
    packages = [
        AptPackage(
            name=c.stanza.name,
            version=c.stanza.version,
            arch=c.stanza.arch,
            filename=c.stanza.filename,
            sha256=c.stanza.sha256,
            size=c.stanza.size,
            suite=c.stanza.suite,
            requested=c.requested,
            original=c.original,
            depends_on=c.depends_on,
            transitional=c.stanza.transitional or None,  # left out of the lock unless true
            repository=c.stanza.repository or None,  # left out for the main archive
        )
        for c in chosen.values()
    ]
    manifest = loaded.intent.base_manifest
    return AptLayer(
        archive=loaded.intent.archive,
        keyring_sha256=loaded.archive.keyring_sha256,
        # With repositories the build configures the archive beside them, so it installs the archive's keyring
        # too; without, the lock stays what it was (the base image's own source and key serve the archive).
        keyring=loaded.archive.keyring if loaded.archive.repositories else None,
        snapshot=loaded.archive.snapshot,
        snapshot_service=loaded.intent.snapshot_service,
        sources=loaded.archive.sources,
        packages=packages,
        base_manifest_sha256=sha256_file(manifest) if manifest else None,
        base_kernels=base_kernels(installed),
        repositories=loaded.archive.repositories,
        assigned=sorted(n for n, r in loaded.intent.assign.items() if r == ARCHIVE),
    )


_KERNEL_IMAGE = re.compile(r"^linux-image-(?:unsigned-)?([0-9]+\.[0-9]+\.[0-9]+-[0-9]+-[a-z0-9-]+)$")


def base_kernels(installed: list[Installed]) -> list[str]:
    """The kernel releases a base image's package listing holds (`linux-image-5.15.0-1051-aws`), not the
    flavour's metapackage (`linux-image-aws`): what it boots before the build changes anything."""
    return sorted({m[1] for i in installed if (m := _KERNEL_IMAGE.match(i.name))})


def resolve_kernel(ctx: UpdateContext) -> KernelLayer:
    loaded = load(ctx)
    try:
        kplan = kernel_plan(loaded)
    except Ambiguous as error:
        raise ambiguity(loaded, error) from None
    assert kplan is not None
    return KernelLayer(
        version=kplan.release,
        flavour=kplan.flavour,
        abi=kplan.abi,
        packages=kplan.packages,
        chosen_by=kplan.chosen_by,
        ga=kplan.ga,
    )
