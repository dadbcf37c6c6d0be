"""`[[containers]]` offline: tools/record_registry.py records what `lock update` reads from the real distribution
registry on loopback, the registry is stopped, and `lock update --replay` serves the recording with the registry
v2 API to the unchanged containers source, which locks the same digests and still names the real registry."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import requests
from imagelock_testing import ROOT, tree_digest

from imagelock.replay.server import ReplayServer, Snapshot
from tests.containers.registry import oci_layout, registry

RECORDER = ROOT / "tools" / "record_registry.py"
INDEX = "application/vnd.oci.image.index.v1+json"


def _intent(folder: Path, entries: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "image.toml"
    path.write_text(f'name = "containers"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n{entries}')
    return path


def _locked(intent: Path) -> list[dict[str, object]]:
    entries = tomllib.loads(intent.with_suffix(".lock").read_text())["containers"]
    for entry in entries:
        del entry["resolved-at"]  # when the tag was read: the one value a second reading changes
    return entries


def _record(snapshot: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RECORDER), "--to", str(snapshot / "registry"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _recorded(tmp_path: Path, lock_cli) -> tuple[Path, str, dict[str, str]]:
    """A two-platform image and a single-platform one, locked live and recorded; the registry then stopped."""
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    (snapshot / "snapshot.json").write_text(json.dumps({"registry": "registry"}))
    with registry(tmp_path / "registry") as reg:
        built = oci_layout(tmp_path / "layout", "1.0", "first")
        reg.push(tmp_path / "layout", "1.0", "team/app")
        single = oci_layout(tmp_path / "single", "9.0", "single")
        reg.push(tmp_path / "single", "9.0", "team/single", every_platform=False)
        entries = (
            f'[[containers]]\nimage = "{reg.host}/team/app:1.0"\nplatforms = ["linux/amd64", "linux/arm64"]\n'
            f'[[containers]]\nimage = "{reg.host}/team/single:9.0"\n'
        )
        live = _intent(tmp_path / "live", entries)
        run = lock_cli("update", str(live))
        assert run.code == 0, run.err
        recorded = _record(snapshot, "--plain-http", f"{reg.host}/team/app:1.0", f"{reg.host}/team/single:9.0")
        assert recorded.returncode == 0, recorded.stderr
        assert f"{reg.host}/team/app:1.0 {built.index}" in recorded.stdout
        host = reg.host
    return snapshot, host, {"index": built.index, "single": single.manifests["linux/amd64"], "entries": entries}


def test_a_recorded_registry_replays_to_the_same_lock_with_the_registry_stopped(tmp_path: Path, lock_cli) -> None:
    snapshot, host, facts = _recorded(tmp_path, lock_cli)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{host}/v2/", timeout=5)  # the real registry is gone
    layout = snapshot / "registry" / host / "team" / "app"
    assert (layout / "oci-layout").is_file() and (layout / "index.json").is_file()
    offline = _intent(tmp_path / "offline", facts["entries"])
    run = lock_cli("update", str(offline), "--replay", str(snapshot))
    assert run.code == 0, run.err
    locked = _locked(offline)
    assert locked == _locked(tmp_path / "live" / "image.toml")
    # the lock names the real registry, never the loopback stand-in
    assert [(e["registry"], e["digest"]) for e in locked] == [(host, facts["index"]), (host, facts["single"])]
    assert "/registry/" not in offline.with_suffix(".lock").read_text()
    assert lock_cli("check", str(offline)).code == 0


def test_the_replay_answers_as_a_v2_registry_does(tmp_path: Path, lock_cli) -> None:
    snapshot, host, facts = _recorded(tmp_path, lock_cli)
    with ReplayServer(Snapshot.open(snapshot)) as server:
        base = server.registry(host, True, (None, None))
        ping = requests.get(f"{base}/v2/", timeout=5)
        assert ping.status_code == 200 and ping.headers["Docker-Distribution-API-Version"] == "registry/2.0"
        by_tag = requests.get(f"{base}/v2/team/app/manifests/1.0", timeout=5)
        assert by_tag.status_code == 200 and by_tag.headers["Content-Type"] == INDEX
        assert by_tag.headers["Docker-Content-Digest"] == facts["index"]
        by_digest = requests.get(f"{base}/v2/team/app/manifests/{facts['index']}", timeout=5)
        assert by_digest.content == by_tag.content
        head = requests.head(f"{base}/v2/team/app/manifests/1.0", timeout=5)
        assert head.status_code == 200 and head.headers["Docker-Content-Digest"] == facts["index"]
        assert head.headers["Content-Length"] == str(len(by_tag.content)) and head.content == b""
        config = json.loads(requests.get(f"{base}/v2/team/single/manifests/9.0", timeout=5).content)["config"]
        blob = requests.get(f"{base}/v2/team/single/blobs/{config['digest']}", timeout=5)
        assert blob.status_code == 200 and len(blob.content) == config["size"]
        assert requests.head(f"{base}/v2/team/single/blobs/{config['digest']}", timeout=5).status_code == 200
        layer = json.loads(requests.get(f"{base}/v2/team/single/manifests/9.0", timeout=5).content)["layers"][0]
        missing = requests.get(f"{base}/v2/team/single/blobs/{layer['digest']}", timeout=5)
        assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "BLOB_UNKNOWN"
        unknown = requests.get(f"{base}/v2/team/app/manifests/2.0", timeout=5)
        assert unknown.status_code == 404 and unknown.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
        other = requests.get(f"{base}/v2/team/nothing/manifests/1.0", timeout=5)
        assert other.status_code == 404 and other.json()["errors"][0]["code"] == "NAME_UNKNOWN"


def test_a_registry_the_snapshot_did_not_record_is_one_line_naming_the_key(tmp_path: Path, lock_cli) -> None:
    snapshot, host, _ = _recorded(tmp_path, lock_cli)
    intent = _intent(tmp_path / "elsewhere", '[[containers]]\nimage = "ghcr.io/team/app:1.0"\n')
    before = tree_digest(intent.parent)
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 2
    assert run.err.strip().splitlines() == [
        f"lock: error: {intent}: containers[0].image: container registry ghcr.io is not in the replayed snapshot "
        '(its snapshot.json names the registry recording under "registry")'
    ]
    assert tree_digest(intent.parent) == before


def test_a_recording_whose_bytes_are_not_their_digest_is_refused(tmp_path: Path, lock_cli) -> None:
    snapshot, host, facts = _recorded(tmp_path, lock_cli)
    blob = snapshot / "registry" / host / "team" / "app" / "blobs" / "sha256" / facts["index"].removeprefix("sha256:")
    blob.write_bytes(blob.read_bytes().replace(b"linux", b"Linux", 1))
    intent = _intent(tmp_path / "tampered", facts["entries"])
    before = tree_digest(intent.parent)
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 2
    (line,) = run.err.strip().splitlines()
    assert str(blob) in line and "its bytes hash to sha256:" in line and "not to its name" in line
    assert tree_digest(intent.parent) == before


def test_a_malformed_list_of_images_known_by_digest_only_is_one_line(tmp_path: Path, lock_cli) -> None:
    snapshot = tmp_path / "snapshot"
    listed = snapshot / "registry" / "registry.example" / "team" / "app" / "unrecorded.json"
    listed.parent.mkdir(parents=True)
    (snapshot / "snapshot.json").write_text(json.dumps({"registry": "registry"}))
    listed.write_text(json.dumps({"sha256:1234": "quoted somewhere"}))
    intent = _intent(tmp_path / "intent", f'[[containers]]\nimage = "registry.example/team/app@sha256:{"a" * 64}"\n')
    before = tree_digest(intent.parent)
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 2
    assert run.err.strip().splitlines() == [
        f"lock: error: {listed}: sha256:1234: expected a sha256:<64 hex> digest -> why its bytes are not recorded"
    ]
    assert tree_digest(intent.parent) == before

    # listed well: the image is locked by that digest alone, and `lock check` says so
    listed.write_text(json.dumps({f"sha256:{'a' * 64}": "quoted by a public source, bytes not recorded"}))
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 0, run.err
    assert "locked by digest only (quoted by a public source, bytes not recorded)" in run.err
    (entry,) = tomllib.loads(intent.with_suffix(".lock").read_text())["containers"]
    assert (entry["registry"], entry["digest"], entry["resolved-at"]) == ("registry.example", f"sha256:{'a' * 64}", "")
    assert "platforms" not in entry
    check = lock_cli("check", str(intent))
    assert "not verified: containers: 1 images pinned by digest only" in check.out, check.out
    assert lock_cli("check", "--strict", str(intent)).code == 1


def test_an_image_locked_by_digest_only_is_kept_until_refresh_reads_its_manifests(tmp_path: Path, lock_cli) -> None:
    snapshot, host, facts = _recorded(tmp_path, lock_cli)
    repository = snapshot / "registry" / host / "team" / "app"
    listed = repository / "unrecorded.json"
    listed.write_text(json.dumps({facts["index"]: "known by digest only in this run"}))
    intent = _intent(tmp_path / "pinned", f'[[containers]]\nimage = "{host}/team/app:1.0@{facts["index"]}"\n')
    assert lock_cli("update", str(intent), "--replay", str(snapshot)).code == 0
    (entry,) = tomllib.loads(intent.with_suffix(".lock").read_text())["containers"]
    assert entry["digest"] == facts["index"] and "platforms" not in entry
    digest_only = intent.with_suffix(".lock").read_bytes()
    # nothing says what the image is made of, so it is not mirrored: the lock says how to fix that
    mirrored = lock_cli("mirror", str(intent.with_suffix(".lock")), "--to", str(tmp_path / "mirror"))
    assert mirrored.code == 2
    assert f"{host}/team/app:1.0@{facts['index']}: locked by digest only, its manifests not read" in mirrored.out
    # with no image it could copy, the mirror writes no OCI layout at all (not an empty index.json)
    assert not (tmp_path / "mirror" / "oci" / "index.json").exists()

    listed.unlink()  # the manifests are now there to read: a plain update keeps the entry as locked
    again = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert again.code == 0 and again.out.startswith("unchanged"), again.out
    assert intent.with_suffix(".lock").read_bytes() == digest_only
    refreshed = lock_cli("update", str(intent), "--replay", str(snapshot), "--refresh", "containers")
    assert refreshed.code == 0, refreshed.err
    (entry,) = tomllib.loads(intent.with_suffix(".lock").read_text())["containers"]
    assert entry["digest"] == facts["index"] and [p["platform"] for p in entry["platforms"]] == ["linux/amd64"]
    assert entry["resolved-at"] != "" and lock_cli("check", "--strict", str(intent)).code == 0


def test_bytes_quoted_by_a_public_source_are_recorded_only_if_they_hash_to_the_quoted_digest(tmp_path: Path) -> None:
    built = oci_layout(tmp_path / "layout", "1.0", "quoted")  # stands in for bytes a public file quotes
    body = (tmp_path / "layout" / "blobs" / "sha256" / built.index.removeprefix("sha256:")).read_bytes()
    quoted = tmp_path / "index.json"
    quoted.write_bytes(body)
    snapshot = tmp_path / "snapshot"
    wrong = _record(
        snapshot, "--quote", str(quoted), "--media-type", INDEX, "--source", "a public file",
        f"registry.example/team/app:1.0@sha256:{'0' * 64}",
    )  # fmt: skip
    assert wrong.returncode != 0 and f"hash to {built.index}, not sha256:{'0' * 64}: not recorded" in wrong.stderr
    assert not (snapshot / "registry").exists()
    right = _record(
        snapshot, "--quote", str(quoted), "--media-type", INDEX, "--source", "a public file",
        f"registry.example/team/app:1.0@{built.index}",
    )  # fmt: skip
    assert right.returncode == 0, right.stderr
    index = json.loads((snapshot / "registry" / "registry.example" / "team" / "app" / "index.json").read_text())
    (described,) = index["manifests"]
    assert (described["digest"], described["mediaType"], described["size"]) == (built.index, INDEX, len(body))
    assert described["annotations"]["org.opencontainers.image.ref.name"] == "1.0"
    assert described["annotations"]["io.imagelock.source"] == "a public file"
