"""`lock drift --local` on this very machine, against a lock made for it from independent sources."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from imagelock.lock import codec as lockfile
from imagelock.lock.model import (
    AptLayer,
    AptPackage,
    KernelLayer,
    Lock,
    Model,
    ModelFile,
    PythonLayer,
    PythonPackage,
    Universe,
    Wheel,
)


def dpkg_query() -> list[tuple[str, str, str]]:
    """The installed packages as dpkg itself lists them (not our parser)."""
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Status}\t${Package}\t${Version}\t${Architecture}\n"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [tuple(line.split("\t")[1:]) for line in out.splitlines() if line.startswith("installed\t")]


def local_lock(models: Path) -> Lock:
    site = sysconfig.get_paths()["purelib"]
    dists = {}
    for dist in importlib.metadata.distributions(path=[site]):
        dists.setdefault(dist.metadata["Name"], dist.version)
    wheel = Wheel(filename="x.whl", url="https://files.example.invalid/x.whl", sha256="0" * 64)
    release = os.uname().release
    return Lock(
        name="this-machine",
        intent_sha256="0" * 64,
        universe=Universe(cutoff="2026-01-01T00:00:00Z", source="intent"),
        layers={
            "python": PythonLayer(
                version=sys.version.split()[0],
                platform="x86_64",
                venv=sys.prefix,
                engine="uv",
                packages=[
                    PythonPackage(name=n, version=v, index="pypi", requested=False, wheel=wheel)
                    for n, v in sorted(dists.items())
                ],
            ),
            "apt": AptLayer(
                archive="http://deb.debian.org/debian",
                keyring_sha256="0" * 64,
                packages=[
                    AptPackage(name=n, version=v, arch=a, filename="f.deb", sha256="0" * 64, size=1, suite="bookworm")
                    for n, v, a in dpkg_query()
                ],
            ),
            "kernel": KernelLayer(version=release, flavour=release.rsplit("-", 1)[-1], abi=release),
            "models": [
                Model(
                    repo="local/tiny",
                    revision="main",
                    commit="3" * 40,
                    dest=str(models),
                    files=[ModelFile(path="w.bin", size=5, sha256="0" * 64)],
                )
            ],
        },
    )


@pytest.fixture
def local(tmp_path: Path) -> tuple[Path, Lock]:
    if not Path("/var/lib/dpkg/status").is_file():
        pytest.fail("this test audits a Debian/Ubuntu machine: no /var/lib/dpkg/status here")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "w.bin").write_bytes(b"12345")
    lock = local_lock(tmp_path / "models")
    path = tmp_path / "local.lock"
    path.write_text(lockfile.dumps(lock))
    return path, lock


def test_this_machine_matches_a_lock_made_for_it_but_its_fingerprint(lock_cli, local) -> None:
    path, lock = local
    run = lock_cli("drift", str(path), "--local", "--format", "json")
    findings = json.loads(run.out)["machines"][0]["findings"]
    # Not built by imagelock: the one finding is the missing fingerprint; dpkg, kernel, venv, models all match.
    assert findings == [
        {
            "layer": "image",
            "kind": "missing",
            "subject": "fingerprint",
            "expected": lock.image_name(),
            "detail": "no /etc/imagelock/lock.digest: not built from an imagelock lock",
        }
    ]
    assert run.code == 1
    assert len(lock.apt.packages) > 50 and len(lock.python.packages) > 10


def test_wrong_kernel_on_this_machine(lock_cli, local, tmp_path: Path) -> None:
    path, lock = local
    lock.kernel = KernelLayer(version="5.15.0-105-generic", flavour="generic", abi="5.15.0-105")
    path.write_text(lockfile.dumps(lock))
    run = lock_cli("drift", str(path), "--local")
    assert f"kernel:\n  running kernel: 5.15.0-105-generic → {os.uname().release}\n" in run.out
    assert run.code == 1
