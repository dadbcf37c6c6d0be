"""The lock model: what a lock holds and how it is named.

Every part of imagelock imports this module. It holds the entry types of the
built-in domains (the bottom layer, like uv's *-types crates) and `Lock`, whose
`layers` map each domain's name to its locked section. The lock's digest is the
sha256 of its canonical table (imagelock.lock.tables) without the digest key and
the version label, so reformatting the TOML never changes the name of the image.
Text in and out is imagelock.lock.codec.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any, Generic, TypeVar

from imagelock.lock import tables

SCHEMA_VERSION = 1

T = TypeVar("T")


# --- Python layer -----------------------------------------------------------------


@dataclass
class Wheel:
    """The one file the target installs for a package: a wheel, or a source distribution the intent allows
    (`allow-sdist`), which the bootstrap builds into a wheel offline from the env's locked build packages."""

    filename: str
    url: str
    sha256: str
    size: int | None = None  # None where the index publishes no size (PyTorch's)
    upload_time: str | None = None


@dataclass
class PythonIndex:
    """An index and the packages pinned to it (empty for the default index)."""

    name: str
    url: str
    packages: list[str] = field(default_factory=list)
    default: bool = False


@dataclass
class PythonPackage:
    name: str
    version: str
    index: str
    requested: bool
    wheel: Wheel
    original: str | None = None
    dependencies: list[str] = field(default_factory=list)
    # For a package locked as an sdist: what its pyproject.toml's [build-system] requires (PEP 518), or PEP 517's
    # default for a project without one; the env's `build-packages` pin them.
    build_requires: list[str] = field(default_factory=list)

    @property
    def is_sdist(self) -> bool:
        """Whether the locked file is a source distribution (built by the bootstrap) rather than a wheel."""
        return not self.wheel.filename.endswith(".whl")


DEFAULT_ENV = "default"  # the name the one env of a plain `[python]` answers to
# An env's name is a file name (pylock.<name>.toml, requirements-<name>.txt), a shell word and an address (a
# variant takes envs by name): short, lower case, no dots.
ENV_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


@dataclass
class PythonEnv:
    """One Python environment: an interpreter, a venv, the indexes and the packages resolved for it.

    A lock made from `[python.envs.<name>]` holds one per env (`[[python.envs]]`), each resolved on its
    own, with the sha256 of what its intent asked for; a plain `[python]` is one env named "default",
    held in the layer's own fields (PythonLayer.environments() gives it in this form).
    """

    name: str
    version: str
    platform: str
    venv: str
    intent_sha256: str | None = None
    indexes: list[PythonIndex] = field(default_factory=list)
    packages: list[PythonPackage] = field(default_factory=list)
    # The wheels the env's sdists are built with (their build requirements, resolved together), installed into a
    # throwaway build venv by the bootstrap, never into the env's venv. Empty when every package is a wheel.
    build_packages: list[PythonPackage] = field(default_factory=list)


@dataclass
class PythonLayer:
    """The Python layer: one env in its own fields (a plain `[python]`), or several in `envs`.

    Read it through `environments()`, which gives every env in one form whatever the intent's shape.
    """

    version: str | None = None  # the one env's; None when the layer holds `envs`
    platform: str | None = None
    venv: str | None = None
    engine: str = "uv"
    indexes: list[PythonIndex] = field(default_factory=list)
    packages: list[PythonPackage] = field(default_factory=list)
    build_packages: list[PythonPackage] = field(default_factory=list)
    envs: list[PythonEnv] = field(default_factory=list)

    def environments(self) -> list[PythonEnv]:
        """Every env the layer holds, by name: its `envs`, or its one env named "default"."""
        if self.envs:
            return list(self.envs)
        return [
            PythonEnv(
                name=DEFAULT_ENV,
                version=self.version or "",
                platform=self.platform or "",
                venv=self.venv or "",
                indexes=self.indexes,
                packages=self.packages,
                build_packages=self.build_packages,
            )
        ]

    def env(self, name: str) -> PythonEnv | None:
        """The env of that name, or None."""
        return next((e for e in self.environments() if e.name == name), None)

    def only(self, names: list[str]) -> PythonLayer:
        """A layer holding only the named envs (what an image variant takes); KeyError names one it lacks."""
        have = {e.name: e for e in self.environments()}
        missing = [n for n in names if n not in have]
        if missing:
            raise KeyError(f"no python env {missing[0]!r} (the lock has: {', '.join(sorted(have))})")
        if not self.envs:
            return self
        return PythonLayer(engine=self.engine, envs=[have[n] for n in sorted(set(names))])

    def single(self, env: PythonEnv) -> PythonLayer:
        """One env as a layer of its own (the form of a plain [python]): what the rules judge env by env."""
        return PythonLayer(
            version=env.version,
            platform=env.platform,
            venv=env.venv,
            engine=self.engine,
            indexes=env.indexes,
            packages=env.packages,
            build_packages=env.build_packages,
        )

    @property
    def all_packages(self) -> list[PythonPackage]:
        """Every env's packages, one list (a package locked in two envs is in it twice)."""
        return [p for e in self.environments() for p in e.packages]


# --- apt layer --------------------------------------------------------------------


@dataclass
class AptIndexFile:
    """One signed index file (Packages.xz, ...) as listed in InRelease."""

    path: str
    sha256: str
    size: int


@dataclass
class AptSource:
    """One suite of the archive, as the snapshot served it."""

    suite: str
    uri: str
    # none for a flat repository (its one Packages index is beside its InRelease): empty, and left out
    components: list[str] = field(default_factory=list, kw_only=True)
    architectures: list[str]
    inrelease_sha256: str
    indexes: list[AptIndexFile] = field(default_factory=list)
    date: str | None = None  # the signed Release's Date, UTC, RFC 3339
    # What apt preferences pin a suite by (`Pin: release o=…,l=…,a=…,n=…`), from the signed Release;
    # recorded only in a layer with several repositories, where the build writes preferences.
    origin: str | None = None
    label: str | None = None
    release_suite: str | None = None
    codename: str | None = None


@dataclass
class AptRepository:
    """One `[apt.repositories.<name>]` beside the main archive, as it was read, and what the image gets of it."""

    name: str
    url: str
    keyring_sha256: str
    keyring: str  # the keyring file, base64: the build installs it (checked against keyring-sha256)
    priority: int
    sources: list[AptSource] = field(default_factory=list)
    assigned: list[str] = field(default_factory=list)  # the names the intent says it serves


@dataclass
class AptPackage:
    name: str
    version: str
    arch: str
    filename: str
    sha256: str
    size: int
    suite: str
    requested: bool = False
    original: str | None = None
    depends_on: list[str] = field(default_factory=list)
    transitional: bool | None = None  # True: its Description says it is a transitional package
    repository: str | None = None  # the [[apt.repositories]] that serves it; None: the main archive


@dataclass
class AptLayer:
    archive: str  # the upstream archive; with a snapshot service, the build's last source
    keyring_sha256: str
    # The archive's keyring file, base64, recorded only in a layer with repositories (None, and left out of
    # the lock, otherwise): the build installs it beside theirs, checked against keyring-sha256 (docs/sources.md).
    keyring: str | None = None
    snapshot: str | None = None
    snapshot_service: str | None = None  # its URL with @SNAPSHOTID@; the sources' URIs are that snapshot
    sources: list[AptSource] = field(default_factory=list)
    packages: list[AptPackage] = field(default_factory=list)
    base_manifest_sha256: str | None = None  # the `dpkg-query -W` listing the closure is relative to
    # The kernels that listing holds (`linux-image-<release>`): what the base image boots, before the build.
    base_kernels: list[str] = field(default_factory=list)
    repositories: list[AptRepository] = field(default_factory=list)  # beside the main archive
    assigned: list[str] = field(default_factory=list)  # the names the intent says the main archive serves


@dataclass
class KernelLayer:
    """One kernel ABI: its image, modules and headers packages (names in the apt layer)."""

    version: str
    flavour: str
    abi: str
    packages: list[str] = field(default_factory=list)
    # What chose the ABI for a flavour: "linux-image-generic 6.8.0-151.151" (the metapackage and its version) or
    # "the newest ABI of flavour amd64"; None when kernel.version pinned it, and in locks written before.
    chosen_by: str | None = None
    # The upstream version of the release's own kernel, the ABI linux-image-<flavour> names (6.8.0 on noble);
    # None when the archive has no such metapackage. Another upstream version is a hardware-enablement kernel.
    ga: str | None = None


# --- dnf layer ----------------------------------------------------------------------


@dataclass
class DnfRepo:
    """One repository as it was read: its expanded URL, the key that signed its repomd.xml, and the
    digests of the repomd.xml and primary metadata the closure was computed from."""

    id: str
    baseurl: str  # dnf's variables substituted (the releasever pins it)
    gpgkey_sha256: str
    gpgkey: str  # the ASCII-armored key itself: the build checks every .rpm's signature with it
    repomd_sha256: str
    primary: str  # location href of the primary metadata, as repomd.xml lists it
    primary_sha256: str
    primary_size: int
    revision: str | None = None  # repomd.xml's <revision>


@dataclass
class DnfPackage:
    name: str
    version: str
    release: str
    arch: str
    repo: str
    location: str  # download: <repo baseurl>/<location>
    sha256: str
    size: int
    epoch: int | None = None  # None for rpm's epoch 0 (what rpm prints as none)
    requested: bool = False
    original: str | None = None

    @property
    def evr(self) -> str:
        """`[epoch:]version-release`, as rpm and dnf print it."""
        return f"{self.epoch}:{self.version}-{self.release}" if self.epoch else f"{self.version}-{self.release}"

    @property
    def nevra(self) -> str:
        return f"{self.name}-{self.evr}.{self.arch}"


@dataclass
class DnfChoice:
    """What `[dnf.choose]` asked for and the real names it chose, so that `lock diff` shows a new name and a
    later `lock update` keeps it until `--upgrade`."""

    family: str  # as the intent names it: gcc
    rule: str  # newest-numbered
    names: list[str]  # the chosen name, then its companions at the same number: gcc14, gcc14-c++
    companions: list[str] = field(default_factory=list)  # as the intent wrote them: gcc-c++


@dataclass
class DnfLayer:
    releasever: str
    basearch: str
    repos: list[DnfRepo] = field(default_factory=list)
    packages: list[DnfPackage] = field(default_factory=list)
    install_weak_deps: bool = False
    base_manifest_sha256: str | None = None  # the `rpm -qa` listing the closure is relative to
    # With releasever = "latest": the release list (releasemd.xml) it was chosen from, as read.
    release_list: str | None = None
    release_list_sha256: str | None = None
    chosen: list[DnfChoice] = field(default_factory=list)  # [dnf.choose], by family


# --- NVIDIA driver ----------------------------------------------------------------


@dataclass
class NvidiaLayer:
    runfile: str
    url: str
    sha256: str
    md5: str
    size: int
    driver_version: str
    cuda_version: str
    install_flags: list[str] = field(default_factory=list)
    mirror_url: str | None = None


# --- models -----------------------------------------------------------------------


@dataclass
class ModelFile:
    """One file at the model's commit. `sha256` and `size` are None when the upstream could not give
    them at lock time: the build then measures the file (/var/lib/imagelock/measured.json) and
    `lock update --learn` records what it measured."""

    path: str
    sha256: str | None = None
    size: int | None = None
    lfs: bool = False

    @property
    def hashed(self) -> bool:
        return self.sha256 is not None


@dataclass
class Model:
    repo: str
    revision: str
    commit: str
    dest: str
    files: list[ModelFile] = field(default_factory=list)
    original_files: list[str] = field(default_factory=list)
    # config.json `architectures` at `commit` (e.g. ["Qwen3ForCausalLM"]): what the
    # compatibility rules match against the pinned vLLM's model registry.
    architectures: list[str] = field(default_factory=list)


# --- base image -------------------------------------------------------------------


@dataclass
class BaseAmi:
    region: str
    id: str
    name: str
    creation_date: str
    owner: str
    root_device: str | None = None
    # What the image publishes about itself (imagelock.domains.base.facts): its DescribeImages description,
    # and only what its name or description states: the NVIDIA driver, the CUDA releases, the EC2 instance
    # families it supports. The rules read them (imagelock.rules.base_image).
    description: str | None = None
    nvidia_driver: str | None = None
    cuda: list[str] = field(default_factory=list)
    supported_instances: list[str] = field(default_factory=list)
    # `source = "ssm"`: the public SSM parameter that named the image, the version of it that held this id at
    # the cutoff, and when that version was written (imagelock.domains.base.ssm).
    ssm_parameter: str | None = None
    ssm_version: int | None = None
    ssm_modified: str | None = None


@dataclass
class BaseLayer:
    image: str  # the intent's image, or the name pattern of an image given by owner and name
    amis: list[BaseAmi] = field(default_factory=list)
    arch: str | None = None  # amd64 / arm64 for a named image; None for a raw AMI id
    owner: str | None = None  # the owner an image given by owner and name must have
    # The EC2 instance families the intent's `instance-types` name: where the image runs. Another family is
    # another machine (a major version), as a new base generation is.
    instance_families: list[str] = field(default_factory=list)


# --- plain files ------------------------------------------------------------------


@dataclass
class PlainFile:
    """One `[[files]]` artifact: a file by URL, pinned by sha256, placed at `dest` (or extracted there).

    `sha256` is None when no bytes could be read at lock time and nothing states the hash (a recording that
    lists the URL without its bytes): the build measures the file and `lock update --learn` records it.
    `size` is None whenever the bytes were not read, even if a signed sums file or the intent gave the hash."""

    url: str
    dest: str
    sha256: str | None
    size: int | None
    mode: str = "0644"
    extract: bool = False  # a tarball unpacked into the directory `dest`
    # Where the sha256 came from, when a vendor's signed SHA256SUMS gave it: that file's URL and sha256,
    # and the keyring whose signature over it was checked.
    sums_url: str | None = None
    sums_sha256: str | None = None
    keyring_sha256: str | None = None


# --- mirror -----------------------------------------------------------------------


@dataclass
class Mirror:
    """Where `lock mirror` put every artifact, keyed by sha256."""

    url: str


# --- the lock ---------------------------------------------------------------------


@dataclass
class LockVariant:
    """`[variants.<name>]`: one image variant. It stores only what is its own; the rest it takes.

    `take` names the shared layers it uses whole (`nvidia`) and the entries of a shared list it uses
    (`files:/opt/efa`, by the list's identity); `layers` holds the layers it resolved itself: a table
    layer replaces the shared one, a list layer's entries come after those it takes.
    """

    intent_sha256: str  # of its effective intent (imagelock.intent.variants)
    take: list[str] = field(default_factory=list)
    layers: dict[str, Any] = field(default_factory=dict)

    def to_table(self) -> dict[str, Any]:
        table: dict[str, Any] = {"intent-sha256": self.intent_sha256}
        if self.take:
            table["take"] = sorted(self.take)
        for name, layer in self.layers.items():
            converted = tables.to_table(layer)
            if converted not in (None, [], {}):
                table[name] = converted
        return table


VARIANTS = "variants"  # the lock's table of variants, a part of its content beside the layers

INSTANT = "%Y-%m-%dT%H:%M:%SZ"


def instant(moment: dt.datetime) -> str:
    """A moment as every lock records it: UTC, to the second, `2025-05-01T00:00:00Z`."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.strftime(INSTANT)


@dataclass
class Universe:
    """The moment the world is pinned at: nothing uploaded later is considered."""

    cutoff: str
    source: str  # "intent" or "update-time"


# id(lock) -> its digest, for the locks inside a `Lock.frozen()` block.
_FROZEN: dict[int, str] = {}


class _Layer(Generic[T]):
    """A typed view of one built-in layer in `Lock.layers`, for the rules and generators that read it."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, lock: Lock, owner: type | None = None) -> T | None:
        return lock.layers.get(self.name)

    def __set__(self, lock: Lock, value: T | None) -> None:
        if value is None:
            lock.layers.pop(self.name, None)
        else:
            lock.layers[self.name] = value


class _ListLayer(Generic[T]):
    """A typed view of a layer that is a list of entries (empty when the lock has none)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, lock: Lock, owner: type | None = None) -> list[T]:
        entries: list[T] = lock.layers.get(self.name, [])
        return entries

    def __set__(self, lock: Lock, value: list[T]) -> None:
        if value:
            lock.layers[self.name] = value
        else:
            lock.layers.pop(self.name, None)


@dataclass
class Lock:
    """A lock: its name, what it was made from, when the world was pinned, and one section per domain.

    `layers` maps each domain's name to its locked section, in the order of the
    domain list (imagelock.domains.DOMAINS); the lock file writes them in that order.
    """

    name: str
    intent_sha256: str
    universe: Universe
    schema: int = SCHEMA_VERSION
    # The image's semantic version, bumped by `lock update` (imagelock.lock.version).
    # A label, not content: it is left out of the digest, so the same content
    # keeps the same image name whatever its version history.
    version: str | None = None
    layers: dict[str, Any] = field(default_factory=dict)
    mirror: Mirror | None = None
    # Image variants by name ({} for a lock of one image): what each takes of `layers` and what is its own.
    variants: dict[str, LockVariant] = field(default_factory=dict)

    python = _Layer[PythonLayer]()
    apt = _Layer[AptLayer]()
    kernel = _Layer[KernelLayer]()
    dnf = _Layer[DnfLayer]()
    nvidia = _Layer[NvidiaLayer]()
    models = _ListLayer[Model]()
    files = _ListLayer[PlainFile]()
    base = _Layer[BaseLayer]()

    def to_table(self) -> dict[str, Any]:
        """The lock as a plain table, without its digest: head, then each layer, then the mirror."""
        head = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("layers", "mirror", VARIANTS)}
        table = tables.to_table_fields(head)
        for name, layer in self.layers.items():
            converted = tables.to_table(layer)
            if converted not in (None, [], {}):
                table[name] = converted
        if self.variants:
            table[VARIANTS] = {name: self.variants[name].to_table() for name in sorted(self.variants)}
        if self.mirror is not None:
            table["mirror"] = tables.to_table(self.mirror)
        ordered: dict[str, Any] = tables.sorted_lock_table(table)
        return ordered

    def parts(self) -> list[str]:
        """The parts of its content besides the head and the mirror: each layer, then the variants table."""
        return [*self.layers, *([VARIANTS] if self.variants else [])]

    def digest(self) -> str:
        frozen = _FROZEN.get(id(self))
        if frozen is not None:
            return frozen
        return tables.digest_table(tables.content_table(self.to_table()))

    @contextmanager
    def frozen(self) -> Iterator[str]:
        """While the lock is only read (rendering, checking), its digest is computed once, not per use.

        A digest walks every locked entry (~15 ms on the seed); a render asks for it a dozen times.
        Nothing may change the lock inside the block.
        """
        if id(self) in _FROZEN:  # already frozen by an enclosing block, which ends it
            yield _FROZEN[id(self)]
            return
        digest = self.digest()
        _FROZEN[id(self)] = digest
        try:
            yield digest
        finally:
            del _FROZEN[id(self)]

    def image_name(self) -> str:
        """`<name>-<digest12>`: the name of the image this lock builds."""
        return f"{self.name}-{self.digest()[:12]}"
