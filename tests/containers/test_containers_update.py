"""`[[containers]]` through the real CLI against the real distribution registry on loopback: locked by digest
(skopeo is the oracle), kept while the tag moves until --refresh, read through anonymous token auth, mirrored
to an OCI layout that skopeo reads back, and refused on bad input."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagelock import domains
from imagelock.domains import containers
from tests.containers.registry import Registry, oci_layout, registry, token_server, tool


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    tmp = tmp_path_factory.mktemp("registry")
    with registry(tmp / "registry") as reg:
        yield reg


def _intent(folder: Path, entries: str) -> Path:
    path = folder / "image.toml"
    path.write_text(f'name = "containers"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n{entries}')
    return path


def _locked(intent: Path) -> list[dict[str, object]]:
    return tomllib.loads(intent.with_suffix(".lock").read_text())["containers"]


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_a_two_platform_image_locks_index_manifest_and_layers_as_skopeo_sees_them(
    tmp_path: Path, served: Registry, lock_cli
) -> None:
    built = oci_layout(tmp_path / "layout", "1.0", "first")
    served.push(tmp_path / "layout", "1.0", "team/app")
    intent = _intent(tmp_path, f'[[containers]]\nimage = "{served.host}/team/app:1.0"\n')
    run = lock_cli("update", str(intent))
    assert run.code == 0, run.err
    assert "1 container images" in run.out
    (entry,) = _locked(intent)
    index = served.inspect_raw("team/app:1.0")
    assert entry["digest"] == _digest(index) == built.index
    assert entry["media-type"] == "application/vnd.oci.image.index.v1+json" and entry["size"] == len(index)
    assert (entry["registry"], entry["repository"], entry["tag"]) == (served.host, "team/app", "1.0")
    assert entry["plain-http"] is True and entry["runtime"] == "containerd" and "resolved-at" in entry
    (amd64,) = entry["platforms"]
    listed = {m["platform"]["architecture"]: m["digest"] for m in json.loads(index)["manifests"]}
    manifest = served.inspect_raw(f"team/app@{listed['amd64']}")
    assert amd64["platform"] == "linux/amd64"
    assert amd64["manifest-digest"] == _digest(manifest) == built.manifests["linux/amd64"]
    described = json.loads(manifest)
    assert amd64["config"]["digest"] == described["config"]["digest"]
    assert amd64["config"]["size"] == described["config"]["size"]
    assert [(b["digest"], b["size"]) for b in amd64["layers"]] == [
        (b["digest"], b["size"]) for b in described["layers"]
    ]
    assert lock_cli("check", str(intent)).code == 0

    # The tag moves: nothing changes until --refresh containers; then `lock diff` shows the new digest.
    old_lock = tmp_path / "old.lock"
    old_lock.write_bytes(intent.with_suffix(".lock").read_bytes())
    moved = oci_layout(tmp_path / "layout2", "1.0", "second")
    served.push(tmp_path / "layout2", "1.0", "team/app")
    assert _digest(served.inspect_raw("team/app:1.0")) == moved.index != built.index
    again = lock_cli("update", str(intent))
    assert again.code == 0, again.err
    assert intent.with_suffix(".lock").read_bytes() == old_lock.read_bytes()
    # Another entry changes the intent, so the resolver runs: the moved tag's entry is kept as locked.
    oci_layout(tmp_path / "layout3", "1.1", "neighbour")
    served.push(tmp_path / "layout3", "1.1", "team/neighbour")
    intent.write_text(intent.read_text() + f'[[containers]]\nimage = "{served.host}/team/neighbour:1.1"\n')
    grown = lock_cli("update", str(intent))
    assert grown.code == 0, grown.err
    assert [e["digest"] for e in _locked(intent)][0] == built.index and len(_locked(intent)) == 2
    refreshed = lock_cli("update", str(intent), "--refresh", "containers")
    assert refreshed.code == 0, refreshed.err
    assert _locked(intent)[0]["digest"] == moved.index
    diff = lock_cli("diff", str(old_lock), str(intent.with_suffix(".lock")))
    assert moved.index in diff.out and built.index in diff.out, diff.out


def test_a_reference_by_digest_and_a_platform_list(tmp_path: Path, served: Registry, lock_cli) -> None:
    built = oci_layout(tmp_path / "layout", "2.0", "by-digest")
    served.push(tmp_path / "layout", "2.0", "team/pinned")
    intent = _intent(
        tmp_path,
        f'[[containers]]\nimage = "{served.host}/team/pinned@{built.index}"\n'
        'platforms = ["linux/arm64", "linux/amd64"]\nruntime = "docker"\n',
    )
    run = lock_cli("update", str(intent))
    assert run.code == 0, run.err
    (entry,) = _locked(intent)
    assert entry["digest"] == built.index and "tag" not in entry and entry["runtime"] == "docker"
    assert [(p["platform"], p["manifest-digest"]) for p in entry["platforms"]] == [
        ("linux/arm64", built.manifests["linux/arm64"]),
        ("linux/amd64", built.manifests["linux/amd64"]),
    ]


def test_anonymous_token_auth_as_registries_do_it_and_no_secret_in_the_lock(
    tmp_path: Path, lock_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    with token_server(tmp_path) as tokens, registry(tmp_path / "registry", tokens) as reg:
        built = oci_layout(tmp_path / "layout", "1.0", "tokened")
        reg.push(tmp_path / "layout", "1.0", "team/private")
        intent = _intent(tmp_path, f'[[containers]]\nimage = "{reg.host}/team/private:1.0"\n')
        tokens.requests.clear()
        run = lock_cli("update", str(intent))
        assert run.code == 0, run.err
        assert _locked(intent)[0]["digest"] == built.index
        assert tokens.requests and all(r["authorization"] == "" for r in tokens.requests)  # anonymous
        assert {r["scope"] for r in tokens.requests} == {"repository:team/private:pull"}

        # With credentials in the environment they go to the token realm only, and nowhere else.
        variable = "IMAGELOCK_REGISTRY_AUTH_" + reg.host.replace(".", "_").replace(":", "_")
        monkeypatch.setenv(variable, "pusher:s3cret-push")
        tokens.requests.clear()
        assert lock_cli("update", str(intent), "--refresh", "containers").code == 0
        assert tokens.requests and all(r["authorization"].startswith("Basic ") for r in tokens.requests)
        assert "s3cret" not in intent.with_suffix(".lock").read_text()

        # Docker's config.json is read the same way, and `lock mirror` fetches blobs with the token.
        monkeypatch.delenv(variable)
        docker = tmp_path / "docker"
        docker.mkdir()
        auth = base64.b64encode(b"pusher:s3cret-push").decode()
        (docker / "config.json").write_text(json.dumps({"auths": {reg.host: {"auth": auth}}}))
        monkeypatch.setenv("DOCKER_CONFIG", str(docker))
        tokens.requests.clear()
        mirrored = lock_cli("mirror", str(intent.with_suffix(".lock")), "--to", str(tmp_path / "mirror"))
        assert mirrored.code == 0, mirrored.out
        assert tokens.requests and all(r["authorization"].startswith("Basic ") for r in tokens.requests)
        assert "s3cret" not in mirrored.out + mirrored.err
        monkeypatch.delenv("DOCKER_CONFIG")

        monkeypatch.setenv(variable, "pusher:wrong")
        refused = lock_cli("update", str(intent), "--refresh", "containers")
        assert refused.code == 2 and "authentication failed" in refused.err and "wrong" not in refused.err


def test_mirror_writes_an_oci_layout_that_skopeo_reads(tmp_path: Path, served: Registry, lock_cli) -> None:
    built = oci_layout(tmp_path / "layout", "3.0", "mirrored")
    served.push(tmp_path / "layout", "3.0", "team/mirrored")
    image = f"{served.host}/team/mirrored:3.0"
    intent = _intent(tmp_path, f'[[containers]]\nimage = "{image}"\n')
    assert lock_cli("update", str(intent)).code == 0
    mirror = tmp_path / "mirror"
    run = lock_cli("mirror", str(intent.with_suffix(".lock")), "--to", str(mirror))
    assert run.code == 0, run.out + run.err
    assert "4 copied, 0 already there, 0 failed" in run.out  # index, amd64 manifest, config, layer
    blobs = {p.name for p in (mirror / "oci" / "blobs" / "sha256").iterdir()}
    amd64_layer = built.layers["linux/amd64"][0][0]
    assert {built.index[7:], built.manifests["linux/amd64"][7:], amd64_layer[7:]} <= blobs
    raw = subprocess.run(
        [tool("skopeo"), "inspect", "--raw", f"oci:{mirror / 'oci'}:{image}"], check=True, capture_output=True
    ).stdout
    assert _digest(raw) == built.index
    config = subprocess.run(
        [tool("skopeo"), "inspect", "--override-arch", "amd64", f"oci:{mirror / 'oci'}:{image}"],
        check=True,
        capture_output=True,
    ).stdout
    assert json.loads(config)["Layers"] == [amd64_layer]
    again = lock_cli("mirror", str(intent.with_suffix(".lock")), "--to", str(mirror))
    assert again.code == 0 and "0 copied, 4 already there" in again.out


def test_a_registry_serving_other_bytes_for_a_manifest_digest_is_refused(
    tmp_path: Path, served: Registry, lock_cli
) -> None:
    built = oci_layout(tmp_path / "layout", "4.0", "tampered")
    served.push(tmp_path / "layout", "4.0", "team/tampered")
    amd64 = served.blob_file("team/tampered", built.manifests["linux/amd64"])
    body = amd64.read_bytes()
    amd64.write_bytes(body.replace(b'"schemaVersion": 2', b'"schemaVersion":  2'))
    intent = _intent(tmp_path, f'[[containers]]\nimage = "{served.host}/team/tampered:4.0"\n')
    run = lock_cli("update", str(intent))
    assert run.code == 2
    assert f"containers[0].image {served.host}/team/tampered:4.0" in run.err
    assert "digest" in run.err and not intent.with_suffix(".lock").exists()


@pytest.mark.parametrize(
    ("entry", "key", "message"),
    [
        ('image = "busybox:1.36"', "image", "'busybox:1.36' names no registry"),
        ('image = "library/busybox:1.36"', "image", "'library' is not a registry host"),
        ('image = "docker.io/Library/busybox:1.36"', "image", "is not a repository"),
        ('image = "docker.io/library/busybox"', "image", "names no tag and no digest"),
        ('image = "docker.io/library/busybox@sha256:abc"', "image", "is not a digest"),
        ('image = "user:pw@registry.example/app:1"', "image", "credentials do not belong in an intent"),
        ('image = "docker.io/library/busybox:1.36 "', "image", "no spaces"),
        ("image = 5", "image", "expected a string"),
        ('platforms = []\nimage = "docker.io/library/busybox:1.36"', "platforms", "expected a non-empty array"),
        ('platforms = ["amd64"]\nimage = "docker.io/library/busybox:1.36"', "platforms", "is not os/architecture"),
        ('runtime = "podman"\nimage = "docker.io/library/busybox:1.36"', "runtime", "expected one of"),
        ('insecure = "yes"\nimage = "docker.io/library/busybox:1.36"', "insecure", "expected true or false"),
        ('tag = "1"\nimage = "docker.io/library/busybox:1.36"', "tag", "unknown key"),
        ('platforms = ["linux/amd64"]', "image", "missing"),
    ],
)
def test_bad_intent_is_one_line_naming_the_key_and_writes_nothing(
    tmp_path: Path, lock_cli, entry: str, key: str, message: str
) -> None:
    intent = _intent(tmp_path, f"[[containers]]\n{entry}\n")
    run = lock_cli("update", str(intent))
    assert run.code == 2, run.err
    assert run.err.count("\n") == 1 and f"{intent}: containers[0].{key}" in run.err and message in run.err, run.err
    assert not intent.with_suffix(".lock").exists()


def test_a_platform_the_image_lacks_is_refused_naming_what_it_has(tmp_path: Path, served: Registry, lock_cli) -> None:
    oci_layout(tmp_path / "layout", "5.0", "two")
    served.push(tmp_path / "layout", "5.0", "team/two")
    intent = _intent(tmp_path, f'[[containers]]\nimage = "{served.host}/team/two:5.0"\nplatforms = ["linux/s390x"]\n')
    run = lock_cli("update", str(intent))
    assert run.code == 2 and f"{intent}: containers[0].platforms:" in run.err
    assert "has no linux/s390x image (it has: linux/amd64, linux/arm64)" in run.err
    assert not intent.with_suffix(".lock").exists()


def test_mirror_to_an_unreachable_http_prefix_names_it_and_leaves_the_lock_unchanged(
    tmp_path: Path, served: Registry, lock_cli
) -> None:
    oci_layout(tmp_path / "layout", "6.0", "put")
    served.push(tmp_path / "layout", "6.0", "team/put")
    intent = _intent(tmp_path, f'[[containers]]\nimage = "{served.host}/team/put:6.0"\n')
    assert lock_cli("update", str(intent)).code == 0
    before = intent.with_suffix(".lock").read_bytes()
    run = lock_cli("mirror", str(intent.with_suffix(".lock")), "--to", "http://127.0.0.1:9/prefix")
    assert run.code == 2, run.out
    assert "containers (OCI image layout http://127.0.0.1:9/prefix/oci): 0 copied, 0 already there, 1 failed" in run.out
    assert "http://127.0.0.1:9/prefix/oci/blobs/sha256/" in run.out and "unreachable" in run.out
    assert intent.with_suffix(".lock").read_bytes() == before


def test_check_flags_plain_http_to_a_registry_that_is_not_loopback(tmp_path: Path, served: Registry, lock_cli) -> None:
    oci_layout(tmp_path / "layout", "7.0", "plain")
    served.push(tmp_path / "layout", "7.0", "team/plain")
    intent = _intent(tmp_path, f'[[containers]]\nimage = "{served.host}/team/plain:7.0"\n')
    assert lock_cli("update", str(intent)).code == 0
    lock, _ = domains.read_lock(intent.with_suffix(".lock"))
    assert containers.problems(lock, domains.read_intent(intent)) == []
    lock.layers["containers"][0].registry = "registry.example"
    assert containers.problems(lock, domains.read_intent(intent)) == [
        f"containers[0] {served.host}/team/plain:7.0: plain HTTP to registry.example, "
        "which is not loopback and not `insecure = true`"
    ]


@pytest.mark.parametrize(
    ("field", "value", "key"),
    [
        ("image", "127.0.0.1:5000/team/app:1$(reboot)", "containers[0].image"),
        ("repository", "team/app;reboot", "containers[0].repository"),
        ("digest", "sha256:`reboot`", "containers[0].digest"),
        ("runtime", "podman", "containers[0].runtime"),
    ],
)
def test_generate_refuses_a_lock_value_that_is_not_what_it_should_be(
    tmp_path: Path, served: Registry, lock_cli, field: str, value: str, key: str
) -> None:
    from imagelock.build import bootstrap
    from imagelock.build.values import Values
    from imagelock.errors import InputError

    oci_layout(tmp_path / "layout", "8.0", "hostile")
    served.push(tmp_path / "layout", "8.0", "team/hostile")
    intent = _intent(tmp_path, f'[[containers]]\nimage = "{served.host}/team/hostile:8.0"\n')
    assert lock_cli("update", str(intent)).code == 0
    lock, _ = domains.read_lock(intent.with_suffix(".lock"))
    assert bootstrap.data(lock, "0" * 64, Values("image.lock"))["CONTAINER_IMAGES"]
    setattr(lock.layers["containers"][0], field, value)
    with pytest.raises(InputError, match=rf"^image\.lock: {re.escape(key)}: "):
        bootstrap.data(lock, "0" * 64, Values("image.lock"))


def test_a_single_platform_image_is_locked_with_the_platform_its_config_names(
    tmp_path: Path, served: Registry, lock_cli
) -> None:
    built = oci_layout(tmp_path / "layout", "9.0", "single")
    served.push(tmp_path / "layout", "9.0", "team/single", every_platform=False)
    raw = served.inspect_raw("team/single:9.0")
    assert _digest(raw) == built.manifests["linux/amd64"]  # skopeo copied the amd64 manifest alone
    intent = _intent(tmp_path, f'[[containers]]\nimage = "{served.host}/team/single:9.0"\n')
    assert lock_cli("update", str(intent)).code == 0
    (entry,) = _locked(intent)
    assert entry["digest"] == entry["platforms"][0]["manifest-digest"] == built.manifests["linux/amd64"]
    assert entry["media-type"] == "application/vnd.oci.image.manifest.v1+json"
    assert entry["platforms"][0]["platform"] == "linux/amd64"
    intent.with_suffix(".lock").unlink()
    other = _intent(tmp_path, f'[[containers]]\nimage = "{served.host}/team/single:9.0"\nplatforms = ["linux/arm64"]\n')
    run = lock_cli("update", str(other))
    assert run.code == 2 and "is a single-platform image for linux/amd64, not linux/arm64" in run.err
    assert not other.with_suffix(".lock").exists()
