"""A small PEP 691 / PEP 503 simple-index client, for the questions uv does not answer:
does this project exist on its index, which versions does it have before the cutoff.
"""

from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import unquote

from packaging.utils import (InvalidSdistFilename, InvalidWheelFilename, canonicalize_name,
                             parse_sdist_filename, parse_wheel_filename)
from packaging.version import Version

from imagelock import http
from imagelock.errors import UpstreamError

ACCEPT = "application/vnd.pypi.simple.v1+json, text/html;q=0.1"
_ANCHOR = re.compile(r"<a\s[^>]*href=\"([^\"]+)\"[^>]*>([^<]+)</a>", re.IGNORECASE)


def _version_of(filename: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename, ValueError):
        return None


def project_versions(index_url: str, project: str, cutoff: str | None = None) -> dict[Version, int] | None:
    """Version -> number of files, for files uploaded before the cutoff; None if the project is absent."""
    url = f"{index_url.rstrip('/')}/{canonicalize_name(project)}/"
    try:
        response = http.get(url, headers={"Accept": ACCEPT}, what="index")
    except UpstreamError as exc:
        if "HTTP 404" in str(exc):
            return None
        raise
    files: list[tuple[str, str | None]] = []
    if "json" in response.headers.get("Content-Type", ""):
        for entry in json.loads(response.content).get("files", []):
            if entry.get("yanked"):
                continue
            files.append((entry["filename"], entry.get("upload-time")))
    else:
        for href, text in _ANCHOR.findall(response.text):
            files.append((unquote(unescape(text)).strip(), None))
    versions: dict[Version, int] = {}
    for filename, uploaded in files:
        if cutoff and uploaded and uploaded[:19] > cutoff[:19]:
            continue
        version = _version_of(filename)
        if version is not None:
            versions[version] = versions.get(version, 0) + 1
    return versions


def nearest(versions: list[Version], wanted: Version, count: int = 3) -> list[Version]:
    """The versions closest to the wanted one: the next ones above and below it."""
    ordered = sorted(versions)
    above = [v for v in ordered if v > wanted][: (count + 1) // 2]
    below = [v for v in ordered if v < wanted][-(count - len(above)):] if count > len(above) else []
    return sorted(set(above + below), reverse=True)
