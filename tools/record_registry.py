"""Record what `lock update` reads from a container registry, for `lock update --replay`.

For each image reference it reads, through the same client `lock update` uses (every manifest hashed
against the digest it was asked for or claimed), the document the tag or digest names, the manifests of
the platforms asked for (all an index lists, by default), and each of those manifests' image config.
It writes them into the recording as imagelock/replay/registry.py serves them: one OCI image layout per
host and repository, the tag in index.json, each descriptor annotated with the URL it was read from and
when. Layers are not recorded. A recording is added to: a tag recorded again points at what it names now.

    python tools/record_registry.py --to snapshots/<name>/registry \\
        [--platform linux/amd64 ...] [--plain-http] <registry>/<repository>:<tag> ...

`--quote FILE` records bytes quoted by a public source instead of read from a registry (when no
registry is reachable): FILE's bytes under the reference's tag, with `--media-type` and `--source`
naming where they were published; they must hash to the digest the reference names.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from imagelock.domains.containers import manifest  # noqa: E402
from imagelock.domains.containers.registry import Document, Registry  # noqa: E402
from imagelock.formats.oci_reference import Reference, parse  # noqa: E402
from imagelock.hashing import sha256_bytes  # noqa: E402
from imagelock.net.upstreams import LIVE  # noqa: E402
from imagelock.replay.registry import LAYOUT, RECORDED_AT, REF_NAME, SOURCE  # noqa: E402


def layout_dir(root: Path, ref: Reference) -> Path:
    """Where one repository's recording lives: <host the API is read from>/<repository>."""
    return root / ref.api_host / ref.repository


def put(layout: Path, body: bytes) -> str:
    """A blob under its own digest."""
    digest = sha256_bytes(body)
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    (blobs / digest).write_bytes(body)
    return "sha256:" + digest


def tag(layout: Path, name: str, digest: str, media_type: str, size: int, source: str) -> None:
    """Name `digest` as tag `name` in the layout's index.json (replacing what the tag named before)."""
    (layout / "oci-layout").write_text(LAYOUT)
    path = layout / "index.json"
    index = json.loads(path.read_text()) if path.exists() else {"schemaVersion": 2, "manifests": []}
    kept = [m for m in index["manifests"] if m.get("annotations", {}).get(REF_NAME) != name]
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    annotations = {REF_NAME: name, SOURCE: source, RECORDED_AT: now}
    kept.append({"mediaType": media_type, "digest": digest, "size": size, "annotations": annotations})
    index["manifests"] = sorted(kept, key=lambda m: m["annotations"][REF_NAME])
    path.write_text(json.dumps(index, indent=1) + "\n")


def record(root: Path, text: str, platforms: list[str], plain_http: bool) -> str:
    """Record one reference; returns the digest it named."""
    ref = parse(text)
    client = Registry(LIVE.registry(ref.api_host, plain_http, (None, None)), ref.registry, ref.repository, text)
    layout = layout_dir(root, ref)
    top = client.manifest(ref.digest or ref.tag or "")
    kind = manifest.media_type(top.body, top.content_type)
    put(layout, top.body)
    if kind in manifest.INDEXES:
        for entry in manifest.index_entries(top.body):
            if not platforms or any(_matches(p, entry.platform) for p in platforms):
                _record_manifest(client, layout, client.manifest(entry.digest))
    else:
        _record_manifest(client, layout, top)
    tag(layout, ref.tag or "latest", top.digest, kind, len(top.body), client.manifest_url(ref.digest or ref.tag or ""))
    return top.digest


def _matches(wanted: str, offered: str) -> bool:
    """linux/arm64 takes linux/arm64/v8, as `lock update` does."""
    return offered == wanted or (wanted.count("/") == 1 and offered.rsplit("/", 1)[0] == wanted)


def _record_manifest(client: Registry, layout: Path, document: Document) -> None:
    put(layout, document.body)
    config = manifest.image_manifest(document.body).config
    put(layout, client.blob(config.digest))


def quote(root: Path, text: str, body: bytes, media_type: str, source: str) -> str:
    """Record bytes a public source quotes, checked against the digest the reference names."""
    ref = parse(text)
    digest = "sha256:" + sha256_bytes(body)
    if ref.digest and ref.digest != digest:
        raise SystemExit(f"{text}: the quoted bytes hash to {digest}, not {ref.digest}: not recorded")
    layout = layout_dir(root, ref)
    put(layout, body)
    if ref.tag:
        tag(layout, ref.tag, digest, media_type, len(body), source)
    return digest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--to", type=Path, required=True, help="the recording's registry directory")
    parser.add_argument("--platform", action="append", default=[], help="os/arch to record (default: all)")
    parser.add_argument("--plain-http", action="store_true", help="read the registry over plain HTTP")
    parser.add_argument("--quote", type=Path, help="record this file's bytes (quoted by --source) instead")
    parser.add_argument("--media-type", help="with --quote: the media type the registry serves it as")
    parser.add_argument("--source", help="with --quote: the public source quoting the bytes")
    parser.add_argument("references", nargs="+")
    args = parser.parse_args(argv)
    for text in args.references:
        if args.quote:
            if not args.media_type or not args.source:
                parser.error("--quote needs --media-type and --source")
            digest = quote(args.to, text, args.quote.read_bytes(), args.media_type, args.source)
        else:
            digest = record(args.to, text, args.platform, args.plain_http)
        print(f"{text} {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
