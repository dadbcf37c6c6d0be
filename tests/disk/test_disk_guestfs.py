"""disk-image.sh's customisation run for real through libguestfs (customize = "guestfs").

The base is a real Debian root (tests/generate/gen_rootfs.py's mmdebstrap tarball) made into a partitioned
qcow2 by virt-make-fs and served on loopback as `[output.base]`. The lock installs two real .debs from a
signed loopback archive; `lock mirror --to DIR` copies them by sha256, and disk-image.sh verifies each copy
on the host before virt-customize hands them to the guest, which builds with no network. The raw output
is read back with guestfish (read-only): the bootstrap's fingerprint and the locked packages are inside.

The appliance runs under TCG (LIBGUESTFS_BACKEND_SETTINGS=force_tcg): on the test machine KVM is nested and
qemu's `-cpu max` aborts ("failed to set MSR 0x10a"). Measured there: virt-make-fs 37 s, the whole
disk-image.sh about 60 s (virt-customize with bootstrap.sh 35 s, the log's download 12 s), guestfish
read-back 13 s.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomli_w

from imagelock import domains
from imagelock.cli import main
from tests.apt.aptrepo import Deb, RepoServer, build_repo, make_key, stop_agent
from tests.containers.registry import tool
from tests.disk.diskhelpers import served
from tests.generate import gen_rootfs

pytestmark = pytest.mark.e2e

ARCH = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
HELLO = Deb("imagelock-hello", "1.0-1", "all", fields={"Depends": "imagelock-dep (>= 2)"})
DEP = Deb("imagelock-dep", "2.0-1", ARCH)
LOCKED = {"imagelock-hello": "1.0-1", "imagelock-dep": "2.0-1"}
# KVM cannot run the appliance on the nested test machine; TCG runs it everywhere (slower, same result).
TCG = {"LIBGUESTFS_BACKEND_SETTINGS": "force_tcg"}


@dataclass(frozen=True)
class Built:
    lock: Path
    generated: Path
    mirror: Path
    base: Path
    debs: dict[str, str]  # name -> sha256


def _cli(*argv: str) -> None:
    assert main(list(argv)) == 0, argv


def _base_image(folder: Path) -> Path:
    """A partitioned qcow2 holding a real Debian root, as a cloud image is: root on partition 1."""
    folder.mkdir()
    image = folder / "bookworm.qcow2"
    subprocess.run(
        [tool("virt-make-fs"), "--partition=mbr", "--type=ext4", "--format=qcow2", "--size=+256M"]
        + [str(gen_rootfs.tarball()), str(image)],
        env={**os.environ, **TCG},
        check=True,
        capture_output=True,
        timeout=600,
    )
    return image


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """The lock (apt from a signed loopback archive, [output] over the served base), its mirror directory
    and its generated files."""
    tmp = tmp_path_factory.mktemp("guestfs")
    base = _base_image(tmp / "upstream")
    base_sha = hashlib.sha256(base.read_bytes()).hexdigest()
    key = make_key(tmp / "gnupg", "imagelock guestfs <guestfs@example.invalid>")
    try:
        repo = build_repo(tmp / "archive", {"stable": [HELLO, DEP]}, key, arches=(ARCH,))
        with RepoServer(repo) as archive, served(base.parent) as site:
            intent = tmp / "slice.toml"
            table = {
                "name": "slice",
                "universe": {"cutoff": "2024-04-15T00:00:00Z"},
                "apt": {
                    "archive": archive.url,
                    "suites": ["stable"],
                    "components": ["main"],
                    "architectures": [ARCH],
                    "packages": ["imagelock-hello"],
                    "keyring": str(key.keyring),
                },
                "output": {
                    "kind": "raw",
                    "customize": "guestfs",
                    "base": {"url": f"{site}/{base.name}", "sha256": base_sha},
                },
            }
            intent.write_text(tomli_w.dumps(table))
            _cli("update", str(intent))
            lock = intent.with_suffix(".lock")
            _cli("mirror", str(lock), "--to", str(tmp / "mirror"))
            _cli("generate", str(lock), "-o", str(tmp / "generated"))
    finally:
        stop_agent(key)
    locked, _ = domains.read_lock(lock)
    assert locked.apt is not None
    debs = {p.name: p.sha256 for p in locked.apt.packages}
    assert {p.name: p.version for p in locked.apt.packages} == LOCKED
    yield Built(lock, tmp / "generated", tmp / "mirror", base, debs)


def _build(built: Built, work: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """disk-image.sh with the base as a local copy (the served URL is gone with the fixture's server)."""
    return subprocess.run(
        ["bash", str(built.generated / "disk-image.sh"), str(work)],
        env={**os.environ, **TCG, "IMAGELOCK_DISK_BASE": str(built.base), **env},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def _read_back(image: Path) -> tuple[str, str, str]:
    """The fingerprint's lock digest, the dpkg status file and whether the build directory is left, read
    from the image by guestfish without booting it (read-only)."""
    script = (
        "cat /etc/imagelock/lock.digest\necho =====\ncat /var/lib/dpkg/status\necho =====\n"
        "is-dir /var/lib/imagelock/build\n"
    )
    out = subprocess.run(
        [tool("guestfish"), "--ro", "--format=raw", "-a", str(image), "-m", "/dev/sda1"],
        input=script,
        env={**os.environ, **TCG},
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    digest, status, left = out.split("=====\n")
    return digest.strip(), status, left.strip()


def _installed(status: str) -> dict[str, str]:
    """name -> version of each package dpkg's status file says is installed."""
    found = {}
    for paragraph in status.split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", paragraph, re.MULTILINE))
        if fields.get("Status", "").endswith(" ok installed"):
            found[fields["Package"]] = fields["Version"]
    return found


def test_guestfs_installs_the_locked_packages_offline_and_records_the_raw_image(built: Built, tmp_path: Path) -> None:
    done = _build(built, tmp_path / "work", IMAGELOCK_MIRROR=str(built.mirror))
    assert done.returncode == 0, done.stderr[-4000:]
    assert f"artifacts: 2 files verified by sha256, from {built.mirror}" in done.stderr
    # bootstrap.sh ran in the guest and took every .deb from the verified copies handed to it
    log = (tmp_path / "work" / "bootstrap.log").read_text()
    assert "imagelock: apt: fetched and verified 2 .debs (2 from the mirror, 0 from an archive pool)" in log
    assert log in done.stderr
    raw = tmp_path / "work" / "slice.raw"
    record = json.loads((tmp_path / "work" / "slice.raw.build.json").read_text())
    assert record["sha256"] == hashlib.sha256(raw.read_bytes()).hexdigest()
    assert record["size"] == raw.stat().st_size
    assert record["customized"] == "guestfs" and record["kind"] == "raw"
    assert not (tmp_path / "work" / "artifacts").exists()  # the staged copies are gone with the working copy
    digest, status, left = _read_back(raw)
    assert digest == domains.read_lock(built.lock)[0].digest() == record["lock-digest"]
    assert {name: version for name, version in _installed(status).items() if name in LOCKED} == LOCKED
    assert left == "false"  # bootstrap.sh, the lock and the mirror copies were removed from the image


def test_the_pipeline_lists_each_file_it_verifies_as_quoted_data_and_is_shellcheck_clean(built: Built) -> None:
    script = built.generated / "disk-image.sh"
    rows = "".join(
        f"  {shlex.quote(label)} {built.debs[name]}\n"
        for name, label in (
            ("imagelock-dep", f"apt package imagelock-dep 2.0-1 ({ARCH})"),
            ("imagelock-hello", "apt package imagelock-hello 1.0-1 (all)"),
        )
    )
    assert f"readonly -a ARTIFACTS=(\n{rows})\n" in script.read_text()  # the .debs only, not the base image
    lint = subprocess.run(
        [tool("shellcheck"), "--enable=check-unassigned-uppercase", str(script)], capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout


def test_a_tampered_mirror_file_stops_the_build_naming_it_before_the_image_is_touched(
    built: Built, tmp_path: Path
) -> None:
    mirror = tmp_path / "mirror"
    shutil.copytree(built.mirror, mirror)
    sha = built.debs["imagelock-hello"]
    bad = mirror / "sha256" / sha
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad.write_bytes(bytes(data))
    done = _build(built, tmp_path / "work", IMAGELOCK_MIRROR=str(mirror))
    assert done.returncode == 1
    actual = hashlib.sha256(bytes(data)).hexdigest()
    assert done.stderr.splitlines()[-1] == (
        f"disk-image.sh: apt package imagelock-hello 1.0-1 (all): {bad} has sha256 {actual}, the lock says {sha}"
    )
    assert "virt-customize" not in done.stderr and "Examining the guest" not in done.stderr
    assert not (tmp_path / "work" / "slice.raw").exists()


def test_a_file_missing_from_the_mirror_is_named(built: Built, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    shutil.copytree(built.mirror, mirror)
    sha = built.debs["imagelock-dep"]
    (mirror / "sha256" / sha).unlink()
    done = _build(built, tmp_path / "work", IMAGELOCK_MIRROR=str(mirror))
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"disk-image.sh: apt package imagelock-dep 2.0-1 ({ARCH}): not in the mirror {mirror} "
        f"(no sha256/{sha}; run `lock mirror LOCK --to {mirror}`)"
    )
    assert not (tmp_path / "work" / "slice.raw").exists()


def test_guestfs_without_a_mirror_directory_is_refused(built: Built, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "IMAGELOCK_MIRROR"}
    done = subprocess.run(
        ["bash", str(built.generated / "disk-image.sh"), str(tmp_path / "work")],
        env={**env, **TCG, "IMAGELOCK_DISK_BASE": str(built.base)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "disk-image.sh: customize=guestfs builds the image offline from verified copies of its 2 files: "
        "set IMAGELOCK_MIRROR to the directory `lock mirror LOCK --to DIR` filled"
    )
    assert not (tmp_path / "work" / "slice.raw").exists()
