"""What a source distribution needs to be built: its `[build-system] requires` (PEP 518), read from the sdist.

An sdist the intent allows (`allow-sdist`) is built by the image's bootstrap, offline, with build packages the
lock pins by sha256. Which packages those are is declared in the sdist's own `pyproject.toml`; a project
without one (or without a `[build-system]` table) is built as PEP 517 says a tool should treat it: with
setuptools' legacy backend, requiring `setuptools>=40.8.0` and `wheel`.

The sdist is read from its index once, at lock time, verified by the sha256 its index lists before a byte
of it is opened, and only its top-level `pyproject.toml` is read (bounded): nothing of it runs here.
"""

from __future__ import annotations

import io
import tarfile
import tomllib
import zipfile

from packaging.requirements import InvalidRequirement, Requirement

from imagelock.errors import UpstreamError
from imagelock.hashing import sha256_bytes
from imagelock.net import http

# PEP 517: "If the pyproject.toml file is absent, or the build-backend key is missing, the source tree is not
# using this specification, and tools should revert to the legacy behaviour of running setup.py"; pip (and uv)
# then build with setuptools' legacy backend and these requirements.
LEGACY_REQUIRES = ("setuptools>=40.8.0", "wheel")
MAX_SDIST_BYTES = 256 * 1024 * 1024  # larger than any sdist of a Python package worth building at boot
MAX_PYPROJECT_BYTES = 1024 * 1024


def fetch(url: str, sha256: str, label: str) -> bytes:
    """The sdist's bytes, refused unless they are the ones its index lists (by sha256)."""
    data = http.get_bytes(url, what="sdist")
    if len(data) > MAX_SDIST_BYTES:
        raise UpstreamError(f"{label}: the sdist is larger than {MAX_SDIST_BYTES} bytes; not read")
    got = sha256_bytes(data)
    if got != sha256:
        raise UpstreamError(f"{label}: the sdist's sha256 is {got}, its index lists {sha256}; not used")
    return data


def _pyproject(data: bytes, filename: str) -> bytes | None:
    """The bytes of `<top>/pyproject.toml` in a .tar.gz or .zip sdist, or None when it has none."""
    if filename.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                parts = info.filename.split("/")
                if len(parts) == 2 and parts[1] == "pyproject.toml" and not info.is_dir():
                    if info.file_size > MAX_PYPROJECT_BYTES:
                        raise ValueError("pyproject.toml is larger than 1 MiB")
                    return archive.read(info)
        return None
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
        for member in archive:
            parts = member.name.split("/")
            if len(parts) == 2 and parts[1] == "pyproject.toml" and member.isfile():
                if member.size > MAX_PYPROJECT_BYTES:
                    raise ValueError("pyproject.toml is larger than 1 MiB")
                extracted = archive.extractfile(member)
                return extracted.read() if extracted else None
    return None


def build_requires(data: bytes, filename: str, label: str) -> list[str]:
    """The sdist's build requirements: its `[build-system] requires`, or PEP 517's legacy default."""
    try:
        raw = _pyproject(data, filename)
        table = tomllib.loads(raw.decode("utf-8")) if raw is not None else {}
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise UpstreamError(f"{label}: the sdist's pyproject.toml cannot be read ({exc})") from None
    system = table.get("build-system")
    if not isinstance(system, dict):
        return list(LEGACY_REQUIRES)
    requires = system.get("requires")
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        # PEP 518: a [build-system] table without `requires` is an error, not the legacy default.
        raise UpstreamError(f"{label}: its pyproject.toml's [build-system] has no `requires` array (PEP 518)")
    out = []
    for text in requires:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            raise UpstreamError(f"{label}: build requirement {text!r} is not a PEP 508 requirement") from None
        if requirement.url:
            raise UpstreamError(f"{label}: build requirement {text!r} is a direct URL, which no index can pin")
        out.append(str(requirement))
    return out
