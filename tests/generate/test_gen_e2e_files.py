"""End to end: `[[files]]` locked from a vendor's signed SHA256SUMS, mirrored to a directory, and placed by
the generated bootstrap.sh in a Debian root filesystem (chroot); a tampered copy stops the build."""

from __future__ import annotations

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
