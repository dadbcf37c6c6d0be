"""Python resolution with uv, run as a subprocess.

uv resolves for the *target* (`--python-version`, `--python-platform`), never the
host, and needs no interpreter of the target's version: it never downloads one
(`--no-python-downloads`); `--exclude-newer` pins the universe in time; every package pinned to an
index is declared through `[tool.uv.sources]` with that index marked
`explicit`, so uv takes it from there and from nowhere else (no index mixing:
the dependency-confusion attack needs a second index to win, and there is none).

A lock needs two things `uv pip compile` prints in two formats: the graph (who
requires whom: the `# via` annotations of requirements.txt) and each pin's
files (URL, sha256, size, upload time: pylock.toml, whose
`packages.dependencies` uv leaves empty). So the closure is resolved once to
requirements.txt and its pins are then looked up, `--no-deps`, as pylock.toml.
The lookup is answered from the cache the resolution just filled: for the seed,
about 40 ms beside a 1 s cold resolution. (`uv lock` writes both at once, but
resolves for every platform, not the target: 4.6 s for the seed.)
"""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import tomli_w
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

try:
    from uv import find_uv_bin
except ImportError:  # the `uv` package is a pinned dependency; a bare `uv` on PATH also serves
    find_uv_bin = None  # type: ignore[assignment]

from imagelock.engines.python.compiled import clean_report, parse_requirements
from imagelock.engines.python.contract import EngineRequest, ResolutionFailed, ResolvedPackage, SdistOnly
from imagelock.errors import ImagelockError, UpstreamError
from imagelock.lock.model import Wheel, instant
from imagelock.net.http import auth_failed, redact

ROOT_PROJECT = "imagelock-intent"
UV_TIMEOUT = 600


def filename_of(url: str) -> str:
    """The file name at the end of a wheel URL, unquoted (`torch-2.5.1%2Bcu124-...` -> `torch-2.5.1+cu124-...`)."""
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1])


def uv_binary() -> str:
    """The uv that ships with the `uv` package (a pinned dependency), else the one on PATH."""
    if find_uv_bin is not None:
        try:
            return str(find_uv_bin())
        except FileNotFoundError:
            pass
    return "uv"


def _environment(cache_dir: Path) -> dict[str, str]:
    """The user's uv settings must not change what a lock says: keep only what uv needs to run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    env["UV_CACHE_DIR"] = str(cache_dir)
    env["UV_NO_CONFIG"] = "1"
    env["UV_NO_PROGRESS"] = "1"
    env["NO_COLOR"] = "1"
    # The target's interpreter is often not on this machine: uv resolves for `--python-version` without it,
    # and must not spend ~10 s per call trying to download one (the flag says it too, for older uvs' env).
    env["UV_PYTHON_DOWNLOADS"] = "never"
    return env


def _project(request: EngineRequest, requirements: list[str]) -> str:
    """The synthetic pyproject.toml: the requirements, and each pinned package's one index."""
    project: dict[str, object] = {
        "project": {"name": ROOT_PROJECT, "version": "0", "dependencies": requirements},
    }
    sources = {}
    uv_indexes = []
    for index in request.indexes:
        uv_indexes.append({"name": index.name, "url": index.url, "explicit": True})
        for package in index.packages:
            sources[package] = {"index": index.name}
    tool: dict[str, object] = {}
    if uv_indexes:
        tool["index"] = uv_indexes
    if sources:
        tool["sources"] = sources
    if tool:
        project["tool"] = {"uv": tool}
    return tomli_w.dumps(project)


def _base_args(request: EngineRequest, workdir: Path, only_binary: list[str] | None = None) -> list[str]:
    """The flags of every call; `only_binary`: the packages held to wheels by name (else all but the allowed)."""
    args = [
        uv_binary(),
        "pip",
        "compile",
        str(workdir / "pyproject.toml"),
        "--python-version",
        request.python_version,
        "--python-platform",
        request.platform,
        "--exclude-newer",
        request.cutoff,
        "--no-header",
        "--quiet",
        "--no-progress",
        "--index-strategy",
        "first-index",
        "--no-python-downloads",
    ]
    if only_binary is not None:
        args += [f"--only-binary={name}" for name in only_binary]
    else:
        # Wheels only, but for the packages the intent allows as sdists: those resolve on their sdist (uv builds
        # it here, isolated, only when it must to read its metadata; the image builds it from the locked build
        # packages).
        args += ["--only-binary", ":all:"]
        for name in request.allow_sdist:
            args += ["--no-binary", name]
    if request.default_index:
        args += ["--default-index", request.default_index]
    # Indexes that publish no upload times (PyTorch's) would otherwise lose every file
    # to --exclude-newer; their packages are pinned by exact version and hash instead.
    for index in request.indexes:
        for package in index.packages:
            args += ["--exclude-newer-package", f"{package}=false"]
    return args


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(args, env=env, capture_output=True, text=True, timeout=UV_TIMEOUT, check=False)
    except FileNotFoundError:
        raise UpstreamError("uv is not installed (pip install uv)") from None
    except subprocess.TimeoutExpired:
        raise UpstreamError(f"uv did not finish resolving within {UV_TIMEOUT} s") from None


_FETCH = re.compile(r"Failed to fetch: `?(?P<url>[^\s`]+)")
# uv's hints when an index refused the credentials (uv 0.5+): its resolver then reports every package of that
# index "not found", which would read as a conflict; the hint is the cause.
_AUTH = re.compile(
    r"hint: An index(?: URL)? \((?P<url>[^)\s]+)\) (?:could not be queried due to a lack of valid "
    r"authentication credentials \((?P<code>401)|returned a (?P<forbidden>403) Forbidden)"
)


# uv's words for a package it could use only by building it (uv 0.5+: the hint; older: the cause).
_SDIST_ONLY = (
    re.compile(r"Wheels are required for `(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)` because building from source"),
    re.compile(r"(?:^|\s)(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:[<>=!~]=?[^\s,]*)? has no usable wheels"),
)

_ROOT = re.compile(rf"{re.escape(ROOT_PROJECT)}(?:==0)?(?P<depends> depends on)?")


def _own_words(text: str, request: EngineRequest, workdir: Path) -> str:
    """uv's text with the synthetic project and its file named as the user knows them: what the intent wrote."""
    text = text.replace(str(workdir / "pyproject.toml"), request.label)
    return _ROOT.sub(lambda m: f"{request.label} asks for" if m["depends"] else request.label, text)


def _failure(result: subprocess.CompletedProcess[str], request: EngineRequest, workdir: Path) -> ImagelockError:
    """uv's failure as imagelock reports it: no solution (exit 1), or which index could not be read."""
    text = _own_words(result.stderr.strip(), request, workdir)
    refused = _AUTH.search(text)
    if refused:
        return auth_failed(refused["url"], int(refused["code"] or refused["forbidden"]))
    sdist_only = sorted({str(canonicalize_name(m["name"])) for pattern in _SDIST_ONLY for m in pattern.finditer(text)})
    if sdist_only:
        return SdistOnly(sdist_only)
    if "No solution found" in text or "unsatisfiable" in text:
        return ResolutionFailed(clean_report(text))
    first = clean_report(text).splitlines()[0] if text else f"uv exited {result.returncode}"
    fetch = _FETCH.search(text)
    if fetch:
        url = fetch["url"]
        known = [(i.name, i.url) for i in request.indexes] + [("default", request.default_index or "")]
        name = next((n for n, u in known if u and url.startswith(u.rstrip("/"))), None)
        where = f"index {name!r} ({redact(url.rsplit('/', 2)[0] if name else url)})" if name else redact(url)
        return UpstreamError(f"{where} unreachable: {first.removeprefix('error: ')}; nothing was written")
    return UpstreamError(f"uv: {first}")


def _wheels(entry: dict[str, Any]) -> list[Wheel]:
    """A pylock.toml package's wheels (PEP 751 `packages.wheels`), then its `packages.sdist` (listed only for a
    package the request allows as one), as the lock records files."""
    wheels = []
    for wheel in [*entry.get("wheels", []), *([entry["sdist"]] if "sdist" in entry else [])]:
        upload = wheel.get("upload-time")
        wheels.append(
            Wheel(
                filename=filename_of(wheel["url"]),
                url=wheel["url"],
                sha256=wheel["hashes"]["sha256"],
                size=wheel.get("size"),
                upload_time=instant(upload) if upload is not None else None,
            )
        )
    return wheels


class UvEngine:
    """`uv pip compile` for the target, with its own cache and none of the user's uv settings."""

    cannot_pin_indexes: str | None = None

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir

    @staticmethod
    def caveats(python_version: str, target: str) -> list[str]:
        """None to give: uv resolves for the target itself, as of the cutoff."""
        return []

    def resolve(self, request: EngineRequest, workdir: Path) -> dict[str, ResolvedPackage]:
        """The closure with its graph, then the files of every pin."""
        packages = self.closure(request, workdir)
        self._add_wheels(request, packages, workdir)
        return packages

    def closure(self, request: EngineRequest, workdir: Path) -> dict[str, ResolvedPackage]:
        """The versions and who depends on whom, without files: all that a conflict probe needs."""
        workdir.mkdir(parents=True, exist_ok=True)
        requirements = list(request.requirements)
        packages = self._compile(request, requirements, workdir)
        # uv applies [tool.uv.sources] to direct requirements only. A package pinned to an
        # index that arrives transitively (torch under vllm) is made direct and resolved
        # again, so it too comes from its one index and never from the default one.
        direct = {canonicalize_name(Requirement(r).name) for r in requirements}
        stray: list[str] = sorted(
            n for i in request.indexes for n in map(canonicalize_name, i.packages) if n in packages and n not in direct
        )
        if stray:
            packages = self._compile(request, requirements + stray, workdir)
        return packages

    def _compile(self, request: EngineRequest, requirements: list[str], workdir: Path) -> dict[str, ResolvedPackage]:
        """One resolution to requirements.txt: the versions, and uv's `# via` annotations."""
        (workdir / "pyproject.toml").write_text(_project(request, requirements))
        output = workdir / "requirements.txt"
        # An existing output file is uv's list of preferred versions: what is locked stays.
        output.write_text("".join(f"{n}=={v}\n" for n, v in sorted(request.preferences.items())))
        args = _base_args(request, workdir) + ["-o", str(output), "--annotation-style", "line"]
        if request.upgrade:
            args.append("--upgrade")
        for name in request.upgrade_packages:
            args += ["--upgrade-package", name]
        if request.lowest_direct:
            args += ["--resolution", "lowest-direct"]
        if request.constraints:
            constraints = workdir / "constraints.txt"
            constraints.write_text("".join(f"{c}\n" for c in request.constraints))
            args += ["--constraint", str(constraints)]
        result = _run(args, _environment(self.cache_dir))
        if result.returncode != 0:
            raise _failure(result, request, workdir)
        return parse_requirements(output.read_text(), root=ROOT_PROJECT)

    def _add_wheels(self, request: EngineRequest, packages: dict[str, ResolvedPackage], workdir: Path) -> None:
        """Everything pinned and `--no-deps`: a pure lookup of each pin's files, as pylock.toml."""
        pinned = [f"{p.name}=={p.version}" for p in packages.values()]
        (workdir / "pyproject.toml").write_text(_project(request, pinned))
        lock_out = workdir / "pylock.toml"
        lock_out.unlink(missing_ok=True)
        # An allowed package is listed with its wheels and its sdist, so the domain keeps a wheel when the target
        # has one and the sdist only when it has none: allowed, not forced.
        held = sorted(set(packages) - set(request.allow_sdist)) if request.allow_sdist else None
        args = _base_args(request, workdir, held) + ["--no-deps", "--format", "pylock.toml", "-o", str(lock_out)]
        result = _run(args, _environment(self.cache_dir))
        if result.returncode != 0:
            raise _failure(result, request, workdir)
        for entry in tomllib.loads(lock_out.read_text()).get("packages", []):
            name = canonicalize_name(entry["name"])
            if name in packages:
                packages[name].wheels.extend(_wheels(entry))
