"""A small PEP 691 / PEP 503 simple-index client, for the questions uv does not answer:
does this project exist on its index, which versions does it have before the cutoff.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html import unescape
from urllib.parse import unquote, urljoin

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from imagelock.errors import UpstreamError
from imagelock.net import http

ACCEPT = "application/vnd.pypi.simple.v1+json, text/html;q=0.1"
_ANCHOR = re.compile(r"<a\s[^>]*href=\"([^\"]+)\"[^>]*>([^<]+)</a>", re.IGNORECASE)


def version_of(filename: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename, ValueError):
        return None


@dataclass(frozen=True)
class IndexFile:
    filename: str
    url: str
    sha256: str | None
    size: int | None
    upload_time: str | None


def project_files(index_url: str, project: str) -> list[IndexFile] | None:
    """The project's non-yanked files as its index lists them; None if the project is absent."""
    url = f"{index_url.rstrip('/')}/{canonicalize_name(project)}/"
    try:
        response = http.get(url, headers={"Accept": ACCEPT}, what="index")
    except UpstreamError as exc:
        if "HTTP 404" in str(exc):
            return None
        raise
    files: list[IndexFile] = []
    if "json" in response.headers.get("Content-Type", ""):
        for entry in json.loads(response.content).get("files", []):
            if entry.get("yanked"):
                continue
            files.append(
                IndexFile(
                    filename=entry["filename"],
                    url=urljoin(url, entry["url"]),
                    sha256=entry.get("hashes", {}).get("sha256"),
                    size=entry.get("size"),
                    upload_time=entry.get("upload-time"),
                )
            )
    else:
        for href, text in _ANCHOR.findall(response.text):
            link, _, fragment = unescape(href).partition("#")
            sha256 = fragment.removeprefix("sha256=") if fragment.startswith("sha256=") else None
            files.append(
                IndexFile(
                    filename=unquote(unescape(text)).strip(),
                    url=urljoin(url, link),
                    sha256=sha256,
                    size=None,
                    upload_time=None,
                )
            )
    return files


def project_versions(index_url: str, project: str, cutoff: str | None = None) -> dict[Version, int] | None:
    """Version -> number of files, for files uploaded before the cutoff; None if the project is absent."""
    files = project_files(index_url, project)
    if files is None:
        return None
    versions: dict[Version, int] = {}
    for item in files:
        if cutoff and item.upload_time and item.upload_time[:19] > cutoff[:19]:
            continue
        version = version_of(item.filename)
        if version is not None:
            versions[version] = versions.get(version, 0) + 1
    return versions


def nearest(versions: list[Version], wanted: Version, count: int = 3) -> list[Version]:
    """The versions closest to the wanted one: the next ones above and below it."""
    ordered = sorted(versions)
    above = [v for v in ordered if v > wanted][: (count + 1) // 2]
    below = [v for v in ordered if v < wanted][-(count - len(above)) :] if count > len(above) else []
    return sorted(set(above + below), reverse=True)


def requires_dist(index_url: str, project: str, version: Version) -> list[str] | None:
    """The `Requires-Dist` lines of one version's core metadata, read from the index (PEP 658: the file's URL
    with `.metadata`; a wheel's METADATA is the same for each of its wheels); None when no wheel's is served."""
    for item in project_files(index_url, project) or []:
        if not item.filename.endswith(".whl") or version_of(item.filename) != version:
            continue
        try:
            response = http.get(f"{item.url}.metadata", what="metadata")
        except UpstreamError:
            continue
        text = response.content.decode("utf-8", errors="replace")
        head = text.split("\n\n", 1)[0]  # the headers; a long description may follow
        return [line.split(":", 1)[1].strip() for line in head.splitlines() if line.startswith("Requires-Dist:")]
    return None
