"""Drift test helpers: real .debs, real wheels, locks for a root filesystem; the machine's apt mirror."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from imagelock_testing import tree_digest  # noqa: F401 - re-exported for the drift tests
from indexbuilder import Dist, _wheel  # the project's real tiny wheels

from imagelock import domains
from imagelock.drift import collector
from imagelock.lock import codec as lockfile
from imagelock.lock.model import (
    AptLayer,
    AptPackage,
    KernelLayer,
    Lock,
    Model,
    ModelFile,
    NvidiaLayer,
    PythonLayer,
    PythonPackage,
    Universe,
    Wheel,
)

VENV = "/opt/venvs/ai"
MODELS = "/workspace/models/tiny"
SUITE = "bookworm"
CACHE = Path(os.environ.get("IMAGELOCK_TEST_CACHE", Path.home() / ".cache" / "imagelock-tests"))


def apt_mirror() -> str:
    """The machine's own Debian mirror, read from its apt sources (never written into the project)."""
    folder = Path("/etc/apt/sources.list.d")
    texts = [p.read_text() for p in sorted(folder.glob("*.sources"))] if folder.is_dir() else []
    for text in texts:
        for stanza in text.split("\n\n"):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
            suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
            if uris and suites and SUITE in suites.group(1).split() and "security" not in uris.group(1):
                return uris.group(1)
    lists = [Path("/etc/apt/sources.list"), *sorted(folder.glob("*.list"))] if folder.is_dir() else []
    for path in lists:
        if path.is_file():
            for line in path.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 3 and parts[0] == "deb" and parts[2] == SUITE:
                    return parts[1]
    pytest.fail(f"no {SUITE} mirror in /etc/apt/sources.list.d: the e2e tests need one for mmdebstrap")


def build_deb(folder: Path, name: str, version: str) -> Path:
    """A real .deb with one documentation file."""
    tree = folder / f"{name}_{version}"
    (tree / "DEBIAN").mkdir(parents=True, exist_ok=True)
    (tree / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: imagelock tests <t@example.invalid>\n"
        f"Description: drift test package\n"
    )
    doc = tree / "usr" / "share" / "doc" / name
    doc.mkdir(parents=True, exist_ok=True)
    (doc / "README").write_text(f"{name} {version}\n")
    out = folder / f"{name}_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(tree), str(out)], check=True, capture_output=True)
    return out


def dpkg_install(root: Path, deb: Path) -> None:
    subprocess.run(
        ["dpkg", f"--root={root}", "--force-not-root", "-i", str(deb)],
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )


def wheel_file(folder: Path, name: str, version: str) -> tuple[Path, Wheel]:
    filename, data, _meta = _wheel(Dist(name, version, "2024-01-01T00:00:00Z"))
    path = folder / filename
    path.write_bytes(data)
    return path, Wheel(
        filename=filename,
        url=f"https://files.example.invalid/{filename}",
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )


def pip_install(root: Path, wheel: Path, *options: str) -> None:
    """The real pip installing a wheel into the rootfs venv (pip --python <venv>/bin/python)."""
    venv_python = root / VENV.lstrip("/") / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv_python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            *options,
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )


def dpkg_rows(root: Path) -> list[list[str]]:
    return collector.Collector(str(root), False, False, 60).dpkg() or []


@dataclass
class Rootfs:
    root: Path
    work: Path
    lock: Lock
    lock_path: Path

    @property
    def site(self) -> Path:
        return self.root / VENV.lstrip("/") / "lib" / "python3.11" / "site-packages"

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")

    def write_lock(self) -> None:
        self.lock_path.write_text(lockfile.dumps(self.lock))

    def write_fingerprint(self, lock: Lock) -> None:
        folder = self.path("/etc/imagelock")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "lock.toml").write_text(lockfile.dumps(lock))
        (folder / "lock.digest").write_text(lock.digest() + "\n")


def make_lock(
    name: str,
    root: Path | None = None,
    python: list[tuple[str, str, Wheel]] = (),
    models: dict[str, bytes] | None = None,
) -> Lock:
    lock = Lock(name=name, intent_sha256="0" * 64, universe=Universe(cutoff="2025-05-20T00:00:00Z", source="intent"))
    if root is not None:
        packages = [
            AptPackage(
                name=n, version=v, arch=a, filename=f"pool/main/{n}_{v}_{a}.deb", sha256="0" * 64, size=1, suite=SUITE
            )
            for n, v, a, *_ in dpkg_rows(root)
        ]
        lock.apt = AptLayer(archive="http://deb.debian.org/debian", keyring_sha256="0" * 64, packages=packages)
    if python:
        lock.python = PythonLayer(
            version="3.11",
            platform="x86_64-manylinux_2_36",
            venv=VENV,
            engine="uv",
            packages=[PythonPackage(name=n, version=v, index="pypi", requested=True, wheel=w) for n, v, w in python],
        )
    if models:
        lock.models = [
            Model(
                repo="tests/tiny-model",
                revision="main",
                commit="1" * 40,
                dest=MODELS,
                files=[
                    ModelFile(path=p, sha256=hashlib.sha256(b).hexdigest(), size=len(b))
                    for p, b in sorted(models.items())
                ],
            )
        ]
    return lock


MODEL_FILES = {"config.json": b'{"architectures": ["TinyModel"]}\n', "weights/model.safetensors": b"\x00" * 4096}


NVIDIA = NvidiaLayer(
    runfile="cuda_12.4.1_550.54.15_linux.run",
    url="https://download.example.invalid/cuda.run",
    sha256="0" * 64,
    md5="0" * 32,
    size=1,
    driver_version="550.54.15",
    cuda_version="12.4.1",
)


def seed_like_lock() -> Lock:
    """locks/seed.lock (the real seed Python layer) with the seed's apt, kernel, driver and a model added."""
    lock, _ = domains.read_lock(Path(__file__).parents[2] / "locks" / "seed.lock")
    lock.apt = AptLayer(
        archive="http://archive.ubuntu.com/ubuntu",
        keyring_sha256="0" * 64,
        packages=[
            AptPackage(name=n, version=v, arch=a, filename=f"pool/{n}.deb", sha256="0" * 64, size=1, suite="jammy")
            for n, v, a in (
                ("build-essential", "12.9ubuntu3", "amd64"),
                ("dkms", "2.8.7-2ubuntu2.2", "all"),
                ("linux-headers-5.15.0-105-generic", "5.15.0-105.115", "amd64"),
                ("python3.11", "3.11.0~rc1-1~22.04", "amd64"),
            )
        ],
    )
    lock.kernel = KernelLayer(
        version="5.15.0-105-generic", flavour="generic", abi="5.15.0-105", packages=["linux-headers-5.15.0-105-generic"]
    )
    lock.nvidia = NVIDIA
    lock.models = [
        Model(
            repo="Qwen/Qwen3-4B-AWQ",
            revision="main",
            commit="2" * 40,
            dest="/workspace/models/qwen",
            files=[
                ModelFile(path="config.json", sha256="a" * 64, size=900),
                ModelFile(path="model.safetensors", sha256="b" * 64, size=2_600_000_000),
            ],
        )
    ]
    return lock
