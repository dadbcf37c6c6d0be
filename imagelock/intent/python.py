"""The `[python]` intent section: interpreter, target, venv, requirements and the one index each package comes from.

One image may hold several Python environments: `[python.envs.<name>]`, each a venv of its own, resolved on
its own. Every key set in `[python]` itself is inherited by every env, and an env overrides it by setting
the key again (a table such as `torch` is replaced whole); `constraints` are the exception: an env's own
are added to the shared ones. docs/python-envs.md says why tables keyed by name and not `[[python]]`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from imagelock.errors import InputError, did_you_mean
from imagelock.intent.fields import check_keys, string, string_list
from imagelock.lock.model import ENV_NAME

# PyTorch's CUDA (and CPU/ROCm) wheel indexes, one per flavour. The flavours it
# publishes are listed at the root of the index; these are the ones with x86_64
# Linux wheels for torch >= 2.0.
TORCH_FLAVOURS = (
    "cpu",
    "cu117",
    "cu118",
    "cu121",
    "cu124",
    "cu126",
    "cu128",
    "cu129",
    "cu130",
    "rocm6.1",
    "rocm6.2",
    "rocm6.3",
    "rocm6.4",
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
ENVS_KEY = "envs"
# The keys an env may set; every one of them may also be set in [python] itself, for every env.
ENV_KEYS = (
    "version",
    "platform",
    "venv",
    "requirements",
    "constraints",
    "bootstrap",
    "index-url",
    "torch",
    "index",
    "allow-sdist",
)
SHARED_KEYS = tuple(k for k in ENV_KEYS if k != "requirements")
ENVS_DEFAULT_VENV = "/opt/venvs/{name}"


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
    # Pins every resolution of this env honours without installing anything for them (uv's --constraint).
    constraints: list[Requirement] = field(default_factory=list)
    # Canonical names (PEP 503) of the packages that may be locked as a source distribution and built by the
    # bootstrap; every other package is a wheel or nothing (docs/python-envs.md, "Source distributions").
    allow_sdist: list[str] = field(default_factory=list)
    # `[python.envs.<name>]`: the env's name, and the sha256 of what it asks for ([python]'s keys
    # included), which its part of the lock records so `lock check` can say which env went stale.
    name: str | None = None
    sha256: str | None = None
    # On the `[python]` of an intent with envs: each env, complete. Its own fields are the shared ones.
    envs: list[PythonIntent] = field(default_factory=list)

    def environments(self) -> list[PythonIntent]:
        """The envs to lock: each `[python.envs.<name>]`, or this one for a plain `[python]`."""
        return self.envs or [self]

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


# Far beyond any image (the seed asks for 6, a large training image for a few hundred): a longer list
# is a mistake or an attack, refused before anything is parsed or resolved.
MAX_REQUIREMENTS = 5000


def _requirements(values: list[str], path: Path, key: str) -> list[Requirement]:
    if len(values) > MAX_REQUIREMENTS:
        raise InputError(path, key, f"{len(values)} requirements: at most {MAX_REQUIREMENTS} are read")
    parsed = []
    seen: dict[str, str] = {}
    for i, text in enumerate(values):
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            first = str(exc).splitlines()[0]
            raise InputError(path, f"{key}[{i}]", f"{text!r} is not a PEP 508 requirement ({first})") from None
        if requirement.url:
            raise InputError(
                path,
                f"{key}[{i}]",
                f"{text!r}: direct URL requirements cannot be locked by hash from an index; name a version instead",
            )
        name = canonicalize_name(requirement.name)
        if name in seen:
            raise InputError(path, f"{key}[{i}]", f"{requirement.name} is already required as {seen[name]!r}")
        seen[name] = text
        parsed.append(requirement)
    return parsed


def _parse_torch(table: Any, path: Path, where: str = "python.torch") -> TorchIntent:
    check_keys(table, ("cuda", "index-url", "packages"), path, where)
    cuda = string(table, "cuda", path, where)
    if cuda is None:
        raise InputError(path, f"{where}.cuda", 'missing: expected a CUDA flavour such as "cu124"')
    if cuda not in TORCH_FLAVOURS:
        raise InputError(
            path,
            f"{where}.cuda",
            f"unknown CUDA flavour {cuda!r}{did_you_mean(cuda, TORCH_FLAVOURS)}; "
            f"expected one of: {', '.join(TORCH_FLAVOURS)}",
        )
    default = f"{TORCH_INDEX_BASE}/{cuda}"
    index_url = _http_url(string(table, "index-url", path, where, default), path, f"{where}.index-url")
    packages = string_list(table, "packages", path, where) or list(TORCH_FAMILY)
    return TorchIntent(cuda=cuda, index_url=index_url or "", packages=packages)


def _http_url(url: str | None, path: Path, key: str) -> str | None:
    """An index URL the lock will hold: http(s) only, as every lock reader requires (lock/validate.py)."""
    if url is not None and not url.startswith(("http://", "https://")):
        raise InputError(path, key, f"expected the http(s) URL of a PEP 503 simple index, found {url!r}")
    return url


def _parse_indexes(value: Any, path: Path, key: str = "python.index") -> list[IndexIntent]:
    if not isinstance(value, list):
        raise InputError(path, key, f"expected an array of tables ([[{key}]])")
    indexes = []
    for i, table in enumerate(value):
        where = f"{key}[{i}]"
        check_keys(table, ("name", "url", "packages"), path, where)
        name = string(table, "name", path, where)
        url = string(table, "url", path, where)
        packages = string_list(table, "packages", path, where)
        if not name or not _INDEX_NAME.match(name):
            raise InputError(path, f"{where}.name", 'expected a short lower-case name such as "internal"')
        if not url or not url.startswith(("http://", "https://")):  # a lock refuses any other (lock/validate.py)
            raise InputError(path, f"{where}.url", "expected the http(s) URL of a PEP 503 simple index")
        if not packages:
            raise InputError(
                path,
                f"{where}.packages",
                "expected the packages that may come from this index: "
                "an extra index serves only the packages named here",
            )
        indexes.append(IndexIntent(name=name, url=url, packages=packages))
    return indexes


def parse(table: Any, path: Path) -> PythonIntent:
    """`[python]`: one env, or (with `[python.envs.<name>]`) several, each complete with what it inherits."""
    if isinstance(table, dict) and ENVS_KEY in table:
        return _parse_envs(table, path)
    check_keys(table, (*ENV_KEYS, ENVS_KEY), path, "python")
    return _parse_env(table, path, lambda key: "python", DEFAULT_VENV)


def _parse_envs(table: dict[str, Any], path: Path) -> PythonIntent:
    """`[python]` with `[python.envs.<name>]`: the shared keys, then each env with them as its defaults."""
    if "requirements" in table:
        raise InputError(
            path,
            "python.requirements",
            "with [python.envs], each env names its own requirements; pins every env shares go in python.constraints",
        )
    check_keys(table, (*SHARED_KEYS, ENVS_KEY), path, "python")
    envs = table[ENVS_KEY]
    if not isinstance(envs, dict) or not envs:
        raise InputError(path, f"python.{ENVS_KEY}", "expected one table per env ([python.envs.<name>])")
    shared = _parse_env({**table, ENVS_KEY: None}, path, lambda key: "python", DEFAULT_VENV, requirements=False)
    parsed: list[PythonIntent] = []
    venvs: dict[str, str] = {}
    for name, own in envs.items():
        where = f"python.{ENVS_KEY}.{name}"
        if not ENV_NAME.match(name):
            raise InputError(
                path,
                where,
                "expected an env name of lower-case letters, digits and '-' (at most 32), such as \"train\"",
            )
        check_keys(own, ENV_KEYS, path, where)
        if not own.get("requirements"):
            raise InputError(path, f"{where}.requirements", "missing: an env installs at least one requirement")
        merged = {k: v for k, v in table.items() if k != ENVS_KEY}
        merged.update(own)
        shared_constraints = table.get("constraints", [])
        if "constraints" in own and isinstance(own["constraints"], list) and isinstance(shared_constraints, list):
            merged["constraints"] = [*shared_constraints, *own["constraints"]]

        def at(key: str, own: dict[str, Any] = own, where: str = where) -> str:
            return where if key in own else "python"

        env = _parse_env(merged, path, at, ENVS_DEFAULT_VENV.format(name=name))
        env.name = name
        env.sha256 = intent_sha256(merged)
        if env.venv in venvs:
            raise InputError(
                path,
                f"{at('venv')}.venv",
                f"{env.venv} is already the venv of env {venvs[env.venv]!r}: each env has its own",
            )
        venvs[env.venv] = name
        parsed.append(env)
    shared.envs = sorted(parsed, key=lambda e: e.name or "")
    return shared


def intent_sha256(table: dict[str, Any]) -> str:
    """sha256 of an env's section as it is resolved ([python]'s keys included), in canonical JSON."""
    canonical = json.dumps(table, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _parse_env(
    table: Any, path: Path, at: Callable[[str], str], default_venv: str, requirements: bool = True
) -> PythonIntent:
    """One env from its table (for an env of `[python.envs]`, with [python]'s keys merged in); `at(key)` is
    the section a key came from, so an error names the line to fix."""
    version = string(table, "version", path, at("version"), DEFAULT_PYTHON) or DEFAULT_PYTHON
    if not _PYTHON.match(version):
        raise InputError(
            path, f"{at('version')}.version", f'expected a Python minor version such as "3.11", found {version!r}'
        )
    platform = string(table, "platform", path, at("platform"), DEFAULT_PLATFORM) or DEFAULT_PLATFORM
    if not _PLATFORM.match(platform):
        raise InputError(
            path,
            f"{at('platform')}.platform",
            f"expected a target such as {DEFAULT_PLATFORM!r} "
            f"(arch-manylinux_2_NN, NN = the target's glibc minor), found {platform!r}",
        )
    venv = string(table, "venv", path, at("venv"), default_venv) or default_venv
    if not venv.startswith("/") or not re.fullmatch(r"[A-Za-z0-9._/+-]+", venv):
        raise InputError(path, f"{at('venv')}.venv", f"expected an absolute path of plain characters, found {venv!r}")
    where = at("requirements")
    texts = string_list(table, "requirements", path, where) if requirements else None
    requirements_ = _requirements(texts or [], path, f"{where}.requirements")
    bootstrap_texts = string_list(table, "bootstrap", path, at("bootstrap"))
    bootstrap = _requirements(
        list(DEFAULT_BOOTSTRAP) if bootstrap_texts is None else bootstrap_texts, path, f"{at('bootstrap')}.bootstrap"
    )
    asked = {canonicalize_name(r.name) for r in requirements_}
    for i, requirement in enumerate(bootstrap):
        if canonicalize_name(requirement.name) in asked:
            raise InputError(
                path,
                f"{at('bootstrap')}.bootstrap[{i}]",
                f"{requirement.name} is also in {where}.requirements; name it in one place",
            )
    constraint_texts = string_list(table, "constraints", path, at("constraints")) or []
    constraints = _requirements(constraint_texts, path, f"{at('constraints')}.constraints")
    index_url = _http_url(string(table, "index-url", path, at("index-url")), path, f"{at('index-url')}.index-url")
    allow_sdist = _allow_sdist(string_list(table, "allow-sdist", path, at("allow-sdist")) or [], path, at)
    torch = _parse_torch(table["torch"], path, f"{at('torch')}.torch") if table.get("torch") is not None else None
    indexes = _parse_indexes(table.get("index", []), path, f"{at('index')}.index")
    intent = PythonIntent(
        version=version,
        platform=platform,
        venv=venv,
        requirements=requirements_,
        bootstrap=bootstrap,
        index_url=index_url,
        torch=torch,
        indexes=indexes,
        constraints=constraints,
        allow_sdist=allow_sdist,
    )
    _check_index_pinning(intent, path, at)
    _check_torch_locals(intent, path, at)
    return intent


# A project name as PEP 508 allows it (letters, digits, and . _ - inside): no version, extra or marker.
_PROJECT_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")


def _allow_sdist(names: list[str], path: Path, at: Callable[[str], str]) -> list[str]:
    """`allow-sdist`: project names only, each once, kept as PEP 503 normalises them."""
    key = f"{at('allow-sdist')}.allow-sdist"
    seen: dict[str, str] = {}
    for i, name in enumerate(names):
        if not _PROJECT_NAME.match(name):
            raise InputError(
                path, f"{key}[{i}]", f'expected a project name such as "antlr4-python3-runtime", found {name!r}'
            )
        canonical = canonicalize_name(name)
        if canonical in seen:
            raise InputError(path, f"{key}[{i}]", f"{name} is already allowed as {seen[canonical]!r}")
        seen[canonical] = name
    return sorted(seen)


def _check_index_pinning(intent: PythonIntent, path: Path, at: Callable[[str], str]) -> None:
    """One package, one index: a name pinned to two indexes is refused."""
    owner: dict[str, str] = {}
    if intent.torch:
        for name in intent.torch.packages:
            owner[canonicalize_name(name)] = f"pytorch-{intent.torch.cuda}"
    names = {f"pytorch-{intent.torch.cuda}"} if intent.torch else set()
    for i, index in enumerate(intent.indexes):
        if index.name in names or index.name == "pypi":
            raise InputError(path, f"{at('index')}.index[{i}].name", f"{index.name!r} is already the name of an index")
        names.add(index.name)
        for name in index.packages:
            key = canonicalize_name(name)
            if key in owner:
                raise InputError(
                    path,
                    f"{at('index')}.index[{i}].packages",
                    f"{name} is already pinned to index {owner[key]!r}: a package comes from exactly one index",
                )
            owner[key] = index.name


def _check_torch_locals(intent: PythonIntent, path: Path, at: Callable[[str], str]) -> None:
    """`torch==2.6.0+cu121` under `cuda = "cu124"` can never be satisfied: say so now."""
    for i, requirement in enumerate(intent.requirements):
        for spec in requirement.specifier:
            if "+" not in spec.version:
                continue
            local = spec.version.split("+", 1)[1]
            if intent.torch is None:
                raise InputError(
                    path,
                    f"{at('requirements')}.requirements[{i}]",
                    f"{requirement} names the local build +{local} but no [python.torch] cuda flavour is set",
                )
            if local != intent.torch.cuda:
                raise InputError(
                    path,
                    f"{at('requirements')}.requirements[{i}]",
                    f"{requirement} names the +{local} build but {at('torch')}.torch.cuda is {intent.torch.cuda!r}",
                )
