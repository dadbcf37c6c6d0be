"""Record the exact pins (`Requires-Dist: torch==2.5.1`) of every release of a project, from its PEP 658 metadata.

Usage: python tools/record_pinned_requires.py SIMPLE_INDEX_URL "vllm>=0.4" [PROJECT[SPECIFIER]...]
For each release the specifier allows it reads one wheel's core metadata (`<wheel URL>.metadata`), checks it
against the sha256 the index publishes for it (PEP 714 `core-metadata`) where the index publishes one, and
keeps the `Requires-Dist` lines whose specifier is one `==`/`===` version, with their markers. Writes
imagelock/rules/data/pinned_requires.json: per release the metadata's URL and sha256 (`sha256-from`: "index"
when the index published it and it matched, "measured" when it was computed here), so each entry can be
fetched again and compared.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import requests
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

OUT = Path(__file__).resolve().parents[1] / "imagelock/rules/data/pinned_requires.json"
SOURCE = (
    "the Requires-Dist lines with one exact version (==) of each release's core metadata (PEP 658), "
    "as the index serves it beside one wheel of the release; metadata URL and sha256 per release"
)


def exact(line: str) -> bool:
    specs = list(Requirement(line).specifier)
    return len(specs) == 1 and specs[0].operator in ("==", "===") and not specs[0].version.endswith(".*")


def main(index: str, projects: list[str]) -> None:
    """index: the simple index to read the metadata from (PyPI's), given on the command line."""
    session = requests.Session()
    data: dict[str, Any] = json.loads(OUT.read_text()) if OUT.exists() else {"source": SOURCE, "projects": {}}
    for project in projects:
        wanted = Requirement(project)
        name = canonicalize_name(wanted.name)
        page = session.get(
            f"{index.rstrip('/')}/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}, timeout=60
        ).json()
        chosen: dict[Version, list[dict[str, Any]]] = {}
        for entry in page["files"]:
            if not entry["filename"].endswith(".whl") or entry.get("yanked"):
                continue
            version = parse_wheel_filename(entry["filename"])[1]
            if wanted.specifier.contains(version, prereleases=True):
                chosen.setdefault(version, []).append(entry)
        releases: dict[str, Any] = {}
        skipped: list[str] = []
        for version, entries in sorted(chosen.items()):
            served = [(e, session.get(f"{e['url']}.metadata", timeout=60)) for e in entries[:3]]
            found = next(((e, r) for e, r in served if r.status_code == 200), None)
            if found is None:  # not recorded rather than guessed
                print(f"{name} {version}: no wheel's metadata is served, skipped")
                skipped.append(str(version))
                continue
            entry, response = found
            url = f"{entry['url']}.metadata"
            blob = response.content
            published = entry.get("core-metadata") or entry.get("data-dist-info-metadata")
            measured = hashlib.sha256(blob).hexdigest()
            if isinstance(published, dict) and published.get("sha256") not in (None, measured):
                raise SystemExit(f"{url}: sha256 mismatch")
            sha256_from = "index" if isinstance(published, dict) and published.get("sha256") else "measured"
            head = blob.decode("utf-8", errors="replace").replace("\r\n", "\n").split("\n\n", 1)[0]
            lines = [line.split(":", 1)[1].strip() for line in head.splitlines() if line.startswith("Requires-Dist:")]
            releases[str(version)] = {
                "metadata": url,
                "sha256": measured,
                "sha256-from": sha256_from,
                "uploaded": entry["upload-time"][:19] + "Z",
                "requires": sorted(line for line in lines if exact(line)),
            }
            print(f"{name} {version}: {len(releases[str(version)]['requires'])} exact pins")
        data["projects"][name] = releases
        data.setdefault("not-recorded", {})[name] = skipped  # releases whose index serves no metadata
        data.setdefault("recorded", {})[name] = f"{dt.date.today()} from {index} ({wanted})"
    OUT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit("usage: record_pinned_requires.py SIMPLE_INDEX_URL PROJECT...")
    main(sys.argv[1], sys.argv[2:])
