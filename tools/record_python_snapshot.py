"""Record the Python index answers an intent needs into a replay snapshot.

Run by a developer with network access, never by tests:

    python tools/record_python_snapshot.py --upstream <PyPI simple URL> \\
        --torch-facts tests/fixtures/pytorch-cu124/facts.json \\
        --out snapshots/seed locks/seed.toml tests/fixtures/intents/seed-original.toml

It stands a recording server between `lock update` and the real index: every
project page and PEP 658 metadata file uv asks for is fetched once from the
upstream, trimmed (only files the target can install, uploaded before the
recording cutoff; metadata without its long description), and stored. Versions
whose metadata uv never asked for are dropped at the end: uv never chose them,
so replaying gives the same decisions. The PyTorch CUDA index cannot be reached
from the build machines, so its look-alike is built from facts looked up in
public lock files (facts.json, with sources) and the matching PyPI metadata
with the local version label set.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import zipfile
from pathlib import Path

from packaging.tags import Tag
from packaging.utils import canonicalize_name, parse_wheel_filename

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imagelock import http  # noqa: E402
from imagelock.commands.update import update  # noqa: E402
from imagelock.domains.python.layer import target_tags  # noqa: E402
from imagelock.errors import AnswerIsNo, UpstreamError  # noqa: E402
from imagelock.hashing import sha256_bytes  # noqa: E402
from imagelock.replay.server import ReplayServer, Snapshot, _Handler  # noqa: E402

ACCEPT = {"Accept": "application/vnd.pypi.simple.v1+json"}
TORCH_INDEX = "https://download.pytorch.org/whl/cu124"
RECORD_CUTOFF = "2025-05-01T00:00:00Z"


def fetch_metadata(wheel_url: str) -> bytes:
    """PEP 658 metadata; for old uploads PyPI never backfilled, read METADATA out of the wheel."""
    try:
        return http.get_bytes(wheel_url + ".metadata")
    except UpstreamError as exc:
        if "HTTP 404" not in str(exc):
            raise
    with tempfile.TemporaryFile() as handle:
        response = http.get(wheel_url, stream=True)
        for chunk in response.iter_content(1 << 20):
            handle.write(chunk)
        with zipfile.ZipFile(handle) as wheel:
            name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
            return wheel.read(name)


def write_atomic(path: Path, text: str) -> None:
    """uv reads pages while others are being recorded: never let it see half a file."""
    tmp = path.with_name(f".{path.name}.{threading.get_ident()}")
    tmp.write_text(text)
    tmp.replace(path)


def trim_metadata(raw: bytes) -> bytes:
    """Core metadata headers only: the long description is not needed to resolve."""
    lines = []
    skipping = False
    for line in raw.decode("utf-8", "replace").splitlines():
        if line == "":
            break
        if line.startswith("Description:"):
            skipping = True
            continue
        if skipping and line.startswith((" ", "\t")):
            continue
        skipping = False
        lines.append(line)
    return ("\n".join(lines) + "\n").encode()


class Recorder:
    def __init__(self, root: Path, upstream: str, tags: set[Tag]) -> None:
        self.root = root
        self.upstream = upstream.rstrip("/")
        self.tags = tags
        self.real_urls: dict[str, str] = {}
        self.asked: dict[str, set[str]] = {}
        self.lock = threading.Lock()
        self.page_locks: dict[str, threading.Lock] = {}

    def compatible(self, filename: str) -> bool:
        if not filename.endswith(".whl"):
            return False
        try:
            return bool(set(parse_wheel_filename(filename)[3]) & self.tags)
        except ValueError:
            return False

    def page(self, project: str) -> None:
        name = canonicalize_name(project)
        with self.lock:
            guard = self.page_locks.setdefault(name, threading.Lock())
        with guard:  # probes run in parallel: record each page once, never over a stamped one
            self._page(name)

    def _page(self, name: str) -> None:
        path = self.root / "pypi" / "pages" / f"{name}.json"
        if path.exists():
            return
        try:
            data = json.loads(http.get_bytes(f"{self.upstream}/{name}/", headers=ACCEPT))
        except Exception as exc:  # noqa: BLE001 - a missing project is recorded as missing
            print(f"  page {name}: {exc}", file=sys.stderr)
            return
        files = []
        for entry in data["files"]:
            uploaded = entry.get("upload-time") or ""
            if not self.compatible(entry["filename"]) or uploaded[:19] > RECORD_CUTOFF[:19]:
                continue
            with self.lock:
                self.real_urls[entry["filename"]] = entry["url"]
            kept = {
                k: entry[k]
                for k in ("filename", "hashes", "requires-python", "size", "upload-time", "yanked")
                if k in entry
            }
            kept["core-metadata"] = True  # served on demand; the digest is stamped once recorded
            files.append(kept)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps({"meta": {"api-version": "1.1"}, "name": name, "files": files}))
        with self.lock:
            write_atomic(self.root / "pypi" / "upstream.json", json.dumps(self.real_urls))

    def metadata(self, filename: str) -> None:
        wheel = filename.removesuffix(".metadata")
        path = self.root / "pypi" / "metadata" / filename
        name, version = str(parse_wheel_filename(wheel)[0]), str(parse_wheel_filename(wheel)[1])
        with self.lock:
            self.asked.setdefault(canonicalize_name(name), set()).add(version)
        if path.exists():
            return
        url = self.real_urls.get(wheel)
        if url is None:
            return
        raw = fetch_metadata(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{threading.get_ident()}")
        tmp.write_bytes(trim_metadata(raw))
        tmp.replace(path)
        self._stamp(name, wheel, sha256_bytes(path.read_bytes()))

    def _stamp(self, project: str, wheel: str, digest: str) -> None:
        page_path = self.root / "pypi" / "pages" / f"{canonicalize_name(project)}.json"
        with self.lock:
            page = json.loads(page_path.read_text())
            for entry in page["files"]:
                if entry["filename"] == wheel:
                    entry["core-metadata"] = {"sha256": digest}
            write_atomic(page_path, json.dumps(page))

    def prune(self) -> None:
        """Keep only versions uv asked metadata for; write upstream.json."""
        kept_urls = {}
        for path in sorted((self.root / "pypi" / "pages").glob("*.json")):
            page = json.loads(path.read_text())
            asked = self.asked.get(path.stem, set())
            page["files"] = [
                e
                for e in page["files"]
                if str(parse_wheel_filename(e["filename"])[1]) in asked and isinstance(e.get("core-metadata"), dict)
            ]
            path.write_text(json.dumps(page, indent=1, sort_keys=True) + "\n")
            for entry in page["files"]:
                kept_urls[entry["filename"]] = self.real_urls[entry["filename"]]
        for meta in (self.root / "pypi" / "metadata").glob("*.metadata"):
            if meta.name.removesuffix(".metadata") not in kept_urls:
                meta.unlink()
        (self.root / "pypi" / "upstream.json").write_text(json.dumps(kept_urls, indent=1, sort_keys=True) + "\n")


def build_torch_index(root: Path, facts_path: Path, upstream: str) -> None:
    """The cu124 look-alike: looked-up filenames and hashes, PyPI's metadata with the local label."""
    facts = json.loads(facts_path.read_text())
    out = root / "pytorch-cu124"
    pages: dict[str, list[dict[str, object]]] = {}
    urls = {}
    for fact in facts:
        filename, sha256 = fact["filename"], fact.get("sha256")
        if not sha256 or not filename.endswith(".whl"):
            continue
        name, version, _, _ = parse_wheel_filename(filename)
        public = version.public
        page = json.loads(http.get_bytes(f"{upstream.rstrip('/')}/{name}/", headers=ACCEPT))
        source = next(
            e
            for e in page["files"]
            if e["filename"].endswith(".whl")
            and str(parse_wheel_filename(e["filename"])[1]) == public
            and "cp311-cp311-manylinux" in e["filename"]
            and "x86_64" in e["filename"]
        )
        metadata = trim_metadata(fetch_metadata(source["url"])).decode()
        metadata = metadata.replace(f"\nVersion: {public}\n", f"\nVersion: {version}\n", 1).encode()
        (out / "metadata").mkdir(parents=True, exist_ok=True)
        (out / "metadata" / f"{filename}.metadata").write_bytes(metadata)
        pages.setdefault(str(name), []).append(
            {
                "filename": filename,
                "hashes": {"sha256": sha256},
                "requires-python": ">=3.9",
                "core-metadata": {"sha256": sha256_bytes(metadata)},
            }
        )
        urls[filename] = fact["url"]
    (out / "pages").mkdir(parents=True, exist_ok=True)
    for name, files in pages.items():
        # api-version 1.0: the PyTorch index publishes neither size nor upload time.
        page = {"meta": {"api-version": "1.0"}, "name": name, "files": sorted(files, key=lambda f: f["filename"])}
        (out / "pages" / f"{name}.json").write_text(json.dumps(page, indent=1, sort_keys=True) + "\n")
    (out / "upstream.json").write_text(json.dumps(urls, indent=1, sort_keys=True) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True, help="the real simple index URL to record from")
    parser.add_argument("--torch-facts", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("intents", nargs="+", type=Path)
    args = parser.parse_args()

    # A fresh uv cache: an answer uv served itself from its cache would not be recorded.
    os.environ["IMAGELOCK_CACHE"] = tempfile.mkdtemp(prefix="imagelock-record-")
    readme = (args.out / "README.md").read_text() if (args.out / "README.md").exists() else None
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    (args.out / "snapshot.json").write_text(
        json.dumps({"indexes": {"default": "pypi", TORCH_INDEX: "pytorch-cu124"}}, indent=1) + "\n"
    )
    build_torch_index(args.out, args.torch_facts, args.upstream)
    recorder = Recorder(args.out, args.upstream, set(target_tags("3.11", "x86_64-manylinux_2_35")))

    class RecordingHandler(_Handler):
        def do_GET(self) -> None:  # noqa: N802
            parts = [p for p in self.path.split("/") if p]
            if parts[:2] == ["pypi", "simple"] and len(parts) == 3:
                recorder.page(parts[2])
            if parts[:2] == ["pypi", "files"] and len(parts) == 3 and parts[2].endswith(".metadata"):
                recorder.metadata(parts[2])
            super().do_GET()

    for intent in args.intents:
        server = ReplayServer(Snapshot.open(args.out), handler=RecordingHandler)
        print(f"recording {intent}", file=sys.stderr)
        lock_path = args.out / f".{intent.stem}.lock"
        try:
            update(intent, lock_path, replay=server)
        except AnswerIsNo as answer:
            print(answer.summary, *answer.details, sep="\n", file=sys.stderr)
        lock_path.unlink(missing_ok=True)
    recorder.prune()
    if readme:
        (args.out / "README.md").write_text(readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
