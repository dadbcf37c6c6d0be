"""Python resolution with pip-compile, for teams that mandate pip-tools.

pip resolves for the machine it runs on, not for a target: the lock is right
for the target only when host and target agree, and the engine says so when
they do not (`caveats`). pip cannot pin a package to one index (every index it
is given serves every package), so a request that pins packages to indexes is
refused. pip-compile prints no files, so each pin's wheels are read from the
index listing the engine is handed, and the target's wheel is then chosen
exactly as with uv.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from imagelock.engines.python.compiled import clean_report, parse_requirements
from imagelock.engines.python.contract import EngineRequest, ResolutionFailed, ResolvedPackage, default_index_url
from imagelock.errors import UpstreamError
from imagelock.lock.model import Wheel

PIP_TIMEOUT = 900
PIP_ROOT = "-r"  # pip-compile names requirements from the input file `-r <file>` in `# via`


class ListedFile(Protocol):
    """A file as an index lists it (PEP 691: name, URL, digest, size, upload time)."""

    @property
    def filename(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def sha256(self) -> str | None: ...
    @property
    def size(self) -> int | None: ...
    @property
    def upload_time(self) -> str | None: ...


# (index URL, project) -> the project's files on that index, None when it has no such project.
ProjectFiles = Callable[[str, str], "Sequence[ListedFile] | None"]


def host_mismatch(version: str, target: str) -> str | None:
    """Why this host cannot stand in for the target, or None when it can."""
    host_version = f"{sys.version_info.major}.{sys.version_info.minor}"
    arch, _, manylinux = target.partition("-")
    libc, glibc = platform.libc_ver()
    reasons = []
    if host_version != version:
        reasons.append(f"Python {host_version} here, {version} on the target")
    if platform.machine() != arch:
        reasons.append(f"{platform.machine()} here, {arch} on the target")
    target_glibc = f"2.{manylinux.rsplit('_', 1)[1]}"
    if libc == "glibc" and glibc != target_glibc:
        reasons.append(f"glibc {glibc} here, {target_glibc} on the target")
    return "; ".join(reasons) or None


def _hashed_wheels(files: Sequence[ListedFile], version: str) -> list[Wheel]:
    """The listed wheels of one version that carry a sha256 (the only ones a lock can pin)."""
    wheels = []
    for item in files:
        if not item.filename.endswith(".whl") or not item.sha256:
            continue
        try:
            if str(parse_wheel_filename(item.filename)[1]) != version:
                continue
        except (InvalidWheelFilename, ValueError):
            continue
        wheels.append(
            Wheel(
                filename=item.filename, url=item.url, sha256=item.sha256, size=item.size, upload_time=item.upload_time
            )
        )
    return wheels


class PipToolsEngine:
    """pip-compile on this machine, then each pin's wheels from the index listing."""

    cannot_pin_indexes: str | None = "pip lets every index serve every package"

    def __init__(self, cache_dir: Path, project_files: ProjectFiles) -> None:
        self.cache_dir = cache_dir
        self.project_files = project_files

    @staticmethod
    def caveats(python_version: str, target: str) -> list[str]:
        """Why a lock made by pip-tools may not be what the intent asked for."""
        out = []
        mismatch = host_mismatch(python_version, target)
        if mismatch:
            out.append(
                f"pip-tools resolves for this machine, not the target ({mismatch}); the lock may not fit the target"
            )
        out.append("pip-tools cannot honour the upload-time cutoff; versions are as of now")
        return out

    def resolve(self, request: EngineRequest, workdir: Path) -> dict[str, ResolvedPackage]:
        """The closure pip-compile finds, each pin with the hashed wheels its index lists.

        `request.lowest_direct` and the cutoff are not honoured (pip has neither).
        """
        if request.indexes:
            raise ValueError("the pip-tools engine cannot pin packages to one index")
        index = request.default_index or default_index_url()
        if index is None:
            raise UpstreamError("pip-tools: no default index is known; set python.index-url")
        resolved = self._compile(request, index, workdir)
        for name, package in resolved.items():
            package.wheels.extend(_hashed_wheels(self.project_files(index, name) or [], package.version))
            if not package.wheels:
                raise UpstreamError(f"{name} {package.version}: the index lists no hashed wheel")
        return resolved

    def _compile(self, request: EngineRequest, index: str, workdir: Path) -> dict[str, ResolvedPackage]:
        workdir.mkdir(parents=True, exist_ok=True)
        source = workdir / "requirements.in"
        lines = [f"{r}\n" for r in request.requirements]
        if request.constraints:  # pip reads `-c FILE` in a requirements file, relative to it
            (workdir / "constraints.txt").write_text("".join(f"{c}\n" for c in request.constraints))
            lines.append("-c constraints.txt\n")
        source.write_text("".join(lines))
        output = workdir / "requirements.txt"
        output.unlink(missing_ok=True)
        if request.preferences:  # an existing output file is pip-compile's list of pins to keep
            output.write_text("".join(f"{n}=={v}\n" for n, v in sorted(request.preferences.items())))
        args = [
            sys.executable,
            "-m",
            "piptools",
            "compile",
            str(source),
            "-o",
            str(output),
            "--quiet",
            "--no-header",
            "--annotation-style",
            "line",
            "--allow-unsafe",
            "--no-emit-index-url",
            "--index-url",
            index,
            "--pip-args",
            "--only-binary :all:",
            "--cache-dir",
            str(self.cache_dir),
        ]
        if request.upgrade:
            args.append("--upgrade")
        for name in request.upgrade_packages:
            args += ["--upgrade-package", name]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
        env["PIP_CONFIG_FILE"] = os.devnull  # the machine's pip.conf must not add indexes
        try:
            result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise UpstreamError(f"pip-compile did not finish within {PIP_TIMEOUT} s") from None
        if result.returncode != 0:
            message = clean_report(result.stderr.replace(str(source), request.label))  # not our temporary file
            if "ResolutionImpossible" in message or "conflict" in message.lower():
                raise ResolutionFailed(message)
            raise UpstreamError(f"pip-compile: {message.splitlines()[-1] if message else result.returncode}")
        return parse_requirements(output.read_text(), root=PIP_ROOT)
