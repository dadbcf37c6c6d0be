"""`lock update --replay`: a recorded apt archive served on loopback stands in for the real one.

The lock records the upstream URL the intent names, and the digest of the
keyring that actually verified the recording (a trimmed recording is
re-signed by its own throwaway key, which it carries as keyring.gpg).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tomllib
from pathlib import Path

from tests.apt.aptrepo import Key
from tests.apt.helpers import lock_update, write_intent

UPSTREAM = "https://archive.invalid/debian"


def test_replayed_archive_locks_upstream_urls(
    tmp_path: Path, pristine_repo: Path, archive_key: Key, other_key: Key, capsys
) -> None:
    snapshot = tmp_path / "snapshot"
    shutil.copytree(pristine_repo, snapshot / "debian-test")
    shutil.copy(archive_key.keyring, snapshot / "debian-test" / "keyring.gpg")
    (snapshot / "snapshot.json").write_text(json.dumps({"apt": {f"{UPSTREAM}/20991231T000000Z": "debian-test"}}))
    # the intent's own keyring is not the one that signed the recording: replay verifies with the recording's
    intent = write_intent(
        tmp_path, UPSTREAM, other_key.keyring, ["kmod-tool"], snapshot=True, cutoff="2099-12-31T00:00:00Z"
    )
    code, out, err = lock_update(intent, capsys, "--replay", str(snapshot))
    assert code == 0, out + err
    lock = tomllib.loads(intent.with_suffix(".lock").read_text())["apt"]
    assert lock["archive"] == UPSTREAM and lock["snapshot"] == "20991231T000000Z"
    assert {s["uri"] for s in lock["sources"]} == {f"{UPSTREAM}/20991231T000000Z"}
    assert lock["keyring-sha256"] == hashlib.sha256(archive_key.keyring.read_bytes()).hexdigest()
    assert {p["name"] for p in lock["packages"]} == {"kmod-tool", "pre", "epochy"}


def test_replay_serves_nothing_outside_the_recording(tmp_path: Path, pristine_repo: Path) -> None:
    from imagelock.errors import UpstreamError
    from imagelock.net import http
    from imagelock.replay.server import ReplayServer, Snapshot

    snapshot = tmp_path / "snapshot"
    shutil.copytree(pristine_repo, snapshot / "rec")
    (snapshot / "secret.txt").write_text("not served")
    (snapshot / "snapshot.json").write_text(json.dumps({"apt": {UPSTREAM: "rec"}}))
    with ReplayServer(Snapshot.open(snapshot)) as server:
        base = server.local_apt(UPSTREAM)
        assert base is not None
        assert http.get_bytes(f"{base}/dists/stable/Release").startswith(b"Acquire-By-Hash")
        for path in ("/apt/rec/../secret.txt", "/apt/rec/%2e%2e/secret.txt", "/apt/other/x", "/apt/rec/.hidden"):
            try:
                body = http.get_bytes(server.base_url + path)
            except UpstreamError:
                continue
            assert b"not served" not in body


def test_replay_without_a_recording_of_the_archive_says_so(tmp_path: Path, archive_key: Key, capsys) -> None:
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    (snapshot / "snapshot.json").write_text(json.dumps({"apt": {}}))
    intent = write_intent(tmp_path, UPSTREAM, archive_key.keyring, ["pre"])
    code, out, err = lock_update(intent, capsys, "--replay", str(snapshot))
    assert code == 2
    assert err.strip() == (
        f"lock: error: {intent}: apt.archive: {UPSTREAM} is not in the replayed snapshot "
        f'(its snapshot.json lists the apt archives it recorded under "apt")'
    )
    assert not intent.with_suffix(".lock").exists()
