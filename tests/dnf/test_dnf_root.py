"""The generated rpm-test.sh runs the same bootstrap.sh that builds the image into a root filesystem from this
Debian machine (`--root DIR`): every locked .rpm fetched from the loopback repository by address, sha256 and
signature checked, installed into DIR's rpm database (`rpm --root`), the fingerprint written there; `lock
drift --root` then finds the root clean. A tampered .rpm stops the run with nothing installed; an
installonly package already in the root is refused rather than replaced by `rpm -U`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.dnf.conftest import Repos, write_intent
from tests.dnf.rpmrepo import RpmKey, install_base
from tests.dnf.rpmroot import DBPATH, generate, installed, manifest, rpm_test_root

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="bootstrap.sh installs rpms as root")


def _generated(tmp_path: Path, repos: Repos, key: Path, lock_cli, packages: list[str], **kw: object) -> Path:
    return generate(write_intent(tmp_path, repos, key, packages, **kw), lock_cli)  # type: ignore[arg-type]


def test_rpm_test_installs_the_locked_rpms_into_a_root_and_drift_finds_it_clean(
    tmp_path: Path, repos: Repos, rpm_key: RpmKey, lock_cli
) -> None:
    generated = _generated(tmp_path, repos, rpm_key.armored, lock_cli, ["gcc14", "epochy"])
    script = generated / "rpm-test.sh"
    assert os.access(script, os.X_OK)
    lint = subprocess.run(["shellcheck", "--severity=style", str(script)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    root = tmp_path / "root"
    run = rpm_test_root(generated, root)
    assert run.returncode == 0, run.stderr
    assert "rpm: fetched and verified 4 .rpms (sha256 and signature)" in run.stderr
    assert installed(root) == {
        "gcc14-14.2.1-1.x86_64", "libgcc14-14.2.1-1.x86_64", "binutils-2.41-1.x86_64", "epochy-1:1.0-1.noarch",
    }  # fmt: skip
    lock = tmp_path / "intent" / "image.lock"
    assert (root / "etc" / "imagelock" / "lock.toml").read_bytes() == lock.read_bytes()
    assert not (root / "var" / "cache" / "imagelock" / "rpms").exists()  # staged files removed
    drift = lock_cli("drift", str(lock), "--root", str(root))
    assert drift.code == 0, drift.out + drift.err
    again = rpm_test_root(generated, root)  # a second run finds every package at its locked version
    assert again.returncode == 0, again.stderr
    assert "rpm: all 4 locked packages already installed at their locked versions" in again.stderr


def test_a_tampered_rpm_stops_the_run_with_nothinginstalled(
    tmp_path: Path, repos: Repos, rpm_key: RpmKey, lock_cli
) -> None:
    generated = _generated(tmp_path, repos, rpm_key.armored, lock_cli, ["gcc14"])
    target = repos.path("core") / "Packages" / "binutils-2.41-1.x86_64.rpm"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    root = tmp_path / "root"
    run = rpm_test_root(generated, root)
    assert run.returncode == 1, run.stderr
    assert "dnf package binutils 2.41-1: sha256 mismatch" in run.stderr
    assert not (root / DBPATH.lstrip("/")).exists() or not installed(root)
    assert not (root / "etc" / "imagelock").exists()


def test_over_a_base_image_it_upgrades_as_locked_and_refuses_to_replace_an_installonly_kernel(
    tmp_path: Path, repos: Repos, rpm_key: RpmKey, lock_cli
) -> None:
    packages = repos.path("core") / "Packages"
    base = [packages / "lib-1.0-1.noarch.rpm", packages / "base-app-1.0-1.noarch.rpm"]
    base_rpms = tmp_path / "base.rpms"
    root = tmp_path / "root"
    install_base(root, base, dbpath=DBPATH)
    base_rpms.write_text(manifest(root))
    generated = _generated(tmp_path, repos, rpm_key.armored, lock_cli, ["app"], manifest=base_rpms)
    run = rpm_test_root(generated, root)
    assert run.returncode == 0, run.stderr
    # app needs lib >= 2: lib is upgraded, and base-app, which pinned the old lib, with it (as dnf would)
    assert {"lib-2.0-1.noarch", "base-app-1.1-1.noarch", "app-1.0-1.noarch"} <= installed(root)
    assert not {"lib-1.0-1.noarch", "base-app-1.0-1.noarch"} & installed(root)
    # a root that already has kernel-devel 6.1.1: dnf installs 6.1.2 beside it, rpm -U would replace it
    kernel_root = tmp_path / "kernel-root"
    install_base(kernel_root, [packages / "kernel-devel-6.1.1-1.x86_64.rpm"], dbpath=DBPATH)
    (tmp_path / "k").mkdir()
    generated = _generated(tmp_path / "k", repos, rpm_key.armored, lock_cli, ["kernel-devel-6.1.2-1"])
    run = rpm_test_root(generated, kernel_root)
    assert run.returncode == 1, run.stderr
    assert "rpm: kernel-devel is installonly and installed already" in run.stderr
    assert installed(kernel_root) == {"kernel-devel-6.1.1-1.x86_64"}
