"""`lock update` on the signed test archive: the lock it writes and the errors it gives."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.apt.aptrepo import Key, RepoServer
from tests.apt.helpers import lock_update, locked, write_intent
from tests.apt.scenario import KERNEL


def test_locks_full_closure_with_hashes(tmp_path: Path, repo: RepoServer, archive_key: Key, capsys) -> None:
    intent = write_intent(tmp_path, repo.url, archive_key.keyring, ["app", "kmod-tool=2.8.7-2ubuntu2.2"])
    code, out, err = lock_update(intent, capsys)
    assert code == 0, err
    packages = locked(intent)
    assert set(packages) == {
        "app",
        "pre",
        "libfoo",
        "yak",
        "p2",
        "zed",
        "tool",
        "data",
        "quux",
        "realvirt",
        "kmod-tool",
        "epochy",
    }
    assert packages["libfoo"]["version"] == "1.3" and packages["libfoo"]["suite"] == "updates"
    assert packages["app"]["requested"] is True and packages["app"]["original"] == "app"
    assert packages["kmod-tool"]["original"] == "kmod-tool=2.8.7-2ubuntu2.2"
    assert packages["pre"]["requested"] is False
    assert packages["app"]["depends-on"] == ["pre", "libfoo", "yak", "p2", "zed", "tool", "data", "quux", "realvirt"]
    for name, entry in packages.items():
        deb = repo.root / entry["filename"]
        assert deb.is_file(), name
        import hashlib

        assert hashlib.sha256(deb.read_bytes()).hexdigest() == entry["sha256"]
        assert deb.stat().st_size == entry["size"]
    table = tomllib.loads(intent.with_suffix(".lock").read_text())["apt"]
    assert [s["suite"] for s in table["sources"]] == ["stable", "updates"]
    for source in table["sources"]:
        inrelease = repo.root / "dists" / source["suite"] / "InRelease"
        import hashlib

        assert source["inrelease-sha256"] == hashlib.sha256(inrelease.read_bytes()).hexdigest()
        assert source["indexes"][0]["path"] == "main/binary-amd64/Packages.xz"
    assert table["keyring-sha256"] == __import__("hashlib").sha256(archive_key.keyring.read_bytes()).hexdigest()


def test_update_is_deterministic(tmp_path: Path, repo: RepoServer, archive_key: Key, capsys) -> None:
    intent = write_intent(tmp_path, repo.url, archive_key.keyring, ["bee", "wasp", "gnu", "eel"])
    assert lock_update(intent, capsys)[0] == 0
    first = intent.with_suffix(".lock").read_bytes()
    assert lock_update(intent, capsys)[0] == 0
    assert intent.with_suffix(".lock").read_bytes() == first


def test_kernel_locks_one_abi(tmp_path: Path, repo: RepoServer, archive_key: Key, capsys) -> None:
    intent = write_intent(
        tmp_path, repo.url, archive_key.keyring, ["kmod-tool"], kernel={"version": "5.15.0-105-generic"}
    )
    code, _, err = lock_update(intent, capsys)
    assert code == 0, err
    table = tomllib.loads(intent.with_suffix(".lock").read_text())
    # no `chosen-by` (kernel.version chose it) and no `ga` (this archive has no linux-image-generic)
    assert table["kernel"] == {
        "version": "5.15.0-105-generic",
        "flavour": "generic",
        "abi": "5.15.0-105",
        "packages": [
            "linux-image-5.15.0-105-generic",
            "linux-modules-5.15.0-105-generic",
            "linux-headers-5.15.0-105-generic",
        ],
    }
    packages = locked(intent)
    for name in (*table["kernel"]["packages"], "linux-headers-5.15.0-105"):
        assert packages[name]["version"] == KERNEL
    assert "linux-image-5.15.0-101-generic" not in packages


def test_kernel_flavour_alone_takes_newest_abi(tmp_path: Path, repo: RepoServer, archive_key: Key, capsys) -> None:
    intent = write_intent(tmp_path, repo.url, archive_key.keyring, [], kernel={"flavour": "generic"})
    assert lock_update(intent, capsys)[0] == 0
    kernel = tomllib.loads(intent.with_suffix(".lock").read_text())["kernel"]
    assert (kernel["abi"], kernel["chosen-by"]) == ("5.15.0-105", "the newest ABI of flavour generic")


def test_lock_check_sees_apt_consistency_and_manifest_changes(
    tmp_path: Path, repo: RepoServer, archive_key: Key, capsys
) -> None:
    from imagelock import cli

    manifest = tmp_path / "base.txt"
    manifest.write_text("pre\t1.0\n")
    intent = write_intent(
        tmp_path,
        repo.url,
        archive_key.keyring,
        ["app"],
        base_manifest=str(manifest),
        kernel={"version": "5.15.0-105-generic"},
    )
    assert lock_update(intent, capsys)[0] == 0
    assert cli.main(["check", str(intent)]) == 0, capsys.readouterr()
    capsys.readouterr()
    manifest.write_text("pre\t1.0\nyak\t1.0\n")
    assert cli.main(["check", str(intent)]) == 1
    assert "the apt base-image manifest changed" in capsys.readouterr().out


def test_kernel_package_of_another_abi_is_refused(tmp_path: Path, repo: RepoServer, archive_key: Key, capsys) -> None:
    intent = write_intent(
        tmp_path,
        repo.url,
        archive_key.keyring,
        ["linux-headers-5.15.0-101-generic"],
        kernel={"version": "5.15.0-105-generic"},
    )
    code, out, err = lock_update(intent, capsys)
    assert code == 2
    assert err.strip() == (
        f"lock: error: {intent}: apt.packages[0]: 'linux-headers-5.15.0-101-generic' is for "
        "kernel 5.15.0-101-generic, but kernel.version is 5.15.0-105-generic: the driver would "
        "be built against another kernel's headers (leave kernel packages to [kernel])"
    )
    assert not intent.with_suffix(".lock").exists()


def test_lock_check_finds_a_closure_with_a_hole(tmp_path: Path, repo: RepoServer, archive_key: Key, capsys) -> None:
    from imagelock import cli, domains
    from imagelock.lock import codec as lockfile

    intent = write_intent(tmp_path, repo.url, archive_key.keyring, ["app"], kernel={"version": "5.15.0-105-generic"})
    assert lock_update(intent, capsys)[0] == 0
    path = intent.with_suffix(".lock")
    lock, _ = domains.read_lock(path)
    assert lock.apt is not None
    lock.apt.packages = [p for p in lock.apt.packages if p.name not in ("pre", "linux-modules-5.15.0-105-generic")]
    path.write_text(lockfile.dumps(lock))  # re-digested: only the apt consistency check can notice
    capsys.readouterr()
    assert cli.main(["check", str(intent)]) == 1
    out = capsys.readouterr().out
    assert "inconsistent: apt package app depends on pre, which the closure does not hold" in out
    assert "inconsistent: kernel package linux-modules-5.15.0-105-generic is not in the apt closure" in out
