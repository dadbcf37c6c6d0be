"""End to end: a lock still builds its image after the archive moves on.

A signed archive of real .debs (built with dpkg-deb and apt-ftparchive, signed with gpg)
is served on 127.0.0.1, and the real `lock update` locks from it. Then the archive moves
on as Ubuntu's does: a newer version replaces the locked one in the indexes while the
pool keeps the old file, and later the pool drops it too. The generated bootstrap.sh
runs in a Debian root filesystem (chroot) and must install exactly the locked .debs:
first from the pool (no index is read again), then from the directory `lock mirror --to`
filled while the archive still had them. A mirror file with wrong bytes stops the build,
naming the file.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import gen_rootfs as rootfs
import pytest

from imagelock import domains
from tests.apt.aptrepo import Deb, Key, RepoServer, build_deb, build_repo, make_key, run, stop_agent, write_suite
from tests.apt.helpers import write_intent

pytestmark = pytest.mark.e2e

ARCH = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
HELLO = Deb("imagelock-hello", "1.0-1", "all", fields={"Depends": "imagelock-dep (>= 2)"})
NEWER = Deb("imagelock-hello", "1.1-1", "all", fields={"Depends": "imagelock-dep (>= 2)"})
DEP = Deb("imagelock-dep", "2.0-1", ARCH)
LOCKED = {"imagelock-hello": "1.0-1", "imagelock-dep": "2.0-1"}
OFFLINE = {"HF_ENDPOINT": "https://hf.example.invalid"}  # nothing in this lock is on the Hub anyway


def _supersede(repo: Path, key: Key, work: Path) -> Path:
    """The archive's next state: NEWER in the pool and the indexes, HELLO's file still in the pool but listed
    nowhere (the indexes are written from a listing without it, as the archive's publisher writes them)."""
    pool = repo / "pool" / "stable"
    build_deb(NEWER, pool, work)
    old = next(pool.glob("imagelock-hello_1.0-1_*.deb"))
    aside = work / old.name
    old.rename(aside)
    try:
        packages = run(["apt-ftparchive", "--arch", ARCH, "packages", "pool/stable"], cwd=repo).stdout
        write_suite(repo, "stable", {ARCH: packages}, key)
    finally:
        aside.rename(old)
    return old


def _installed(root: Path) -> dict[str, str]:
    query = rootfs.run(root, "dpkg-query", "-W", "-f", "${Package} ${Version} ${db:Status-Abbrev}\\n", *LOCKED)
    rows = [line.split() for line in query.stdout.splitlines()]
    return {row[0]: row[1] for row in rows if len(row) == 3 and row[2] in ("ii", "hi")}  # installed (and held)


def _machine(tmp_path: Path, name: str, generated: Path) -> Path:
    """A fresh root filesystem with the generated files in /tmp/imagelock, and no archive key: none is needed."""
    root = rootfs.unpack(tmp_path / name)
    shutil.copytree(generated, root / "tmp" / "imagelock")
    return root


def test_a_lock_builds_after_its_versions_leave_the_indexes_and_then_the_pool(tmp_path: Path, lock_cli) -> None:
    key = make_key(tmp_path / "gnupg", "imagelock e2e <e2e@example.invalid>")
    try:
        repo = build_repo(tmp_path / "archive", {"stable": [HELLO, DEP]}, key, arches=(ARCH,))
        with RepoServer(repo) as server:
            intent = write_intent(
                tmp_path, server.url, key.keyring, ["imagelock-hello"], suites=("stable",), architectures=[ARCH]
            )
            updated = lock_cli("update", str(intent))
            assert updated.code == 0, updated.err
            lock_path = intent.with_suffix(".lock")
            lock, _ = domains.read_lock(lock_path)
            assert {p.name: p.version for p in lock.apt.packages} == LOCKED
            debs = {p.name: p for p in lock.apt.packages}

            # The self-hosted snapshot, made while the archive still has every locked file.
            mirror = tmp_path / "mirror"
            before = lock_path.read_bytes()
            mirrored = lock_cli("mirror", str(lock_path), "--to", str(mirror))
            assert mirrored.code == 0, mirrored.out + mirrored.err
            assert "2 uploaded" in mirrored.out and "the lock was not changed" in mirrored.out
            assert lock_path.read_bytes() == before  # a directory is no URL a build can read: nothing recorded
            for deb in debs.values():
                assert hashlib.sha256((mirror / "sha256" / deb.sha256).read_bytes()).hexdigest() == deb.sha256

            generated = tmp_path / "generated"
            assert lock_cli("generate", str(lock_path), "-o", str(generated)).code == 0

            # 1. The archive moves on: the locked hello is in no index, but the pool still has its file.
            old = _supersede(repo, key, tmp_path / "work")
            index = (repo / "dists" / "stable" / "main" / f"binary-{ARCH}" / "Packages").read_text()
            assert "Version: 1.1-1" in index and "Version: 1.0-1" not in index
            root = _machine(tmp_path, "from-pool", generated)
            server.requests.clear()
            built = rootfs.run(root, "bash", "/tmp/imagelock/bootstrap.sh", env=OFFLINE)
            assert built.returncode == 0, built.stderr
            assert "fetched and verified 2 .debs (0 from the mirror, 2 from an archive pool)" in built.stderr
            assert _installed(root) == LOCKED
            assert sorted(server.requests) == sorted(f"/{deb.filename}" for deb in debs.values())  # no index read

            # 2. The pool drops it too: only the mirror directory, copied onto the machine, still has it.
            old.unlink()
            root = _machine(tmp_path, "from-mirror", generated)
            shutil.copytree(mirror, root / "srv" / "mirror")
            server.requests.clear()
            built = rootfs.run(root, "bash", "/tmp/imagelock/bootstrap.sh", env={"IMAGELOCK_MIRROR": "/srv/mirror"})
            assert built.returncode == 0, built.stderr
            assert "fetched and verified 2 .debs (2 from the mirror, 0 from an archive pool)" in built.stderr
            assert _installed(root) == LOCKED
            assert server.requests == []

            # Without the mirror nothing has the locked hello any more: the build stops and says so.
            root = _machine(tmp_path, "nowhere", generated)
            gone = rootfs.run(root, "bash", "/tmp/imagelock/bootstrap.sh", env=OFFLINE)
            assert gone.returncode == 1
            assert gone.stderr.splitlines()[-1] == (
                "imagelock: FAILED: apt package imagelock-hello 1.0-1: no source could be downloaded"
            )
            assert "imagelock-hello" not in _installed(root)

            # A mirror file with wrong bytes stops the build, naming the file; nothing is installed.
            root = _machine(tmp_path, "tampered", generated)
            shutil.copytree(mirror, root / "srv" / "mirror")
            bad = root / "srv" / "mirror" / "sha256" / debs["imagelock-hello"].sha256
            data = bytearray(bad.read_bytes())
            data[len(data) // 2] ^= 0x01
            bad.write_bytes(bytes(data))
            tampered = rootfs.run(root, "bash", "/tmp/imagelock/bootstrap.sh", env={"IMAGELOCK_MIRROR": "/srv/mirror"})
            assert tampered.returncode == 1
            last = tampered.stderr.splitlines()[-1]
            sha = debs["imagelock-hello"].sha256
            assert last.startswith("imagelock: FAILED: apt package imagelock-hello 1.0-1: sha256 mismatch: got "), last
            assert f"the lock says {sha} (from /srv/mirror/sha256/{sha};" in last
            assert _installed(root) == {}
    finally:
        stop_agent(key)
