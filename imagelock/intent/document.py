"""The intent: what the user wants, read from `locks/<name>.toml`.

Every domain section is optional. Reading is strict: an unknown key gets a
did-you-mean, a wrong type or value names the file, the key and what was
expected. The intent's hash is taken over its parsed content in canonical form,
so key order and line endings never change it.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from imagelock.errors import InputError, did_you_mean
from imagelock.lock.model import digest_table, instant

# PyTorch's CUDA (and CPU/ROCm) wheel indexes, one per flavour. The flavours it
# publishes are listed at the root of the index; these are the ones with x86_64
# Linux wheels for torch >= 2.0.
TORCH_FLAVOURS = (
    "cpu", "cu117", "cu118", "cu121", "cu124", "cu126", "cu128", "cu129", "cu130",
    "rocm6.1", "rocm6.2", "rocm6.3", "rocm6.4",
)
TORCH_INDEX_BASE = "https://download.pytorch.org/whl"
TORCH_FAMILY = ("torch", "torchvision", "torchaudio", "triton")

# Target platforms as uv's --python-platform names them; manylinux_2_35 is the
# glibc of Ubuntu 22.04, manylinux_2_39 that of Ubuntu 24.04.
DEFAULT_PLATFORM = "x86_64-manylinux_2_35"
DEFAULT_PYTHON = "3.11"
DEFAULT_VENV = "/opt/venvs/ai"
DEFAULT_BOOTSTRAP = ("pip", "setuptools", "wheel")
_PLATFORM = re.compile(r"^(x86_64|aarch64)-manylinux_2_(1[7-9]|[2-4][0-9])$")
_PYTHON = re.compile(r"^3\.(9|1[0-4])$")
_INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")

DOMAINS = ("universe", "python", "apt", "kernel", "nvidia", "models", "base", "mirror")


@dataclass
class TorchIntent:
    cuda: str
    index_url: str
    packages: list[str]


@dataclass
class IndexIntent:
    name: str
    url: str
    packages: list[str]


@dataclass
class PythonIntent:
    version: str
    platform: str
    venv: str
    requirements: list[Requirement]
    bootstrap: list[Requirement]
    index_url: str | None = None
    torch: TorchIntent | None = None
    indexes: list[IndexIntent] = field(default_factory=list)

    def index_of(self) -> dict[str, str]:
        """Canonical package name -> the name of the one index it may come from."""
        pinned: dict[str, str] = {}
        if self.torch:
            for name in self.torch.packages:
                pinned[canonicalize_name(name)] = f"pytorch-{self.torch.cuda}"
        for index in self.indexes:
            for name in index.packages:
                pinned[canonicalize_name(name)] = index.name
        return pinned


@dataclass
class Intent:
    path: Path
    name: str
    sha256: str
    cutoff: str | None
    python: PythonIntent | None
    raw: dict[str, Any]

    def section(self, name: str) -> dict[str, Any] | list[Any] | None:
        """A domain's raw section, for the domain's own strict parser."""
        return self.raw.get(name)


def intent_hash(table: dict[str, Any]) -> str:
    """sha256 of the intent's canonical form: independent of key order and line endings."""
    return digest_table(_jsonable(table))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return value


def check_keys(table: Any, allowed: tuple[str, ...], path: Path, where: str) -> dict[str, Any]:
    """The table itself, after refusing anything that is not a table or has unknown keys."""
    if not isinstance(table, dict):
        raise InputError(path, where, "expected a table")
    for key in table:
        if key not in allowed:
            here = f"{where}.{key}" if where else key
            raise InputError(path, here, f"unknown key{did_you_mean(key, allowed)}; "
                             f"expected one of: {', '.join(allowed)}")
    return table


def _string(table: dict[str, Any], key: str, path: Path, where: str, default: str | None = None) -> str | None:
    value = table.get(key, default)
    if value is not None and not isinstance(value, str):
        raise InputError(path, f"{where}.{key}", f"expected a string, found {type(value).__name__}")
    return value


def _string_list(table: dict[str, Any], key: str, path: Path, where: str) -> list[str] | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(path, f"{where}.{key}", "expected an array of strings")
    return value


def parse_cutoff(value: Any, path: Path | str, key: str) -> str:
    """An RFC 3339 instant, normalised to `YYYY-MM-DDTHH:MM:SSZ` in UTC."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is None:
            raise InputError(path, key, f"expected an RFC 3339 time such as "
                             f"\"2024-12-28T00:00:00Z\", found {value!r}")
    else:
        raise InputError(path, key, "expected an RFC 3339 time such as \"2024-12-28T00:00:00Z\"")
    if moment.tzinfo is None:
        raise InputError(path, key, "expected a time zone (end the time with Z for UTC)")
    return instant(moment)


def _requirements(values: list[str], path: Path, key: str) -> list[Requirement]:
    parsed = []
    seen: dict[str, str] = {}
    for i, text in enumerate(values):
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            first = str(exc).splitlines()[0]
            raise InputError(path, f"{key}[{i}]", f"{text!r} is not a PEP 508 requirement ({first})") from None
        if requirement.url:
            raise InputError(path, f"{key}[{i}]", f"{text!r}: direct URL requirements cannot be locked "
                             "by hash from an index; name a version instead")
        name = canonicalize_name(requirement.name)
        if name in seen:
            raise InputError(path, f"{key}[{i}]", f"{requirement.name} is already required as {seen[name]!r}")
        seen[name] = text
        parsed.append(requirement)
    return parsed


def _parse_torch(table: Any, path: Path) -> TorchIntent:
    where = "python.torch"
    check_keys(table, ("cuda", "index-url", "packages"), path, where)
    cuda = _string(table, "cuda", path, where)
    if cuda is None:
        raise InputError(path, f"{where}.cuda", "missing: expected a CUDA flavour such as \"cu124\"")
    if cuda not in TORCH_FLAVOURS:
        raise InputError(path, f"{where}.cuda", f"unknown CUDA flavour {cuda!r}{did_you_mean(cuda, TORCH_FLAVOURS)}; "
                         f"expected one of: {', '.join(TORCH_FLAVOURS)}")
    index_url = _string(table, "index-url", path, where, f"{TORCH_INDEX_BASE}/{cuda}")
    packages = _string_list(table, "packages", path, where) or list(TORCH_FAMILY)
    return TorchIntent(cuda=cuda, index_url=index_url or "", packages=packages)


def _parse_indexes(value: Any, path: Path) -> list[IndexIntent]:
    if not isinstance(value, list):
        raise InputError(path, "python.index", "expected an array of tables ([[python.index]])")
    indexes = []
    for i, table in enumerate(value):
        where = f"python.index[{i}]"
        check_keys(table, ("name", "url", "packages"), path, where)
        name = _string(table, "name", path, where)
        url = _string(table, "url", path, where)
        packages = _string_list(table, "packages", path, where)
        if not name or not _INDEX_NAME.match(name):
            raise InputError(path, f"{where}.name", "expected a short lower-case name such as \"internal\"")
        if not url or not url.startswith(("http://", "https://", "file://")):
            raise InputError(path, f"{where}.url", "expected the http(s) URL of a PEP 503 simple index")
        if not packages:
            raise InputError(path, f"{where}.packages", "expected the packages that may come from this index: "
                             "an extra index serves only the packages named here")
        indexes.append(IndexIntent(name=name, url=url, packages=packages))
    return indexes


def _parse_python(table: Any, path: Path) -> PythonIntent:
    where = "python"
    check_keys(table, ("version", "platform", "venv", "requirements", "bootstrap", "index-url", "torch", "index"),
               path, where)
    version = _string(table, "version", path, where, DEFAULT_PYTHON) or DEFAULT_PYTHON
    if not _PYTHON.match(version):
        raise InputError(path, f"{where}.version", f"expected a Python minor version such as \"3.11\", found {version!r}")
    platform = _string(table, "platform", path, where, DEFAULT_PLATFORM) or DEFAULT_PLATFORM
    if not _PLATFORM.match(platform):
        raise InputError(path, f"{where}.platform", f"expected a target such as {DEFAULT_PLATFORM!r} "
                         f"(arch-manylinux_2_NN, NN = the target's glibc minor), found {platform!r}")
    venv = _string(table, "venv", path, where, DEFAULT_VENV) or DEFAULT_VENV
    if not venv.startswith("/") or not re.fullmatch(r"[A-Za-z0-9._/+-]+", venv):
        raise InputError(path, f"{where}.venv", f"expected an absolute path of plain characters, found {venv!r}")
    requirements = _requirements(_string_list(table, "requirements", path, where) or [], path, f"{where}.requirements")
    bootstrap_texts = _string_list(table, "bootstrap", path, where)
    bootstrap = _requirements(list(DEFAULT_BOOTSTRAP) if bootstrap_texts is None else bootstrap_texts,
                              path, f"{where}.bootstrap")
    asked = {canonicalize_name(r.name) for r in requirements}
    for i, requirement in enumerate(bootstrap):
        if canonicalize_name(requirement.name) in asked:
            raise InputError(path, f"{where}.bootstrap[{i}]", f"{requirement.name} is also in python.requirements; "
                             "name it in one place")
    index_url = _string(table, "index-url", path, where)
    torch = _parse_torch(table["torch"], path) if "torch" in table else None
    indexes = _parse_indexes(table.get("index", []), path)
    intent = PythonIntent(version=version, platform=platform, venv=venv, requirements=requirements,
                          bootstrap=bootstrap, index_url=index_url, torch=torch, indexes=indexes)
    _check_index_pinning(intent, path)
    _check_torch_locals(intent, path)
    return intent


def _check_index_pinning(intent: PythonIntent, path: Path) -> None:
    """One package, one index: a name pinned to two indexes is refused."""
    owner: dict[str, str] = {}
    if intent.torch:
        for name in intent.torch.packages:
            owner[canonicalize_name(name)] = f"pytorch-{intent.torch.cuda}"
    names = {f"pytorch-{intent.torch.cuda}"} if intent.torch else set()
    for i, index in enumerate(intent.indexes):
        if index.name in names or index.name == "pypi":
            raise InputError(path, f"python.index[{i}].name", f"{index.name!r} is already the name of an index")
        names.add(index.name)
        for name in index.packages:
            key = canonicalize_name(name)
            if key in owner:
                raise InputError(path, f"python.index[{i}].packages", f"{name} is already pinned to index "
                                 f"{owner[key]!r}: a package comes from exactly one index")
            owner[key] = index.name


def _check_torch_locals(intent: PythonIntent, path: Path) -> None:
    """`torch==2.6.0+cu121` under `cuda = "cu124"` can never be satisfied: say so now."""
    for i, requirement in enumerate(intent.requirements):
        for spec in requirement.specifier:
            if "+" not in spec.version:
                continue
            local = spec.version.split("+", 1)[1]
            if intent.torch is None:
                raise InputError(path, f"python.requirements[{i}]", f"{requirement} names the local build "
                                 f"+{local} but no [python.torch] cuda flavour is set")
            if local != intent.torch.cuda:
                raise InputError(path, f"python.requirements[{i}]", f"{requirement} names the +{local} build "
                                 f"but python.torch.cuda is {intent.torch.cuda!r}")


def loads(text: str, path: str | Path) -> Intent:
    path = Path(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, None, f"not valid TOML ({exc})") from None
    allowed = ("name", *DOMAINS)
    check_keys(raw, allowed, path, "")
    name = raw.get("name", path.stem.removesuffix(".intent"))
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", name):
        raise InputError(path, "name", f"expected a short lower-case name (letters, digits, '-'), found {name!r}")
    cutoff = None
    if "universe" in raw:
        universe = check_keys(raw["universe"], ("cutoff",), path, "universe")
        if "cutoff" in universe:
            cutoff = parse_cutoff(universe["cutoff"], path, "universe.cutoff")
    python = _parse_python(raw["python"], path) if "python" in raw else None
    return Intent(path=path, name=name, sha256=intent_hash(raw), cutoff=cutoff, python=python, raw=raw)


def read(path: str | Path) -> Intent:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, None, "no such intent file (create one with `lock init`)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, None, f"cannot be read ({exc.__class__.__name__})") from None
    return loads(text, path)


def default_lock_path(intent_path: str | Path) -> Path:
    """`locks/seed.toml` -> `locks/seed.lock`."""
    return Path(intent_path).with_suffix(".lock")
