"""kernel-devel for the image's kernel: `lock update` refuses a kernel-devel that is for no kernel of the base
image (dnf's newest, not the base's), `lock check` says when the base's kernel is unknown, and the generated
bootstrap (rpm-test.sh --root, into a root holding kernel 6.1.1) stops before fetching anything when the
locked kernel-devel is for another kernel, and installs the one that matches."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apt.aptrepo import RepoServer
from tests.dnf import scenario
from tests.dnf.rpmrepo import Rpm, RpmKey, build_repo, install_base
from tests.dnf.rpmroot import DBPATH, generate, installed, manifest, rpm_test_root
from tests.imagelock_testing import tree_digest

# As Amazon Linux's kernel packages are: installonly, `uname -r` = version-release.arch
KERNELS = [
    Rpm(name, version, arch="x86_64", provides=["installonlypkg(kernel)", f"{name}-uname-r = {version}-1.x86_64"])
    for name in ("kernel", "kernel-devel")
    for version in ("6.1.1", "6.1.2")
]

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="bootstrap.sh installs rpms as root")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, rpm_key: RpmKey) -> Iterator[tuple[RepoServer, Path]]:
    root = tmp_path_factory.mktemp("kernels")
    repo = build_repo(root / scenario.RELEASEVER / scenario.BASEARCH / "core", KERNELS, rpm_key)
    with RepoServer(root) as server:
        yield server, repo / "Packages"


def _base(tmp_path: Path, packages: Path) -> tuple[Path, Path]:
    """A root whose rpm database holds kernel 6.1.1 (the base image's kernel), and its manifest."""
    root = tmp_path / "root"
    install_base(root, [packages / "kernel-6.1.1-1.x86_64.rpm"], dbpath=DBPATH)
    listing = tmp_path / "base.rpms"
    listing.write_text(manifest(root))
    return root, listing


def _intent(tmp_path: Path, server: RepoServer, key: Path, packages: list[str], base: Path | None) -> Path:
    path = tmp_path / "intent" / "image.toml"
    path.parent.mkdir(exist_ok=True)
    listed = ", ".join(f'"{p}"' for p in packages)
    path.write_text(
        f'name = "kdevel"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n[dnf]\nreleasever = "{scenario.RELEASEVER}"\n'
        f"packages = [{listed}]\n" + (f'base-manifest = "{base}"\n' if base else "")
        + f'[[dnf.repos]]\nid = "core"\nbaseurl = "{server.url}/$releasever/$basearch/core"\ngpgkey = "{key}"\n'
    )  # fmt: skip
    return path


def test_lock_update_refuses_the_newest_kernel_devel_over_an_older_base_kernel(
    tmp_path: Path, served: tuple[RepoServer, Path], rpm_key: RpmKey, lock_cli
) -> None:
    server, packages = served
    _, listing = _base(tmp_path, packages)
    intent = _intent(tmp_path, server, rpm_key.armored, ["kernel-devel"], listing)
    before = tree_digest(intent.parent)
    run = lock_cli("update", str(intent))
    assert run.code == 1, run.out + run.err
    assert "dnf: kernel-devel-6.1.2-1.x86_64 is for no kernel of the image (kernel 6.1.1-1.x86_64)" in run.out
    assert 'packages = ["kernel-devel-6.1.1-1"]' in run.out
    assert tree_digest(intent.parent) == before
    # "kernel" is already installed (dnf installs nothing), so kernel-devel is still refused; a new kernel
    # locked with its own kernel-devel is a kernel of the image: accepted
    intent = _intent(tmp_path, server, rpm_key.armored, ["kernel", "kernel-devel"], listing)
    assert lock_cli("update", str(intent)).code == 1
    intent = _intent(tmp_path, server, rpm_key.armored, ["kernel-6.1.2-1", "kernel-devel-6.1.2-1"], listing)
    run = lock_cli("update", str(intent))
    assert run.code == 0, run.out + run.err


@needs_root
def test_the_build_installs_the_kernel_devel_of_the_roots_kernel(
    tmp_path: Path, served: tuple[RepoServer, Path], rpm_key: RpmKey, lock_cli
) -> None:
    server, packages = served
    root, listing = _base(tmp_path, packages)
    intent = _intent(tmp_path, server, rpm_key.armored, ["kernel-devel-6.1.1-1"], listing)
    generated = generate(intent, lock_cli)
    check = lock_cli("check", str(intent))
    assert check.code == 0 and "kernel-devel" not in check.out + check.err
    run = rpm_test_root(generated, root)
    assert run.returncode == 0, run.stderr
    assert "kernel-devel: 6.1.1-1.x86_64 is for this image's kernel (6.1.1-1.x86_64)" in run.stderr
    assert installed(root) == {"kernel-6.1.1-1.x86_64", "kernel-devel-6.1.1-1.x86_64"}


@needs_root
def test_the_build_refuses_a_kernel_devel_for_another_kernel_before_fetching(
    tmp_path: Path, served: tuple[RepoServer, Path], rpm_key: RpmKey, lock_cli
) -> None:
    server, packages = served
    root, _ = _base(tmp_path, packages)
    intent = _intent(tmp_path, server, rpm_key.armored, ["kernel-devel"], None)  # no base-manifest: not checked
    generated = generate(intent, lock_cli)
    check = lock_cli("check", str(intent))
    assert check.code == 0, check.out + check.err
    assert (
        "not verified: dnf package kernel-devel-6.1.2-1.x86_64: locked without a base-manifest, so whether it is "
        "for the base image's kernel is unknown"
    ) in check.out + check.err
    run = rpm_test_root(generated, root)
    assert run.returncode == 1, run.stderr
    assert (
        "kernel-devel: the lock's kernel-devel 6.1.2-1.x86_64 is for no kernel of this image (6.1.1-1.x86_64)"
    ) in run.stderr
    assert "fetched" not in run.stderr and installed(root) == {"kernel-6.1.1-1.x86_64"}


def test_a_kernel_the_lock_installs_is_booted_by_the_packer_build_and_checked_after(
    tmp_path: Path, served: tuple[RepoServer, Path], rpm_key: RpmKey, lock_cli
) -> None:
    server, packages = served
    _, listing = _base(tmp_path, packages)
    intent = _intent(tmp_path, server, rpm_key.armored, ["kernel-6.1.2-1", "kernel-devel-6.1.2-1"], listing)
    generated = generate(intent, lock_cli)
    template = (generated / "image.pkr.hcl").read_text()
    assert 'inline            = ["shutdown -r now"]' in template
    assert "--system-only" in template and "--lock /tmp/imagelock-lock.toml --booted" in template
    # after the reboot, bootstrap.sh --booted stops unless the locked kernel runs (this machine runs its own)
    script = (generated / "bootstrap.sh").read_text()
    data = script[script.index("readonly IMAGE_NAME=") : script.index("# --- everything below")]
    rpm = script[script.index("readonly RPM_ROW=") : script.index("step_rpm() {")]
    harness = tmp_path / "booted.sh"
    harness.write_text(
        "set -euo pipefail\n" + data + "log() { printf 'imagelock: %s\\n' \"$*\" >&2; }\n"
        "die() { printf 'imagelock: FAILED: %s\\n' \"$*\" >&2; exit 1; }\nROOT=''\nBOOTED=1\n"
        + rpm
        + "rpm_booted_check\n"
    )
    run = subprocess.run(["bash", str(harness)], capture_output=True, text=True)
    assert run.returncode == 1, run.stderr
    running = os.uname().release
    assert f"kernel: the machine rebooted into {running}, not a kernel the lock installs (6.1.2-1.x86_64)" in run.stderr
    # kernel-devel for the base's own kernel: nothing to boot
    (tmp_path / "b").mkdir()
    intent = _intent(tmp_path / "b", server, rpm_key.armored, ["kernel-devel-6.1.1-1"], listing)
    template = (generate(intent, lock_cli) / "image.pkr.hcl").read_text()
    assert "shutdown -r now" not in template and "--booted" not in template
