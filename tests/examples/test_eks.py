"""The EKS example (seed 002): Canonical's Ubuntu 20.04 EKS AMI with the NVIDIA server driver from Ubuntu's archive
and the GPU operator's images pre-fetched into containerd, locked offline from its recording, with what could not be
pinned said by `lock check`."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tomllib
from pathlib import Path

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from imagelock_testing import ROOT, tree_digest

from imagelock.replay.server import ReplayServer, Snapshot
from tests.apt.test_seed_jammy import _signed_sha256

INTENT = ROOT / "locks" / "eks.toml"
LOCK = ROOT / "locks" / "eks.lock"
SNAPSHOT = ROOT / "snapshots" / "eks"
FOCAL = SNAPSHOT / "ubuntu-focal"
UBUNTU_KEYRING = ROOT / "locks" / "keys" / "ubuntu-archive-keyring.gpg"
PARAMETER = "/aws/service/canonical/ubuntu/eks/20.04/1.26/stable/current/amd64/hvm/ebs-gp2/ami-id"


def _copy(tmp_path: Path, with_lock: bool) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    intent = tmp_path / "eks.toml"
    shutil.copy(INTENT, intent)
    shutil.copytree(ROOT / "locks" / "keys", tmp_path / "keys")
    if with_lock:
        shutil.copy(LOCK, tmp_path / "eks.lock")
    return intent


def test_the_example_is_unchanged_offline_with_the_committed_lock(tmp_path: Path, lock_cli) -> None:
    intent = _copy(tmp_path, with_lock=True)
    run = lock_cli("update", str(intent), "--replay", str(SNAPSHOT))
    assert run.code == 0, run.err
    assert run.out.startswith(f"unchanged {tmp_path / 'eks.lock'}"), run.out
    assert (tmp_path / "eks.lock").read_bytes() == LOCK.read_bytes()


def test_a_fresh_offline_lock_is_the_committed_one(tmp_path: Path, lock_cli) -> None:
    intent = _copy(tmp_path, with_lock=False)
    run = lock_cli("update", str(intent), "--replay", str(SNAPSHOT))
    assert run.code == 0, run.err
    assert (tmp_path / "eks.lock").read_bytes() == LOCK.read_bytes()
    lock = tomllib.loads(LOCK.read_text())
    packages = {p["name"]: p["version"] for p in lock["apt"]["packages"]}
    # the server driver from Ubuntu's restricted component, built by DKMS against the base's kernel's headers
    assert packages["nvidia-headless-535-server"] == "535.247.01-0ubuntu0.20.04.1"
    assert packages["nvidia-dkms-535-server"] == packages["nvidia-utils-535-server"] == "535.247.01-0ubuntu0.20.04.1"
    assert packages["linux-headers-5.15.0-1039-aws"] == "5.15.0-1039.44~20.04.1"
    # each image by the digest its public source quotes, pulled into the kubelet's containerd namespace;
    # the lock names the real registries, never the loopback stand-in
    images = {(c["registry"], c["repository"]): c for c in lock["containers"]}
    pause = images[("registry.k8s.io", "pause")]
    assert (pause["tag"], pause["digest"]) == (
        "3.9",
        "sha256:7031c1b283388d2c2e09b57badb803c05ebed362dc88d84b480cc47f72a21097",
    )
    assert images[("nvcr.io", "nvidia/k8s-device-plugin")]["digest"] == (
        "sha256:80871275fbcf888d4683c58638c7a75b3c46091040cafc6210a8c93513adb146"
    )
    assert {c["runtime"] for c in lock["containers"]} == {"containerd"}
    # nothing was read of them: no platforms, and no time of reading
    assert all(not c.get("platforms") and c["resolved-at"] == "" for c in lock["containers"])
    assert "127.0.0.1" not in LOCK.read_text()
    assert "base" not in lock


def test_check_says_what_the_example_could_not_pin(lock_cli) -> None:
    run = lock_cli("check", str(INTENT))
    assert run.code == 0, run.out
    assert "not verified: containers: 6 images pinned by digest only, their manifests not read (" in run.out
    assert "not reproducible: base image: the lock holds no base image" in run.out
    # The suggested base is of the release whose suites the apt layer reads (focal), not a fixed one.
    assert '[base] image = "ubuntu 20.04"' in run.out
    assert lock_cli("check", "--strict", str(INTENT)).code == 1


def test_the_build_pulls_each_image_by_digest_into_containerd(tmp_path: Path, lock_cli) -> None:
    build = tmp_path / "build"
    run = lock_cli("generate", str(LOCK), "-o", str(build))
    assert run.code == 0, run.err
    assert sorted(p.name for p in build.iterdir()) == [
        "bootstrap.sh",
        "image.pkr.hcl",
        "lock.toml",
        "sbom.cdx.json",
        "sbom.spdx.json",
    ]
    script = (build / "bootstrap.sh").read_text()
    assert (
        "containerd nvcr.io/nvidia/k8s-device-plugin@sha256:80871275fbcf888d4683c58638c7a75b3c46091040cafc6210a8c93513adb146"
        " nvcr.io/nvidia/k8s-device-plugin sha256:80871275fbcf888d4683c58638c7a75b3c46091040cafc6210a8c93513adb146"
    ) in script
    assert "\n  nvidia-headless-535-server 535.247.01-0ubuntu0.20.04.1 amd64 pool/restricted/" in script
    checked = subprocess.run(["bash", "-n", str(build / "bootstrap.sh")], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr


def test_an_image_the_recording_does_not_hold_is_one_line_and_nothing_is_written(tmp_path: Path, lock_cli) -> None:
    for image in (
        "registry.k8s.io/pause@sha256:" + "0" * 64,  # a digest no source quoted
        "nvcr.io/nvidia/k8s-device-plugin:v0.14.1",  # a tag: the recording holds digests only
    ):
        intent = _copy(tmp_path / image.split("/")[1].split("@")[0].split(":")[0], with_lock=False)
        intent.write_text(intent.read_text() + f'\n[[containers]]\nimage = "{image}"\n')
        before = tree_digest(intent.parent)
        run = lock_cli("update", str(intent), "--replay", str(SNAPSHOT))
        assert run.code == 2, run.err
        (line,) = [line for line in run.err.splitlines() if line.startswith("lock: error:")]
        assert f"containers[6].image {image}" in line and "not found in the registry (HTTP 404)" in line, line
        assert tree_digest(intent.parent) == before


def test_the_recording_answers_the_seed_s_ssm_parameter_as_quoted() -> None:
    with ReplayServer(Snapshot.open(SNAPSHOT)) as server:
        endpoint = server.local_aws("us-west-2", "ssm")
        assert endpoint is not None
        ssm = boto3.client(
            "ssm", region_name="us-west-2", endpoint_url=endpoint, config=Config(signature_version=UNSIGNED)
        )
        assert ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"] == "ami-0e425174814918692"


def test_the_recorded_focal_indexes_are_the_ones_ubuntu_signed() -> None:
    provenance = json.loads((FOCAL / "provenance.json").read_text())
    assert sorted(provenance["suites"]) == ["focal", "focal-security", "focal-updates"]
    for suite, recorded in provenance["suites"].items():
        upstream = FOCAL / "upstream" / f"{suite}.InRelease"
        result = subprocess.run(
            ["gpgv", "--keyring", str(UBUNTU_KEYRING), str(upstream)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
        assert 'Good signature from "Ubuntu Archive Automatic Signing Key' in result.stderr
        assert hashlib.sha256(upstream.read_bytes()).hexdigest() == recorded["inrelease-sha256"]
        signed = _signed_sha256(upstream.read_text())
        for index in recorded["indexes"]:
            assert signed[index["path"]] == (index["sha256"], index["size"])
