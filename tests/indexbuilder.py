"""Build small replay snapshots of real wheels, for tests that need versions to move."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Dist:
    name: str
    version: str
    uploaded: str
    requires: list[str] = field(default_factory=list)


def _record_hash(text: str) -> str:
    """A RECORD hash as the wheel spec writes it: urlsafe base64 of the sha256, unpadded."""
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


def _wheel(dist: Dist) -> tuple[str, bytes, bytes]:
    """A real, installable pure-Python wheel and its METADATA."""
    module = dist.name.replace("-", "_")
    info = f"{module}-{dist.version}.dist-info"
    metadata = (
        "\n".join(
            [
                "Metadata-Version: 2.1",
                f"Name: {dist.name}",
                f"Version: {dist.version}",
                *[f"Requires-Dist: {r}" for r in dist.requires],
            ]
        )
        + "\n"
    )
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


def build_snapshot(root: Path, dists: list[Dist], upstream: str = "https://files.example.invalid/") -> Path:
    """A snapshot with one default index holding these wheels, metadata and upstream URLs."""
    index = root / "pypi"
    for folder in ("pages", "files", "metadata"):
        (index / folder).mkdir(parents=True, exist_ok=True)
    pages: dict[str, list[dict[str, object]]] = {}
    upstream_urls = {}
    for dist in dists:
        filename, wheel, metadata = _wheel(dist)
        (index / "files" / filename).write_bytes(wheel)
        (index / "metadata" / f"{filename}.metadata").write_bytes(metadata)
        pages.setdefault(dist.name, []).append(
            {
                "filename": filename,
                "hashes": {"sha256": hashlib.sha256(wheel).hexdigest()},
                "size": len(wheel),
                "upload-time": dist.uploaded,
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
