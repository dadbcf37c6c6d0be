"""The lock model: what a lock holds, how it is read, written, and named.

Every part of imagelock imports this module and nothing else of each other's.
A lock is TOML, written with tomli-w and read with tomllib. Writing is
deterministic: tables come out in field order, arrays of packages sorted by
name, no timestamps other than recorded facts. The lock's digest is the sha256
of its canonical JSON form (sorted keys, no whitespace) without the digest key
itself, so reformatting the TOML never changes the name of the image.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import tempfile
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import tomli_w

from imagelock.errors import InputError, read_user_text

SCHEMA_VERSION = 1

T = TypeVar("T")


# --- Python layer -----------------------------------------------------------------


@dataclass
class Wheel:
    """The one file the target installs for a package."""

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


@dataclass
class PythonLayer:
    version: str
    platform: str
    venv: str
    engine: str
    indexes: list[PythonIndex] = field(default_factory=list)
    packages: list[PythonPackage] = field(default_factory=list)


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
    components: list[str]
    architectures: list[str]
    inrelease_sha256: str
    indexes: list[AptIndexFile] = field(default_factory=list)
    date: str | None = None  # the signed Release's Date, UTC, RFC 3339


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


@dataclass
class AptLayer:
    archive: str
    keyring_sha256: str
    snapshot: str | None = None
    sources: list[AptSource] = field(default_factory=list)
    packages: list[AptPackage] = field(default_factory=list)
    base_manifest_sha256: str | None = None  # the `dpkg-query -W` listing the closure is relative to


@dataclass
class KernelLayer:
    """One kernel ABI: its image, modules and headers packages (names in the apt layer)."""

    version: str
    flavour: str
    abi: str
    packages: list[str] = field(default_factory=list)


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
    path: str
    sha256: str
    size: int
    lfs: bool = False


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


@dataclass
class BaseLayer:
    image: str
    amis: list[BaseAmi] = field(default_factory=list)
    arch: str | None = None  # amd64 / arm64 for a named image; None for a raw AMI id


# --- mirror -----------------------------------------------------------------------


@dataclass
class Mirror:
    """Where `lock mirror` put every artifact, keyed by sha256."""

    url: str


# --- the lock ---------------------------------------------------------------------

INSTANT = "%Y-%m-%dT%H:%M:%SZ"


def instant(moment: dt.datetime) -> str:
    """A moment as every lock records it: UTC, to the second, `2025-05-01T00:00:00Z`."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
    return moment.strftime(INSTANT)



@dataclass
class Universe:
    """The moment the world is pinned at: nothing uploaded later is considered."""

    cutoff: str
    source: str  # "intent" or "update-time"


@dataclass
class Lock:
    name: str
    intent_sha256: str
    universe: Universe
    schema: int = SCHEMA_VERSION
    # The image's semantic version, bumped by `lock update` (imagelock.lock.version).
    # A label, not content: it is left out of the digest, so the same content
    # keeps the same image name whatever its version history.
    version: str | None = None
    python: PythonLayer | None = None
    apt: AptLayer | None = None
    kernel: KernelLayer | None = None
    nvidia: NvidiaLayer | None = None
    models: list[Model] = field(default_factory=list)
    base: BaseLayer | None = None
    mirror: Mirror | None = None

    def to_table(self) -> dict[str, Any]:
        """The lock as a plain table, without its digest."""
        return _sorted_lock_table(to_table(self))

    def digest(self) -> str:
        return digest_table(content_table(self.to_table()))

    def image_name(self) -> str:
        """`<name>-<digest12>`: the name of the image this lock builds."""
        return f"{self.name}-{self.digest()[:12]}"


# Arrays whose order carries no meaning are written sorted by these keys.
_SORT_KEYS: dict[str, tuple[str, ...]] = {
    "packages": ("name", "arch", "version"),
    "indexes": ("name", "path"),
    "sources": ("suite", "uri"),
    "files": ("path",),
    "amis": ("region",),
    "models": ("repo", "dest"),
}


def _sorted_lock_table(value: Any) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            item = _sorted_lock_table(item)
            keys = _SORT_KEYS.get(key)
            if keys and isinstance(item, list) and item and all(isinstance(x, dict) for x in item):
                item = sorted(item, key=lambda t: tuple(str(t.get(k, "")) for k in keys))
            out[key] = item
        return out
    if isinstance(value, list):
        return [_sorted_lock_table(x) for x in value]
    return value


def content_table(table: dict[str, Any]) -> dict[str, Any]:
    """The part of a lock table its digest covers: everything but the version label."""
    return {key: value for key, value in table.items() if key != "version"}


def digest_table(table: dict[str, Any]) -> str:
    """sha256 over the canonical JSON of a table (sorted keys, no whitespace)."""
    canonical = json.dumps(table, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- generic conversion between dataclasses and TOML tables ----------------------


def _key(name: str) -> str:
    return name.replace("_", "-")


def to_table(obj: Any) -> Any:
    """Dataclass -> table with kebab-case keys; None values and empty lists are left out."""
    if dataclasses.is_dataclass(obj):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if value is None or value == []:
                continue
            out[_key(f.name)] = to_table(value)
        return out
    if isinstance(obj, list):
        return [to_table(x) for x in obj]
    return obj


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is list:
        return "an array"
    if dataclasses.is_dataclass(tp):
        return "a table"
    return {str: "a string", int: "an integer", bool: "true or false"}.get(tp, str(tp))


def from_table(cls: type[T], table: Any, path: str | Path, where: str) -> T:
    """Table -> dataclass, strictly: unknown keys, missing keys and wrong types are InputErrors."""
    if not isinstance(table, dict):
        raise InputError(path, where, "expected a table")
    hints = typing.get_type_hints(cls)
    fields = {_key(f.name): f for f in dataclasses.fields(cls)}
    for key in table:
        if key not in fields:
            raise InputError(path, f"{where}.{key}" if where else key, "unknown key in lock")
    kwargs: dict[str, Any] = {}
    for key, f in fields.items():
        here = f"{where}.{key}" if where else key
        if key not in table:
            no_default = (f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
            if no_default:
                raise InputError(path, here, "missing")
            continue
        kwargs[f.name] = _convert(hints[f.name], table[key], path, here)
    return cls(**kwargs)


def _convert(tp: Any, value: Any, path: str | Path, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(options[0], value, path, where)
    if origin is list:
        (item_type,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise InputError(path, where, f"expected {_type_name(tp)}")
        return [_convert(item_type, v, path, f"{where}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(tp):
        return from_table(tp, value, path, where)
    if tp is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise InputError(path, where, "expected an integer")
    if tp is bool and not isinstance(value, bool):
        raise InputError(path, where, "expected true or false")
    if tp is str and not isinstance(value, str):
        raise InputError(path, where, "expected a string")
    return value


# --- reading and writing ----------------------------------------------------------


def dumps(lock: Lock) -> str:
    """The lock's TOML text, byte-for-byte deterministic."""
    table = lock.to_table()
    digest = digest_table(content_table(table))
    head = {"schema": table.pop("schema"), "name": table.pop("name")}
    if "version" in table:
        head["version"] = table.pop("version")
    ordered = {**head, "digest": digest, **table}
    header = "# imagelock lock file: written by `lock update`, do not edit by hand.\n"
    return header + tomli_w.dumps(ordered, multiline_strings=False)


def loads(text: str, path: str | Path) -> tuple[Lock, str]:
    """Parse a lock; returns it with the digest it claims (checked by `lock check`)."""
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, None, f"not valid TOML ({exc})") from None
    claimed = table.pop("digest", None)
    if not isinstance(claimed, str):
        raise InputError(path, "digest", "missing: expected the lock's sha256 digest")
    schema = table.get("schema")
    if schema != SCHEMA_VERSION:
        raise InputError(path, "schema", f"expected {SCHEMA_VERSION}, found {schema!r}")
    return from_table(Lock, table, path, ""), claimed


def read(path: str | Path) -> tuple[Lock, str]:
    return loads(read_user_text(path, "no such lock file (run `lock update` to create it)"), path)


def write_atomic(path: str | Path, text: str) -> bool:
    """Write via a temp file and rename; returns False when the content was already identical."""
    target = Path(path)
    data = text.encode("utf-8")
    if target.exists() and target.read_bytes() == data:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True
