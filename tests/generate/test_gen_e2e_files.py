"""End to end: `[[files]]` locked from a vendor's signed SHA256SUMS, mirrored to a directory, and placed by
the generated bootstrap.sh in a Debian root filesystem (chroot); a tampered copy stops the build."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import gen_rootfs as rootfs
import pytest

from tests.apt.aptrepo import make_key, stop_agent
from tests.files.vendor import INSTALLER, TOOL, sha256, vendor_site

pytestmark = pytest.mark.e2e


def test_files_from_signed_sums_are_placed_extracted_and_verified(tmp_path: Path, lock_cli) -> None:
    key = make_key(tmp_path / "gnupg", "Vendor Releases <releases@example.invalid>")
    try:
        with vendor_site(tmp_path / "site") as vendor:
            vendor.publish({"installer.sh": INSTALLER, "tool-2.0.tar.gz": TOOL}, key)
            intent = tmp_path / "image.toml"
            intent.write_text(
                'name = "files"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n'
                f'[[files]]\nurl = "{vendor.url}/installer.sh"\ndest = "/opt/vendor/install.sh"\nmode = "0755"\n'
                f'sha256sums = "{vendor.url}/SHA256SUMS"\nsignature = "{vendor.url}/SHA256SUMS.gpg"\n'
                f'keyring = "{key.keyring}"\n'
                f'[[files]]\nurl = "{vendor.url}/tool-2.0.tar.gz"\ndest = "/opt/tool"\nextract = true\n'
                f'sha256sums = "{vendor.url}/SHA256SUMS"\nsignature = "{vendor.url}/SHA256SUMS.gpg"\n'
                f'keyring = "{key.keyring}"\n'
            )
            assert lock_cli("update", str(intent)).code == 0
            lock = intent.with_suffix(".lock")
            mirror = tmp_path / "mirror"
            assert lock_cli("mirror", str(lock), "--to", str(mirror)).code == 0
        # The vendor's site is gone: only the mirror, copied onto the machine, has the files.
        generated = tmp_path / "generated"
        assert lock_cli("generate", str(lock), "-o", str(generated)).code == 0
        root = rootfs.unpack(tmp_path / "root")
        shutil.copytree(generated, root / "tmp" / "imagelock")
        shutil.copytree(mirror, root / "srv" / "mirror")
        env = {"IMAGELOCK_MIRROR": "/srv/mirror", "HF_ENDPOINT": "https://hf.example.invalid"}

        built = rootfs.run(root, "bash", "/tmp/imagelock/bootstrap.sh", env=env)
        assert built.returncode == 0, built.stderr
        assert "now matches its lock (changed: files (2) fingerprint)" in built.stderr
        placed = root / "opt" / "vendor" / "install.sh"
        assert placed.read_bytes() == INSTALLER and stat.S_IMODE(placed.stat().st_mode) == 0o755
        assert (root / "opt" / "tool" / "tool" / "bin" / "tool").read_bytes() == b"#!/bin/sh\necho tool 2.0\n"
        assert os.access(root / "opt" / "tool" / "tool" / "bin" / "tool", os.X_OK)
        assert (root / "etc" / "imagelock" / "files").read_text() == "/opt/vendor/install.sh\n"
        assert (root / "var" / "lib" / "imagelock" / "extracted" / sha256(TOOL)).read_text() == "/opt/tool\n"

        again = rootfs.run(root, "bash", "/tmp/imagelock/bootstrap.sh", env=env)
        assert again.returncode == 0, again.stderr
        assert "files: all 2 in place" in again.stderr and "nothing changed" in again.stderr

        # The drift audit of the machine: the placed file is compared by content; an edit is drift.
        audit = lock_cli("drift", str(lock), "--root", str(root), "--deep")
        assert audit.code == 0, audit.out
        placed.write_bytes(b"#!/bin/sh\necho changed\n")
        drifted = lock_cli("drift", str(lock), "--root", str(root), "--deep")
        assert drifted.code == 1 and "/opt/vendor/install.sh" in drifted.out

        # A fresh machine whose mirror copy of the tarball was tampered with: the build stops, naming it.
        fresh = rootfs.unpack(tmp_path / "fresh")
        shutil.copytree(generated, fresh / "tmp" / "imagelock")
        shutil.copytree(mirror, fresh / "srv" / "mirror")
        bad = fresh / "srv" / "mirror" / "sha256" / sha256(TOOL)
        data = bytearray(bad.read_bytes())
        data[len(data) // 2] ^= 0x01
        bad.write_bytes(bytes(data))
        stopped = rootfs.run(fresh, "bash", "/tmp/imagelock/bootstrap.sh", env=env)
        assert stopped.returncode == 1
        last = stopped.stderr.splitlines()[-1]
        assert last.startswith("imagelock: FAILED: file /opt/tool (a tarball): sha256 mismatch: got "), last
        assert f"(from /srv/mirror/sha256/{sha256(TOOL)};" in last
        assert not (fresh / "opt" / "tool").exists()
    finally:
        stop_agent(key)


def test_files_without_a_hash_are_measured_learned_and_then_verified(tmp_path: Path, lock_cli) -> None:
    """A recording that lists a vendor's files by name only: the lock holds them without a hash, the build
    fetches them unverified (placed and extracted), measures them, and after `lock update --learn` verifies."""
    with vendor_site(tmp_path / "site") as vendor:
        vendor.publish({"installer.sh": INSTALLER, "tool-2.0.tar.gz": TOOL}, None)
        urls = [f"{vendor.url}/installer.sh", f"{vendor.url}/tool-2.0.tar.gz"]
        snapshot = tmp_path / "snapshot"
        (snapshot / "files").mkdir(parents=True)
        (snapshot / "files" / "urls.json").write_text(
            json.dumps({url: {"_unrecorded": "not recorded"} for url in urls})
        )
        (snapshot / "snapshot.json").write_text('{"indexes": {}, "files": "files"}')
        intent = tmp_path / "image.toml"
        intent.write_text(
            'name = "files"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n'
            f'[[files]]\nurl = "{vendor.url}/installer.sh"\ndest = "/opt/vendor/install.sh"\nmode = "0755"\n'
            f'[[files]]\nurl = "{vendor.url}/tool-2.0.tar.gz"\ndest = "/opt/tool"\nextract = true\n'
        )
        assert lock_cli("update", str(intent), "--replay", str(snapshot)).code == 0
        lock = intent.with_suffix(".lock")
        generated = tmp_path / "generated"
        assert lock_cli("generate", str(lock), "-o", str(generated)).code == 0
        root = rootfs.unpack(tmp_path / "root")
        shutil.copytree(generated, root / "tmp" / "imagelock")

        refused = rootfs.run(root, "bash", "/tmp/imagelock/bootstrap.sh", env={"IMAGELOCK_REQUIRE_HASHES": "1"})
        assert refused.returncode == 1
        assert "file /opt/tool (a tarball): the lock has no hash for it" in refused.stderr
        assert not (root / "opt" / "tool").exists()

        built = rootfs.run(root, "bash", "/tmp/imagelock/bootstrap.sh")
        assert built.returncode == 0, built.stderr
        assert (
            f"file /opt/vendor/install.sh: NOT VERIFIED: the lock has no hash for it; measured sha256 {sha256(INSTALLER)}"
            in (built.stderr)
        )
        assert (root / "opt" / "vendor" / "install.sh").read_bytes() == INSTALLER
        assert (root / "opt" / "tool" / "tool" / "bin" / "tool").read_bytes() == b"#!/bin/sh\necho tool 2.0\n"
        measured_path = root / "var" / "lib" / "imagelock" / "measured.json"
        measured = json.loads(measured_path.read_text())["measured"]
        assert {m["url"]: m["sha256"] for m in measured} == {
            f"{vendor.url}/installer.sh": sha256(INSTALLER),
            f"{vendor.url}/tool-2.0.tar.gz": sha256(TOOL),
        }
        # Drift vouches for presence only: no hash to compare the bytes with.
        assert lock_cli("drift", str(lock), "--root", str(root), "--deep").code == 0

        copied = tmp_path / "measured.json"
        shutil.copy(measured_path, copied)
        learned = lock_cli("update", str(intent), "--learn", str(copied), "--replay", str(snapshot))
        assert learned.code == 0 and "learned the hash of 2 file(s)" in learned.out, learned.out + learned.err
        assert lock_cli("check", str(intent), "--strict").code == 0

        # From now on the build verifies them: other bytes at the same address stop a fresh build.
        shutil.rmtree(generated)
        assert lock_cli("generate", str(lock), "-o", str(generated)).code == 0
        fresh = rootfs.unpack(tmp_path / "fresh")
        shutil.copytree(generated, fresh / "tmp" / "imagelock")
        (vendor.root / "tool-2.0.tar.gz").write_bytes(TOOL + b"\0")
        stopped = rootfs.run(fresh, "bash", "/tmp/imagelock/bootstrap.sh")
        assert stopped.returncode == 1
        assert "file /opt/tool (a tarball): " in stopped.stderr and "mismatch" in stopped.stderr
        assert not (fresh / "opt" / "tool").exists()
