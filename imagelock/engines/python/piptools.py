"""Python resolution with pip-compile, for teams that mandate pip-tools.

pip resolves for the machine it runs on, not for a target: the lock is right
for the target only when host and target agree, and imagelock says so when
they do not. pip cannot pin a package to one index (every index it is given
serves every package), so intents that pin packages to indexes are refused.
The files of each pin are then read from the index and the target's wheel
chosen exactly as with uv.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

from packaging.utils import canonicalize_name

from imagelock.net import http
from imagelock.errors import InputError, UpstreamError
from imagelock.lock.model import PythonLayer
from imagelock.domains.python import simple_index
from imagelock.domains.context import UpdateContext
from imagelock.lock.model import Wheel
from imagelock.engines.python.compiled import clean_report, parse_requirements
from imagelock.engines.python.contract import ResolutionFailed, ResolvedPackage, default_index_url

PIP_TIMEOUT = 900


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


def resolve(ctx: UpdateContext) -> PythonLayer:
    from imagelock.domains.python.layer import to_layer

    intent = ctx.intent.python
    assert intent is not None
    if intent.torch:
        raise InputError(ctx.intent.path, "python.torch", "the pip-tools engine cannot pin packages to one index "
                         "(pip lets every index serve every package); use the default engine, uv")
    if intent.indexes:
        raise InputError(ctx.intent.path, "python.index", "the pip-tools engine cannot pin packages to one index "
                         "(pip lets every index serve every package); use the default engine, uv")
    mismatch = host_mismatch(intent.version, intent.platform)
    if mismatch:
        print(f"lock: warning: pip-tools resolves for this machine, not the target ({mismatch}); "
              "the lock may not fit the target", file=sys.stderr)
    print("lock: warning: pip-tools cannot honour the upload-time cutoff; versions are as of now", file=sys.stderr)
    index = intent.index_url
    if ctx.replay:
        index = ctx.replay.local_index(intent.index_url)
    if index is None:
        index = default_index_url()
    if index is None:
        raise UpstreamError("pip-tools: no default index is known; set python.index-url")

    workdir = (ctx.workdir or Path(".")) / "pip-tools"
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "requirements.in"
    source.write_text("".join(f"{r}\n" for r in intent.requirements + intent.bootstrap))
    output = workdir / "requirements.txt"
    previous = ctx.previous.python if ctx.previous else None
    if previous and not ctx.upgrade:
        output.write_text("".join(f"{p.name}=={p.version}\n" for p in previous.packages))
    args = [sys.executable, "-m", "piptools", "compile", str(source), "-o", str(output), "--quiet",
            "--no-header", "--annotation-style", "line", "--allow-unsafe", "--no-emit-index-url",
            "--index-url", index, "--pip-args", "--only-binary :all:",
            "--cache-dir", str(http.cache_dir() / "pip-tools")]
    if ctx.upgrade:
        args.append("--upgrade")
    for name in ctx.upgrade_packages:
        args += ["--upgrade-package", name]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull  # the machine's pip.conf must not add indexes
    try:
        result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise UpstreamError(f"pip-compile did not finish within {PIP_TIMEOUT} s") from None
    if result.returncode != 0:
        message = clean_report(result.stderr)
        if "ResolutionImpossible" in message or "conflict" in message.lower():
            raise ResolutionFailed(message)
        raise UpstreamError(f"pip-compile: {message.splitlines()[-1] if message else result.returncode}")
    resolved: dict[str, ResolvedPackage] = parse_requirements(output.read_text(), root="-r")
    for name, package in resolved.items():
        files = simple_index.project_files(index, name) or []
        for item in files:
            if item.filename.endswith(".whl") and item.sha256 and \
                    str(simple_index.version_of(item.filename)) == package.version:
                package.wheels.append(Wheel(filename=item.filename, url=item.url, sha256=item.sha256,
                                            size=item.size, upload_time=item.upload_time))
        if not package.wheels:
            raise UpstreamError(f"{name} {package.version}: the index lists no hashed wheel")
    return to_layer(intent, {canonicalize_name(k): v for k, v in resolved.items()}, ctx)
