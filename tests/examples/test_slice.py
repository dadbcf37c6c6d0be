"""The GPU slice example (seed 003): noble's raw disk image, locked offline from the recorded noble archive,
with what could not be pinned said by `lock check`, and the disk pipeline generated from the lock."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

from imagelock_testing import ROOT, example_locks_offline, tree_digest, with_seed_keys

from imagelock.replay.server import ReplayServer, Snapshot
from tests.apt import realapt

INTENT = ROOT / "locks" / "slice.toml"
LOCK = ROOT / "locks" / "slice.lock"
SNAPSHOT = ROOT / "snapshots" / "slice"
RECORDING = SNAPSHOT / "ubuntu-noble"
PROVENANCE = json.loads((RECORDING / "provenance.json").read_text())
UBUNTU_KEYRING = ROOT / "locks" / "keys" / "ubuntu-noble-archive-keyring.gpg"
BASE_SHA256 = "6e40c07ae715f744f84af0bec76415cc1987dd115b4b8de437818561f01a3733"
KERNEL = "6.8.0-151-generic"


def _copy(tmp_path: Path) -> Path:
    intent = with_seed_keys(tmp_path / "image") / "slice.toml"
    shutil.copy(INTENT, intent)
    return intent


def test_the_example_locks_offline_to_the_committed_lock(tmp_path: Path, lock_cli) -> None:
    example_locks_offline(tmp_path, lock_cli, "slice")
    again = lock_cli("update", str(INTENT), "--replay", str(SNAPSHOT), "--dry-run")
    assert again.code == 0 and again.out.startswith("would leave unchanged "), again.out + again.err
    lock = tomllib.loads(LOCK.read_text())
    packages = {p["name"]: p for p in lock["apt"]["packages"]}
    assert sorted(f"{n}={p['version']}" for n, p in packages.items()) == PROVENANCE["closure"]
    assert PROVENANCE["closure"] == PROVENANCE["apt-closure"]  # real apt computed the same on the full indexes
    # the asked driver branch under its own name, its open DKMS module, and nothing of another branch
    assert packages["nvidia-driver-580-server-open"]["version"] == "580.178.04-0ubuntu0.24.04.1"
    assert "nvidia-dkms-580-server-open" in packages
    assert not [n for n in packages if re.match(r"^(lib)?nvidia-.*-5[5-79]0", n)]
    for name in ("rdma-core", "ibverbs-utils", "infiniband-diags"):
        assert packages[name]["requested"] is True
    # the release's own generic kernel, and what chose it
    assert lock["kernel"]["version"] == KERNEL
    assert lock["kernel"]["chosen-by"] == "linux-image-generic 6.8.0-151.151"
    assert lock["kernel"]["ga"] == "6.8.0"
    assert not [n for n in packages if n.startswith("linux-image-7.")]
    # the RDMA drivers (mlx5_ib, ib_uverbs) ship in modules-extra
    assert "linux-modules-extra-6.8.0-151-generic" in lock["kernel"]["packages"]
    assert {s["suite"] for s in lock["apt"]["sources"]} == {"noble", "noble-updates", "noble-security"}
    assert "base" not in lock  # the disk image's base is [output.base], in the intent


def test_the_recorded_digests_are_the_ones_ubuntu_signed() -> None:
    for suite, recorded in PROVENANCE["suites"].items():
        upstream = RECORDING / "upstream" / f"{suite}.InRelease"
        verified = subprocess.run(
            ["gpgv", "--keyring", str(UBUNTU_KEYRING), str(upstream)], capture_output=True, text=True
        )
        assert verified.returncode == 0, verified.stderr
        # noble is signed by the 2018 key of ubuntu-keyring's ubuntu-archive-keyring.gpg
        assert "F6ECB3762474EDA9D21B7022871920D1991BC93C" in verified.stderr
        text = upstream.read_text()
        assert hashlib.sha256(upstream.read_bytes()).hexdigest() == recorded["inrelease-sha256"]
        for index in recorded["indexes"]:
            assert f" {index['sha256']} {index['size']:>16} {index['path']}\n" in text
    # the file noble's ubuntu-keyring 2023.11.28.1 ships (snapshots/slice/README.md), the one recorded with
    assert hashlib.sha256(UBUNTU_KEYRING.read_bytes()).hexdigest() == PROVENANCE["keyring-sha256"]
    assert PROVENANCE["keyring-sha256"] == "80a36b0a6de2f69f49d2df75ef473ccde121e9e190b9ea01d20a4f63778d5c31"


def test_real_apt_agrees_on_the_replayed_archive(tmp_path: Path) -> None:
    intent = tomllib.loads(INTENT.read_text())
    with ReplayServer(Snapshot.open(SNAPSHOT)) as server:
        url = server.local_apt(intent["apt"]["archive"])
        assert url is not None
        env = realapt.setup(
            tmp_path / "apt", url, RECORDING / "keyring.gpg", intent["apt"]["suites"], intent["apt"]["components"]
        )
        code, installs, output = realapt.simulate(env, PROVENANCE["request"])
    assert code == 0, output
    assert sorted(f"{name}={version}" for name, version, _ in installs) == PROVENANCE["closure"]


def test_check_says_what_the_example_could_not_pin(lock_cli) -> None:
    run = lock_cli("check", str(INTENT))
    assert run.code == 0, run.out
    assert run.out.splitlines()[0].startswith(f"{LOCK}: fresh (image slice-")
    assert "not reproducible: apt http://archive.ubuntu.com/ubuntu: read live, not from a snapshot" in run.out
    base = "not verified: base https://cloud-images.ubuntu.com/releases/noble/release-20260814/"
    assert base in run.out and "pinned by its sha256, but the lock records no package manifest" in run.out
    assert ": kernel " not in run.out  # the kernel is the one generic means
    assert lock_cli("check", "--strict", str(INTENT)).code == 1


def test_the_example_generates_the_disk_pipeline(tmp_path: Path, lock_cli) -> None:
    out = tmp_path / "build"
    run = lock_cli("generate", str(LOCK), "-o", str(out))
    assert run.code == 0, run.err
    disk = (out / "disk-image.sh").read_text()
    for line in (
        "readonly KIND=raw",
        "readonly OUT_FILE=ubuntu-24.04-h200-cuda.raw",
        "readonly BASE_URL=https://cloud-images.ubuntu.com/releases/noble/release-20260814/"
        "ubuntu-24.04-server-cloudimg-amd64.img",
        f"readonly BASE_SHA256={BASE_SHA256}",
        "readonly CUSTOMIZE=nbd",
    ):
        assert f"\n{line}\n" in disk
    bootstrap = (out / "bootstrap.sh").read_text()
    assert "linux-headers-6.8.0-151-generic" in bootstrap and "nvidia-driver-580-server-open" in bootstrap
    for script in ("bootstrap.sh", "disk-image.sh"):
        lint = subprocess.run(["shellcheck", "--severity=style", str(out / script)], capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout


def test_asking_for_the_hwe_track_moves_the_kernel_and_says_so(tmp_path: Path, lock_cli) -> None:
    """The same image on noble's hardware-enablement kernel, asked by name: the lock says what chose it. The
    7.0 kernel has no modules-extra package (its modules are all in linux-modules): one line says so."""
    intent = _copy(tmp_path)
    hwe = intent.read_text().replace('flavour = "generic"', 'flavour = "generic-hwe-24.04"')
    intent.write_text(hwe)
    before = tree_digest(intent.parent)
    run = lock_cli("update", str(intent), "--replay", str(SNAPSHOT))
    assert run.code == 2
    assert (
        run.err == f"lock: error: {intent}: kernel.packages: the archive has no linux-modules-extra-7.0.0-44-generic\n"
    )
    assert tree_digest(intent.parent) == before
    intent.write_text(hwe.replace('"modules", "modules-extra",', '"modules",'))
    run = lock_cli("update", str(intent), "--replay", str(SNAPSHOT))
    assert run.code == 0, run.err
    kernel = tomllib.loads(intent.with_suffix(".lock").read_text())["kernel"]
    assert (kernel["version"], kernel["chosen-by"]) == (
        "7.0.0-44-generic",
        "linux-image-generic-hwe-24.04 7.0.0-44.44~24.04.1",
    )
