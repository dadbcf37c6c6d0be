"""Drift fixtures: a real Debian bookworm root filesystem (mmdebstrap, cached), prepared with a venv, models, a fingerprint."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from imagelock.lock.model import KernelLayer

from .drifthelpers import (
    CACHE,
    MODEL_FILES,
    MODELS,
    SUITE,
    VENV,
    Rootfs,
    apt_mirror,
    build_deb,
    dpkg_install,
    make_lock,
    pip_install,
    wheel_file,
)


@pytest.fixture(scope="session")
def bookworm_tarball() -> Path:
    """Minimal Debian bookworm + python3, built once with mmdebstrap and cached."""
    if shutil.which("mmdebstrap") is None:
        pytest.fail("mmdebstrap is not installed (see .ci/apt-packages.txt)")
    if os.geteuid() != 0:
        pytest.fail("the e2e root filesystem tests need root (mmdebstrap --mode=root, chroot)")
    CACHE.mkdir(parents=True, exist_ok=True)
    tarball = CACHE / f"{SUITE}-minbase-python3.tar"
    if not tarball.exists():
        partial = tarball.with_suffix(".partial.tar")
        done = subprocess.run(
            [
                "mmdebstrap",
                "--quiet",
                "--mode=root",
                "--variant=minbase",
                "--include=python3",
                SUITE,
                str(partial),
                f"deb {apt_mirror()} {SUITE} main",
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"mmdebstrap failed: {done.stderr.strip()[-500:]}")
        partial.rename(tarball)
    return tarball


@pytest.fixture
def rootfs(bookworm_tarball: Path, tmp_path: Path) -> Rootfs:
    """A real bookworm rootfs with a venv holding two real wheels, a model folder, a fingerprint, and its lock."""
    root, work = tmp_path / "root", tmp_path / "work"
    root.mkdir()
    work.mkdir()
    subprocess.run(["tar", "-xf", str(bookworm_tarball), "-C", str(root)], check=True, capture_output=True)
    probe = build_deb(work, "imagelock-probe", "1.0")
    dpkg_install(root, probe)
    subprocess.run(
        ["chroot", str(root), "python3", "-m", "venv", "--without-pip", VENV], check=True, capture_output=True
    )
    wheels = []
    for name, version in (("tinya", "1.0"), ("tinyb", "2.1")):
        path, wheel = wheel_file(work, name, version)
        wheels.append((name, version, wheel))
        pip_install(root, path)
    for rel, data in MODEL_FILES.items():
        target = root / MODELS.lstrip("/") / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    lock = make_lock("rootfs", root, wheels, MODEL_FILES)
    fs = Rootfs(root, work, lock, work / "rootfs.lock")
    fs.write_lock()
    fs.write_fingerprint(lock)
    return fs


@pytest.fixture
def kernel_lock() -> KernelLayer:
    release = os.uname().release
    flavour = release.rsplit("-", 1)[-1]
    return KernelLayer(version=release, flavour=flavour, abi=release, packages=[])
