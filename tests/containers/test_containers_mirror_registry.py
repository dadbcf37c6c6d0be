"""`lock mirror --to docker://…`: every locked image copied by digest from one real loopback registry into
another (which wants push credentials, from the real credential helper); skopeo reads the same digests back
from the mirror; a blob the source serves with other bytes is never uploaded."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import pytest

from tests.containers.credentials import docker_config, pass_store
from tests.containers.registry import oci_layout, registry, token_server


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _locked(tmp_path: Path, source: str, lock_cli, *images: str) -> Path:
    intent = tmp_path / "image.toml"
    entries = "".join(f'[[containers]]\nimage = "{source}/{image}"\n' for image in images)
    intent.write_text(f'name = "mirrored"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n{entries}')
    assert lock_cli("update", str(intent)).code == 0
    return intent.with_suffix(".lock")


def test_mirror_copies_every_image_by_digest_into_another_registry(
    tmp_path: Path, lock_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        registry(tmp_path / "source") as source,
        token_server(tmp_path, ("mirrorer", "m1rror-s3cret")) as tokens,
        registry(tmp_path / "mirror", tokens) as mirror,
    ):
        two = oci_layout(tmp_path / "two", "1.0", "two-platforms")
        source.push(tmp_path / "two", "1.0", "team/app")
        one = oci_layout(tmp_path / "one", "2.0", "single", platforms=("linux/amd64",))
        source.push(tmp_path / "one", "2.0", "team/tool", every_platform=False)
        lock = _locked(tmp_path, source.host, lock_cli, "team/app:1.0", "team/tool:2.0")
        before = lock.read_bytes()
        with pass_store(tmp_path, {mirror.host: ("mirrorer", "m1rror-s3cret")}) as env:
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            docker_config(tmp_path / "docker", {"credHelpers": {mirror.host: "pass"}})
            monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
            run = lock_cli("mirror", str(lock), "--to", f"docker://{mirror.host}/cache")
            assert run.code == 0, run.out + run.err
            # the index, both platforms' manifests, configs and layers; then the single manifest, config, layer
            assert f"containers (registry {mirror.host}/cache): 10 copied, 0 already there, 0 failed" in run.out
            assert "m1rror-s3cret" not in run.out + run.err
            assert lock.read_bytes() == before  # a registry mirror is not recorded in the lock
            pushes = {r["scope"] for r in tokens.requests if r["authorization"]}
            assert pushes == {"repository:cache/team/app:pull,push", "repository:cache/team/tool:pull,push"}

            # skopeo, the oracle, reads back from the mirror the very digests the lock holds.
            raw = mirror.inspect_raw(f"cache/team/app@{two.index}")
            assert _digest(raw) == two.index
            for platform, digest in two.manifests.items():
                assert _digest(mirror.inspect_raw(f"cache/team/app@{digest}")) == digest, platform
            single = one.manifests["linux/amd64"]
            assert _digest(mirror.inspect_raw(f"cache/team/tool@{single}")) == single
            locked = tomllib.loads(lock.read_text())["containers"]
            assert [c["digest"] for c in locked] == [two.index, single]

            again = lock_cli("mirror", str(lock), "--to", f"docker://{mirror.host}/cache")
            assert again.code == 0 and "0 copied, 2 already there, 0 failed" in again.out, again.out


def test_a_blob_the_source_serves_with_other_bytes_is_not_uploaded(tmp_path: Path, lock_cli) -> None:
    with registry(tmp_path / "source") as source, registry(tmp_path / "mirror") as mirror:
        built = oci_layout(tmp_path / "layout", "1.0", "tampered", platforms=("linux/amd64",))
        source.push(tmp_path / "layout", "1.0", "team/bad")
        lock = _locked(tmp_path, source.host, lock_cli, "team/bad:1.0")
        layer = built.layers["linux/amd64"][0][0]
        source.tamper("team/bad", layer)  # same size, other bytes
        run = lock_cli("mirror", str(lock), "--to", f"docker://{mirror.host}")
        assert run.code == 2, run.out
        assert f"containers[0] {source.host}/team/bad:1.0" in run.out and layer.removeprefix("sha256:") in run.out
        assert "nothing was uploaded" in run.out
        blobs = mirror.storage / "docker/registry/v2/blobs/sha256"
        held = {p.name for p in blobs.glob("*/*")} if blobs.exists() else set()
        assert layer.removeprefix("sha256:") not in held
        assert built.index.removeprefix("sha256:") not in held  # nor the index that names it


@pytest.mark.parametrize(
    ("to", "message"),
    [
        ("docker://", "expected docker://host[:port][/lower-case/prefix]"),
        ("docker://127.0.0.1:5000/Upper", "expected docker://host[:port][/lower-case/prefix]"),
        ("docker://user:pw@127.0.0.1:5000", "expected docker://host[:port][/lower-case/prefix]"),
    ],
)
def test_a_bad_registry_target_is_one_line_and_changes_nothing(tmp_path: Path, lock_cli, to: str, message: str) -> None:
    with registry(tmp_path / "source") as source:
        oci_layout(tmp_path / "layout", "1.0", "target", platforms=("linux/amd64",))
        source.push(tmp_path / "layout", "1.0", "team/app")
        lock = _locked(tmp_path, source.host, lock_cli, "team/app:1.0")
        before = lock.read_bytes()
        run = lock_cli("mirror", str(lock), "--to", to)
        assert run.code == 2 and run.err.count("\n") == 1 and f"--to: {message}" in run.err, run.err
        assert "pw" not in run.err and lock.read_bytes() == before
