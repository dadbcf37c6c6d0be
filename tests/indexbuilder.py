"""Build small replay snapshots of real wheels (and real sdists), for tests that need versions to move."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Dist:
    name: str
    version: str
    uploaded: str
    requires: list[str] = field(default_factory=list)
    # An sdist instead of a wheel: a setuptools project (setup.py; PKG-INFO in metadata 2.2, which an installer
    # may read without building it), with this `[build-system]` in its pyproject.toml ("" for none: PEP 517's
    # legacy default, setuptools and wheel, builds it).
    sdist: bool = False
    build_system: str = ""


@dataclass
class Recorded:
    """A real file recorded elsewhere (a wheel of PyPI's, Debian's copy of one), served as its project's file."""

    name: str
    path: Path
    uploaded: str


def _metadata(dist: Dist, version: str) -> str:
    """Core metadata (PKG-INFO, METADATA) of that metadata version: name, version, requirements."""
    lines = [f"Metadata-Version: {version}", f"Name: {dist.name}", f"Version: {dist.version}"]
    return "\n".join([*lines, *[f"Requires-Dist: {r}" for r in dist.requires]]) + "\n"


def _sdist(dist: Dist) -> tuple[str, bytes, bytes]:
    """A real, buildable sdist (.tar.gz) and its PKG-INFO."""
    module = dist.name.replace("-", "_")
    top = f"{module}-{dist.version}"
    metadata = _metadata(dist, "2.2")
    requires = ", ".join(repr(r).replace("'", '"') for r in dist.requires)
    files = {
        f"{top}/PKG-INFO": metadata,
        f"{top}/setup.py": (
            "from setuptools import setup\n"
            f"setup(name={dist.name!r}, version={dist.version!r}, packages=[{module!r}], install_requires=[{requires}])\n"
        ),
        f"{top}/{module}/__init__.py": f'__version__ = "{dist.version}"\nBUILT_FROM = "sdist"\n',
    }
    if dist.build_system:
        files[f"{top}/pyproject.toml"] = dist.build_system
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size, info.mtime, info.mode = len(data), 1704067200, 0o644
            archive.addfile(info, io.BytesIO(data))
    return f"{top}.tar.gz", buffer.getvalue(), metadata.encode()


def _recorded(item: Recorded) -> tuple[str, bytes, bytes]:
    """A recorded wheel's bytes and the METADATA inside it (PEP 658 serves it beside the wheel)."""
    data = item.path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        (path,) = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        return item.path.name, data, archive.read(path)


def _record_hash(text: str) -> str:
    """A RECORD hash as the wheel spec writes it: urlsafe base64 of the sha256, unpadded."""
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


def _wheel(dist: Dist) -> tuple[str, bytes, bytes]:
    """A real, installable pure-Python wheel and its METADATA."""
    module = dist.name.replace("-", "_")
    info = f"{module}-{dist.version}.dist-info"
    metadata = _metadata(dist, "2.1")
    files = {
        f"{module}/__init__.py": f'__version__ = "{dist.version}"\n',
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: imagelock-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{path},sha256={_record_hash(text)},{len(text.encode())}\n" for path, text in files.items())
    record += f"{info}/RECORD,,\n"
    files[f"{info}/RECORD"] = record
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, text in files.items():
            info_entry = zipfile.ZipInfo(path, date_time=(2024, 1, 1, 0, 0, 0))
            archive.writestr(info_entry, text)
    return f"{module}-{dist.version}-py3-none-any.whl", buffer.getvalue(), metadata.encode()


def build_snapshot(
    root: Path, dists: list[Dist], upstream: str = "https://files.example.invalid/", recorded: list[Recorded] = ()
) -> Path:
    """A snapshot with one default index holding these wheels (sdists), recorded files, metadata and upstream URLs."""
    index = root / "pypi"
    for folder in ("pages", "files", "metadata"):
        (index / folder).mkdir(parents=True, exist_ok=True)
    pages: dict[str, list[dict[str, object]]] = {}
    upstream_urls = {}
    made = [((_sdist if d.sdist else _wheel)(d), d.name, d.uploaded) for d in dists]
    made += [(_recorded(r), r.name, r.uploaded) for r in recorded]
    for (filename, wheel, metadata), name, uploaded in made:
        (index / "files" / filename).write_bytes(wheel)
        (index / "metadata" / f"{filename}.metadata").write_bytes(metadata)
        pages.setdefault(name, []).append(
            {
                "filename": filename,
                "hashes": {"sha256": hashlib.sha256(wheel).hexdigest()},
                "size": len(wheel),
                "upload-time": uploaded,
                "core-metadata": {"sha256": hashlib.sha256(metadata).hexdigest()},
            }
        )
        upstream_urls[filename] = upstream + filename
    for name, files in pages.items():
        page = {"meta": {"api-version": "1.1"}, "name": name, "files": files}
        (index / "pages" / f"{name}.json").write_text(json.dumps(page))
    (index / "upstream.json").write_text(json.dumps(upstream_urls))
    (root / "snapshot.json").write_text(json.dumps({"indexes": {"default": "pypi"}}))
    return root
