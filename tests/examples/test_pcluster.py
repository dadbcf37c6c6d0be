"""The ParallelCluster example (seed 001): two variants from one intent, locked offline from its recording,
with what could not be pinned said by `lock check`, and the seed repository's Ansible roles fed from the lock."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

from imagelock_testing import ROOT, example_locks_offline, tree_digest

INTENT = ROOT / "locks" / "pcluster.toml"
LOCK = ROOT / "locks" / "pcluster.lock"
SNAPSHOT = ROOT / "snapshots" / "pcluster"
AWSCLI = "/opt/imagelock/awscli-exe-linux-x86_64-2.13.26.zip"


def test_the_example_locks_offline_to_the_committed_lock(tmp_path: Path, lock_cli) -> None:
    example_locks_offline(tmp_path, lock_cli, "pcluster")
    lock = tomllib.loads(LOCK.read_text())
    # the one CUDA 12.2.0 runfile bundles the seed's driver 535.54.03
    assert (lock["nvidia"]["driver-version"], lock["nvidia"]["cuda-version"]) == ("535.54.03", "12.2.0")
    files = {f["dest"]: f for f in lock["files"]}
    # the AWS CLI's published hash is locked (its bytes were not read: no size); the others have no hash
    assert files[AWSCLI]["sha256"] == "497063433689d2b267046b2a0925c67786226a2c7c1c9682a00aaecae7d491fa"
    assert "size" not in files[AWSCLI]
    assert [d for d, f in files.items() if "sha256" not in f] == [d for d in files if d != AWSCLI]
    # the cpu variant takes four of the nine files and no driver; gpu takes everything: nothing stored twice
    assert sorted(lock["variants"]) == ["cpu", "gpu"]
    assert len(lock["variants"]["cpu"]["take"]) == 4 and "nvidia" not in lock["variants"]["cpu"]["take"]
    assert "files" not in lock["variants"]["cpu"] and "files" not in lock["variants"]["gpu"]
    assert "base" not in lock


def test_check_says_what_the_example_could_not_pin(tmp_path: Path, lock_cli) -> None:
    run = lock_cli("check", str(INTENT))
    assert run.code == 0, run.out
    assert "not verified: files without a hash: 8 files (" in run.out
    assert "not verified: variant cpu: files without a hash: 3 files (" in run.out
    assert "not reproducible: base image: the lock holds no base image under its nvidia layers" in run.out
    assert lock_cli("check", "--strict", str(INTENT)).code == 1


def test_the_example_generates_one_build_per_variant_and_the_roles_defaults(tmp_path: Path, lock_cli) -> None:
    build, roles = tmp_path / "build", tmp_path / "ansible"
    assert lock_cli("generate", str(LOCK), "-o", str(build)).code == 0
    for variant in ("cpu", "gpu"):
        assert sorted(p.name for p in (build / variant).iterdir()) == [
            "bootstrap.sh",
            "image.pkr.hcl",
            "lock.toml",
            "sbom.cdx.json",
            "sbom.spdx.json",
        ]
    assert "cuda_12.2.0_535.54.03_linux.run" in (build / "gpu" / "bootstrap.sh").read_text()
    assert "cuda_12.2.0_535.54.03_linux.run" not in (build / "cpu" / "bootstrap.sh").read_text()

    before = tree_digest(tmp_path)
    run = lock_cli("generate", str(LOCK), "--format", "ansible", "-o", str(roles))
    assert run.code == 0, run.err
    assert tree_digest(tmp_path) != before
    driver = (roles / "roles" / "nvidia_driver" / "defaults" / "main.yml").read_text()
    assert 'nvidia_driver_version: !unsafe "535.54.03"' in driver
    cpu = (roles / "playbook-cpu.yml").read_text()
    assert "nvidia_driver" not in cpu and "role: nvidia_enroot_pyxis" in cpu
    for playbook in ("playbook-cpu.yml", "playbook-gpu.yml"):
        checked = subprocess.run(
            ["ansible-playbook", "--syntax-check", "-i", "localhost,", playbook],
            cwd=roles,
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
