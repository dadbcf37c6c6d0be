"""The seed's apt and kernel layers, locked offline from the recorded Ubuntu 22.04 archive.

snapshots/seed/ubuntu-jammy was recorded by tools/record_apt_snapshot.py from
Ubuntu's archive after gpgv verified each InRelease with Ubuntu's own keyring
(locks/keys/ubuntu-archive-keyring.gpg) and every index by its signed SHA256,
and after the real apt-get computed the same closure on the full indexes.
These tests check that chain offline: the archive's signatures over the
recorded index digests, the locked closure against the recording, real apt
against the replayed archive, and the handbook's wrong header name.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import tomli_w

from imagelock.replay.server import ReplayServer, Snapshot
from tests.apt import realapt
from tests.apt.helpers import lock_update, locked
from tests.imagelock_testing import ROOT, SEED_SNAPSHOT

RECORDING = SEED_SNAPSHOT / "ubuntu-jammy"
PROVENANCE = json.loads((RECORDING / "provenance.json").read_text())
SEED_INTENT = tomllib.loads((ROOT / "locks" / "seed.toml").read_text())
UBUNTU_KEYRING = ROOT / "locks" / "keys" / "ubuntu-archive-keyring.gpg"


def _signed_sha256(inrelease: str) -> dict[str, tuple[str, int]]:
    section = inrelease.split("\nSHA256:\n", 1)[1].split("\n-----BEGIN PGP SIGNATURE-----", 1)[0]
    out = {}
    for line in section.splitlines():
        if not line.startswith(" "):
            break
        digest, size, path = line.split()
        out[path] = (digest, int(size))
    return out


def _apt_intent(folder: Path, packages: list[str] | None = None) -> Path:
    """The seed's own [apt] and [kernel] sections, without its Python layer."""
    apt = dict(SEED_INTENT["apt"], keyring=str(UBUNTU_KEYRING))
    if packages is not None:
        apt["packages"] = packages
    intent = {"name": "seed-apt", "universe": SEED_INTENT["universe"], "apt": apt, "kernel": SEED_INTENT["kernel"]}
    path = folder / "image.toml"
    path.write_text(tomli_w.dumps(intent))
    return path


def _recorded_stanzas() -> dict[tuple[str, str], dict[str, str]]:
    out = {}
    for index in RECORDING.glob("dists/*/*/binary-amd64/Packages"):
        for block in index.read_text().split("\n\n"):
            fields = dict(re.findall(r"^([A-Za-z0-9-]+): (.*)$", block, re.M))
            if fields:
                out[(fields["Package"], fields["Version"])] = fields
    return out


@pytest.mark.parametrize("suite", sorted(PROVENANCE["suites"]))
def test_recorded_digests_are_the_ones_ubuntu_signed(suite: str) -> None:
    upstream = RECORDING / "upstream" / f"{suite}.InRelease"
    result = subprocess.run(["gpgv", "--keyring", str(UBUNTU_KEYRING), str(upstream)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert 'Good signature from "Ubuntu Archive Automatic Signing Key' in result.stderr
    recorded = PROVENANCE["suites"][suite]
    assert hashlib.sha256(upstream.read_bytes()).hexdigest() == recorded["inrelease-sha256"]
    signed = _signed_sha256(upstream.read_text())
    for index in recorded["indexes"]:
        assert signed[index["path"]] == (index["sha256"], index["size"])


def test_the_keyring_is_ubuntus_archive_key() -> None:
    listing = subprocess.run(
        ["gpg", "--batch", "--no-default-keyring", "--keyring", str(UBUNTU_KEYRING), "--with-colons", "--list-keys"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    fingerprints = {line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")}
    # Ubuntu Archive Automatic Signing Key (2018), which signs the 22.04 archive
    assert "F6ECB3762474EDA9D21B7022871920D1991BC93C" in fingerprints


def test_seed_apt_and_kernel_lock_the_recorded_closure_offline(tmp_path: Path, capsys) -> None:
    intent = _apt_intent(tmp_path)
    code, out, err = lock_update(intent, capsys, "--replay", str(SEED_SNAPSHOT))
    assert code == 0, out + err
    packages = locked(intent)
    assert sorted(f"{p['name']}={p['version']}" for p in packages.values()) == PROVENANCE["closure"]
    assert PROVENANCE["closure"] == PROVENANCE["apt-closure"]
    stanzas = _recorded_stanzas()
    for p in packages.values():
        real = stanzas[(p["name"], p["version"])]
        assert (p["sha256"], p["size"], p["filename"]) == (real["SHA256"], int(real["Size"]), real["Filename"])
    for part in ("image", "modules", "headers"):
        assert packages[f"linux-{part}-5.15.0-105-generic"]["version"] == "5.15.0-105.115"
    assert packages["build-essential"]["version"] == "12.9ubuntu3"
    assert packages["dkms"]["version"] == "2.8.7-2ubuntu2.2"
    lock = tomllib.loads(intent.with_suffix(".lock").read_text())
    assert (lock["kernel"]["version"], lock["kernel"]["abi"]) == ("5.15.0-105-generic", "5.15.0-105")
    assert {s["uri"] for s in lock["apt"]["sources"]} == {SEED_INTENT["apt"]["archive"]}


def test_committed_seed_lock_holds_that_closure() -> None:
    lock = tomllib.loads((ROOT / "locks" / "seed.lock").read_text())
    assert sorted(f"{p['name']}={p['version']}" for p in lock["apt"]["packages"]) == PROVENANCE["closure"]


def test_real_apt_agrees_on_the_replayed_archive(tmp_path: Path) -> None:
    with ReplayServer(Snapshot.open(SEED_SNAPSHOT)) as server:
        url = server.local_apt(SEED_INTENT["apt"]["archive"])
        assert url is not None
        env = realapt.setup(
            tmp_path / "apt",
            url,
            RECORDING / "keyring.gpg",
            SEED_INTENT["apt"]["suites"],
            SEED_INTENT["apt"]["components"],
        )
        code, installs, output = realapt.simulate(env, PROVENANCE["request"])
    assert code == 0, output
    assert sorted(f"{name}={version}" for name, version, _ in installs) == PROVENANCE["closure"]


def test_the_handbooks_header_name_gets_the_real_package(tmp_path: Path, capsys) -> None:
    intent = _apt_intent(tmp_path, ["build-essential=12.9ubuntu3", "linux-headers-5.15.0-105.115"])
    code, out, err = lock_update(intent, capsys, "--replay", str(SEED_SNAPSHOT))
    assert code == 2
    assert "linux-headers-5.15.0-105.115" in err
    assert "linux-headers-5.15.0-105-generic=5.15.0-105.115" in err
    assert len(err.strip().splitlines()) == 1
    assert not intent.with_suffix(".lock").exists()


def test_the_lock_records_the_sources_ubuntu_signed_not_the_recording(tmp_path: Path, capsys) -> None:
    """A build verifies the archive with Ubuntu's key: the lock names that keyring and the real digests."""
    intent = _apt_intent(tmp_path)
    code, out, err = lock_update(intent, capsys, "--replay", str(SEED_SNAPSHOT))
    assert code == 0, out + err
    apt = tomllib.loads(intent.with_suffix(".lock").read_text())["apt"]
    assert apt["keyring-sha256"] == hashlib.sha256(UBUNTU_KEYRING.read_bytes()).hexdigest()
    for source in apt["sources"]:
        recorded = PROVENANCE["suites"][source["suite"]]
        assert source["inrelease-sha256"] == recorded["inrelease-sha256"]
        assert source["indexes"] == recorded["indexes"]
        assert source["date"] == recorded["date"]


def _broken_recording(folder: Path, breaks: str) -> Path:
    snapshot = folder / "snapshot"
    shutil.copytree(RECORDING, snapshot / "jammy")
    (snapshot / "snapshot.json").write_text(json.dumps({"apt": {SEED_INTENT["apt"]["archive"]: "jammy"}}))
    upstream = snapshot / "jammy" / "upstream" / "jammy-updates.InRelease"
    if breaks == "signature":
        upstream.write_bytes(upstream.read_bytes().replace(b"Suite: jammy-updates", b"Suite: jammy-updatez", 1))
    elif breaks == "provenance":
        provenance = json.loads((snapshot / "jammy" / "provenance.json").read_text())
        provenance["suites"]["jammy-updates"]["indexes"][0]["sha256"] = "0" * 64
        (snapshot / "jammy" / "provenance.json").write_text(json.dumps(provenance))
    elif breaks == "missing":
        upstream.unlink()
    elif breaks in ("inrelease", "no-index"):
        provenance = json.loads((snapshot / "jammy" / "provenance.json").read_text())
        if breaks == "inrelease":
            provenance["suites"]["jammy-updates"]["inrelease-sha256"] = "1" * 64
        else:
            provenance["suites"]["jammy-updates"]["indexes"] = []
        (snapshot / "jammy" / "provenance.json").write_text(json.dumps(provenance))
    elif breaks == "malformed":
        (snapshot / "jammy" / "provenance.json").write_text("{}")
    return snapshot


@pytest.mark.parametrize(
    ("breaks", "expected"),
    [
        ("signature", "upstream/jammy-updates.InRelease: BAD signature (the signed text was altered)"),
        (
            "provenance",
            "upstream/jammy-updates.InRelease: does not list main/binary-amd64/Packages.xz with sha256 " + "0" * 64,
        ),
        ("missing", "keeps no upstream InRelease and digests for suite jammy-updates"),
        ("inrelease", "upstream/jammy-updates.InRelease: not the InRelease provenance.json names for jammy-updates"),
        ("no-index", "jammy/provenance.json: names no index of suite jammy-updates"),
        ("malformed", "jammy/provenance.json: suites: expected the recorded suites' digests"),
    ],
)
def test_a_recording_that_does_not_tie_back_to_ubuntus_signature_is_refused(
    tmp_path: Path, capsys, breaks: str, expected: str
) -> None:
    snapshot = _broken_recording(tmp_path, breaks)
    intent = _apt_intent(tmp_path)
    code, out, err = lock_update(intent, capsys, "--replay", str(snapshot))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and expected in err
    assert not intent.with_suffix(".lock").exists()


def test_an_intent_keyring_that_did_not_sign_the_archive_is_refused(tmp_path: Path, capsys) -> None:
    intent = _apt_intent(tmp_path)
    table = tomllib.loads(intent.read_text())
    table["apt"]["keyring"] = str(RECORDING / "keyring.gpg")  # the recorder's key, not Ubuntu's
    intent.write_text(tomli_w.dumps(table))
    code, out, err = lock_update(intent, capsys, "--replay", str(SEED_SNAPSHOT))
    assert code == 2
    assert "upstream/jammy.InRelease: signed by a key that is not in the keyring" in err
    assert not intent.with_suffix(".lock").exists()
