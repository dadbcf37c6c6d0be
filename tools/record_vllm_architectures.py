"""Record which model architectures each vLLM release can load, from its sdist on PyPI.

Usage: python tools/record_vllm_architectures.py SIMPLE_INDEX_URL 0.6.6.post1 0.8.3 0.8.4 ...
Downloads each release's sdist (checked against PyPI's sha256), reads
vllm/model_executor/models/registry.py with `ast` (no code is run) and writes the
keys of `_VLLM_MODELS` to imagelock/rules/data/vllm_architectures.json.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

import requests
from packaging.version import Version

OUT = Path(__file__).resolve().parents[1] / "imagelock/rules/data/vllm_architectures.json"
SOURCE = (
    "vllm/model_executor/models/registry.py (keys of _VLLM_MODELS) in each release's sdist on PyPI, "
    "read with Python's ast; sdist URL and sha256 per release"
)


def registry_keys(source: str) -> list[str]:
    """Keys of `_VLLM_MODELS`, following its `**_OTHER_MODELS` spreads."""
    tables: dict[str, list[str]] = {}
    for node in ast.parse(source).body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        value = getattr(node, "value", None)
        if isinstance(target, ast.Name) and isinstance(value, ast.Dict):
            keys: list[str] = []
            for key, item in zip(value.keys, value.values):
                if key is None and isinstance(item, ast.Name):
                    keys += tables.get(item.id, [])
                elif isinstance(key, ast.Constant) and isinstance(key.value, str):
                    keys.append(key.value)
            tables[target.id] = keys
    return sorted(set(tables["_VLLM_MODELS"]))


def main(index: str, versions: list[str]) -> None:
    """index: the simple index to read vllm's sdists from (PyPI's), given on the command line."""
    session = requests.Session()
    page = session.get(
        f"{index.rstrip('/')}/vllm/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}, timeout=60
    ).json()
    files = {f["filename"]: f for f in page["files"]}
    data: dict[str, Any] = json.loads(OUT.read_text()) if OUT.exists() else {"source": SOURCE, "releases": {}}
    for version in versions:
        entry = files[f"vllm-{version}.tar.gz"]
        blob = session.get(entry["url"], timeout=300).content
        if hashlib.sha256(blob).hexdigest() != entry["hashes"]["sha256"]:
            raise SystemExit(f"vllm-{version}.tar.gz: sha256 mismatch")
        with tarfile.open(fileobj=io.BytesIO(blob)) as archive:
            try:
                member = archive.extractfile(f"vllm-{version}/vllm/model_executor/models/registry.py")
            except KeyError:  # older releases keep the table elsewhere; not recorded rather than guessed
                print(f"vllm {version}: no vllm/model_executor/models/registry.py, skipped")
                continue
            assert member is not None
            keys = registry_keys(member.read().decode())
        data["releases"][version] = {
            "sdist": entry["url"],
            "sha256": entry["hashes"]["sha256"],
            "uploaded": entry["upload-time"][:19] + "Z",
            "architectures": keys,
        }
        print(f"vllm {version}: {len(keys)} architectures")
    data["releases"] = dict(sorted(data["releases"].items(), key=lambda kv: Version(kv[0])))
    OUT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit("usage: record_vllm_architectures.py SIMPLE_INDEX_URL VERSION...")
    main(sys.argv[1], sys.argv[2:])
