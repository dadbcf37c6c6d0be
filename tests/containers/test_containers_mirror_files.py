"""`lock mirror --to s3://…` and `--to http(s)://…` with `[[containers]]`: the same OCI image layout as a
directory mirror, under `<prefix>/oci`, written through the one writer (oci_layout) to moto's S3 server and to a
PUT server on loopback, from a real distribution registry. skopeo reads the layout back once the prefix is
downloaded; a second run stores nothing; a blob the source serves with other bytes is not stored, nor anything
that names it; index.json is written last."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.artifacts.conftest import MotoServer, _moto_endpoint, moto_server  # noqa: F401 - fixtures
from tests.artifacts.test_mirror_targets import PASSWORD, USER, _PutServer, put_server  # noqa: F401 - fixtures
from tests.containers.registry import Built, Registry, oci_layout, registry, tool

BUCKET = "image-mirror"
PREFIX = "team/snapshot"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Registry]:
    with registry(tmp_path / "source") as reg:
        yield reg


def _two_images(tmp_path: Path, source: Registry, lock_cli) -> tuple[Path, Built, Built]:
    """A two-platform image (its amd64 platform locked) and a single-platform one, locked from `source`."""
    two = oci_layout(tmp_path / "two", "1.0", "s3-two-platforms")
    source.push(tmp_path / "two", "1.0", "team/app")
    one = oci_layout(tmp_path / "one", "2.0", "s3-single", platforms=("linux/amd64",))
    source.push(tmp_path / "one", "2.0", "team/tool", every_platform=False)
    intent = tmp_path / "image.toml"
    entries = "".join(f'[[containers]]\nimage = "{source.host}/{i}"\n' for i in ("team/app:1.0", "team/tool:2.0"))
    intent.write_text(f'name = "mirrored"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n{entries}')
    assert lock_cli("update", str(intent)).code == 0
    return intent.with_suffix(".lock"), two, one


def _skopeo_reads(layout: Path, image: str, built: Built, out: Path) -> None:
    """skopeo, the oracle: the layout names the image by its reference at the locked digest, and copies out
    the amd64 image (skopeo checks every blob's digest as it copies)."""
    raw = subprocess.run(
        [tool("skopeo"), "inspect", "--raw", f"oci:{layout}:{image}"], check=True, capture_output=True, timeout=60
    ).stdout
    assert _digest(raw) in (built.index, built.manifests["linux/amd64"])
    subprocess.run(
        [
            tool("skopeo"),
            "--override-arch",
            "amd64",
            "--insecure-policy",
            "copy",
            "--quiet",
            f"oci:{layout}:{image}",
            f"dir:{out}",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    layer = built.layers["linux/amd64"][0][0]
    assert _digest((out / layer.removeprefix("sha256:")).read_bytes()) == layer


def _s3():
    return boto3.client("s3", region_name="us-east-1")


def _download(prefix: str, into: Path) -> dict[str, bytes]:
    """Every object under the prefix, written below `into` by its key after the prefix."""
    s3 = _s3()
    held: dict[str, bytes] = {}
    for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix + "/").get("Contents", []):
        name = item["Key"].removeprefix(prefix + "/")
        body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        held[name] = body
        (into / name).parent.mkdir(parents=True, exist_ok=True)
        (into / name).write_bytes(body)
    return held


def test_an_s3_mirror_keeps_the_images_as_an_oci_layout_that_skopeo_reads(
    tmp_path: Path, source: Registry, moto_server: MotoServer, lock_cli
) -> None:
    lock, two, one = _two_images(tmp_path, source, lock_cli)
    s3 = _s3()
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    run = lock_cli("mirror", str(lock), "--to", f"s3://{BUCKET}/{PREFIX}")
    assert run.code == 0, run.out + run.err
    # two-platform: index, amd64 manifest, config, layer; single: manifest, config, layer
    assert f"containers (OCI image layout s3://{BUCKET}/{PREFIX}/oci): 7 copied, 0 already there, 0 failed" in run.out

    held = _download(f"{PREFIX}/oci", tmp_path / "got")
    assert json.loads(held["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(held["index.json"])
    named = {m["annotations"]["org.opencontainers.image.ref.name"]: m["digest"] for m in index["manifests"]}
    single = one.manifests["linux/amd64"]
    assert named == {f"{source.host}/team/app:1.0": two.index, f"{source.host}/team/tool:2.0": single}
    blobs = {name.removeprefix("blobs/sha256/"): body for name, body in held.items() if name.startswith("blobs/")}
    assert all(_digest(body) == f"sha256:{name}" for name, body in blobs.items())  # each stored by its digest
    assert len(blobs) == 7 and {two.index[7:], single[7:], two.layers["linux/amd64"][0][0][7:]} <= set(blobs)
    for key in held:  # S3 keeps each blob's sha256 as metadata, which a second run reads
        head = s3.head_object(Bucket=BUCKET, Key=f"{PREFIX}/oci/{key}")
        if key.startswith("blobs/"):
            assert head["Metadata"]["sha256"] == key.removeprefix("blobs/sha256/")
    _skopeo_reads(tmp_path / "got", f"{source.host}/team/app:1.0", two, tmp_path / "app")
    _skopeo_reads(tmp_path / "got", f"{source.host}/team/tool:2.0", one, tmp_path / "tool")

    again = lock_cli("mirror", str(lock), "--to", f"s3://{BUCKET}/{PREFIX}")
    assert again.code == 0 and "0 copied, 7 already there, 0 failed" in again.out, again.out
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=PREFIX)["Versions"]
    assert len(versions) == len(held) == 9  # the second run wrote no object again, not even index.json


def test_a_blob_the_source_serves_with_other_bytes_is_not_stored_in_s3_nor_what_names_it(
    tmp_path: Path, source: Registry, moto_server: MotoServer, lock_cli
) -> None:
    built = oci_layout(tmp_path / "layout", "1.0", "s3-tampered", platforms=("linux/amd64",))
    source.push(tmp_path / "layout", "1.0", "team/bad")
    intent = tmp_path / "image.toml"
    intent.write_text(
        f'name = "bad"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n'
        f'[[containers]]\nimage = "{source.host}/team/bad:1.0"\n'
    )
    assert lock_cli("update", str(intent)).code == 0
    lock = intent.with_suffix(".lock")
    before = lock.read_bytes()
    layer = built.layers["linux/amd64"][0][0]
    source.tamper("team/bad", layer)  # same size, other bytes
    _s3().create_bucket(Bucket=BUCKET)
    run = lock_cli("mirror", str(lock), "--to", f"s3://{BUCKET}/{PREFIX}")
    assert run.code == 2, run.out
    assert f"containers[0] {source.host}/team/bad:1.0" in run.out and layer[7:] in run.out
    assert "not stored, nor anything naming it" in run.out
    keys = {o["Key"] for o in _s3().list_objects_v2(Bucket=BUCKET).get("Contents", [])}
    assert f"{PREFIX}/oci/blobs/sha256/{layer[7:]}" not in keys
    assert f"{PREFIX}/oci/blobs/sha256/{built.manifests['linux/amd64'][7:]}" not in keys  # the manifest naming it
    assert f"{PREFIX}/oci/index.json" not in keys
    assert lock.read_bytes() == before


def test_an_http_prefix_keeps_the_same_layout_with_index_json_written_last(
    tmp_path: Path, source: Registry, put_server: tuple[_PutServer, Path, str], lock_cli
) -> None:
    server, root, url = put_server
    lock, two, one = _two_images(tmp_path, source, lock_cli)
    with_password = url.replace("http://", f"http://{USER}:{PASSWORD}@")
    run = lock_cli("mirror", str(lock), "--to", with_password)
    assert run.code == 0, run.out + run.err
    assert f"containers (OCI image layout {url}/oci): 7 copied, 0 already there, 0 failed" in run.out
    assert PASSWORD not in run.out + run.err + lock.read_text()
    puts = [p.removeprefix("/imagelock/oci/") for p in server.puts]
    assert puts[-2:] == ["oci-layout", "index.json"]
    order = [p.removeprefix("blobs/sha256/") for p in puts[:-2]]
    amd64 = two.manifests["linux/amd64"][7:]
    for config_or_layer in (two.configs["linux/amd64"][0][7:], two.layers["linux/amd64"][0][0][7:]):
        assert order.index(config_or_layer) < order.index(amd64) < order.index(two.index[7:])
    _skopeo_reads(root / "imagelock" / "oci", f"{source.host}/team/app:1.0", two, tmp_path / "app")
    _skopeo_reads(root / "imagelock" / "oci", f"{source.host}/team/tool:2.0", one, tmp_path / "tool")

    server.puts.clear()
    again = lock_cli("mirror", str(lock), "--to", with_password)
    assert again.code == 0 and "0 copied, 7 already there, 0 failed" in again.out, again.out
    assert server.puts == []
