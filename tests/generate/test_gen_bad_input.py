"""Bad input to `lock generate`: one clear line on stderr, exit 2, nothing written."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from gen_sample import full_lock
from gen_support import write_lock  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[2]
SEED_LOCK = ROOT / "locks" / "seed.lock"


def _fails(lock_cli, *argv: str) -> str:
    result = lock_cli("generate", *argv)
    assert result.code == 2, result.out + result.err
    assert result.out == ""
    assert result.err.count("\n") == 1 and result.err.startswith("lock: error: ")
    return result.err.strip()


def test_malformed_lock(tmp_path: Path, lock_cli) -> None:
    bad = tmp_path / "bad.lock"
    bad.write_text("schema = 1\nname = [unclosed\n")
    error = _fails(lock_cli, str(bad), "-o", str(tmp_path / "out"))
    assert error.startswith(f"lock: error: {bad}: not valid TOML (")
    assert not (tmp_path / "out").exists()


def test_missing_lock(tmp_path: Path, lock_cli) -> None:
    error = _fails(lock_cli, str(tmp_path / "nope.lock"), "-o", str(tmp_path / "out"))
    assert error == f"lock: error: {tmp_path / 'nope.lock'}: no such lock file (run `lock update` to create it)"
    assert not (tmp_path / "out").exists()


def test_lock_with_an_unknown_key(tmp_path: Path, lock_cli) -> None:
    bad = tmp_path / "bad.lock"
    bad.write_text(SEED_LOCK.read_text().replace('engine = "uv"', 'engine = "uv"\nshell = "rm -rf /"'))
    error = _fails(lock_cli, str(bad), "-o", str(tmp_path / "out"))
    assert error == f"lock: error: {bad}: python.shell: unknown key in lock"


def test_lock_edited_by_hand_is_refused(tmp_path: Path, lock_cli) -> None:
    edited = tmp_path / "seed.lock"
    edited.write_text(SEED_LOCK.read_text().replace('version = "2.5.1+cu124"', 'version = "2.6.0+cu124"', 1))
    error = _fails(lock_cli, str(edited), "-o", str(tmp_path / "out"))
    assert error.startswith(f"lock: error: {edited}: digest: the lock's content does not match its digest")
    assert error.endswith("nothing generated")
    assert not (tmp_path / "out").exists()


# Keys index the lock as written (packages sorted by name, AMIs by region).
@pytest.mark.parametrize(
    ("mutate", "key", "message"),
    [
        (
            lambda lock: setattr(lock.python.packages[0].wheel, "filename", "x.whl\nrm -rf /"),
            "python.packages[1].wheel.filename",
            "contains a control character ('x.whl\\nrm -rf /'): refused",
        ),
        (
            lambda lock: setattr(lock.python.packages[0].wheel, "filename", "torch-2.6.0-cp311-cp311-linux_x86_64.whl"),
            "python.packages[1].wheel.filename",
            "'torch-2.6.0-cp311-cp311-linux_x86_64.whl' is not a wheel of torch 2.5.1+cu124",
        ),
        (
            lambda lock: setattr(lock.python.packages[0], "name", "torch$(reboot)"),
            "python.packages[1].name",
            "'torch$(reboot)' is not a normalized Python package name",
        ),
        (
            lambda lock: setattr(lock.apt.packages[0], "version", "1.0`id`"),
            "apt.packages[0].version",
            "'1.0`id`' is not a Debian package version",
        ),
        (
            lambda lock: setattr(lock.nvidia, "install_flags", ["--silent", "--driver; curl x | sh"]),
            "nvidia.install-flags",
            "'--driver; curl x | sh' is not a runfile flag like --dkms",
        ),
        (
            lambda lock: setattr(lock.models[0], "dest", "/workspace/../etc"),
            "models[0].dest",
            "'/workspace/../etc' is not a normalized absolute path below /",
        ),
        (
            lambda lock: setattr(lock.models[0].files[0], "path", "../../root/.ssh/authorized_keys"),
            "models[0].files[0].path",
            "'../../root/.ssh/authorized_keys' is not a relative path inside its folder",
        ),
        (
            lambda lock: setattr(lock.base.amis[0], "id", 'ami-123" }\nprovisioner "shell" {'),
            "base.amis[1].id",
            'contains a control character (\'ami-123" }\\nprovisioner "shell" {\'): refused',
        ),
        (
            lambda lock: setattr(lock.base.amis[0], "region", "us-east-1"),
            "base.amis[1]",
            "duplicate entry (region = 'us-east-1'), already at base.amis[0]",
        ),
        (
            lambda lock: setattr(lock.apt, "keyring_sha256", "unsigned"),
            "apt.keyring-sha256",
            "the apt layer is unsigned; bootstrap.sh installs only .debs whose sha256s come from signed indexes",
        ),
        (
            lambda lock: setattr(lock.mirror, "url", "ftp://internal-artifacts/imagelock"),
            "mirror.url",
            "expected an https, http or s3 URL, found scheme 'ftp'",
        ),
        (
            lambda lock: setattr(lock, "name", "gpu worker"),
            "name",
            "'gpu worker' is not an image name (letters, digits, '.', '_', '-')",
        ),
    ],
)
def test_hostile_or_malformed_values_are_refused_before_anything_is_written(
    tmp_path: Path, lock_cli, write_lock, mutate, key: str, message: str
) -> None:
    lock = full_lock()
    mutate(lock)
    path = write_lock(lock)
    out = tmp_path / "out"
    assert _fails(lock_cli, str(path), "-o", str(out)) == f"lock: error: {path}: {key}: {message}"
    assert not out.exists()


def test_output_is_a_file(tmp_path: Path, lock_cli) -> None:
    target = tmp_path / "file"
    target.write_text("keep me")
    error = _fails(lock_cli, str(SEED_LOCK), "-o", str(target / "out"))
    assert error == f"lock: error: {target / 'out'}: cannot write generated files here (Not a directory)"
    assert target.read_text() == "keep me"


def test_output_directory_on_a_read_only_file_system(tmp_path: Path, lock_cli) -> None:
    """A real read-only mount (the tests run as root, so file modes alone would not stop a write)."""
    mount = tmp_path / "ro"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    assert done.returncode == 0, f"cannot mount a read-only tmpfs (the tests need root): {done.stderr}"
    try:
        error = _fails(lock_cli, str(SEED_LOCK), "-o", str(mount / "out"))
        assert error == f"lock: error: {mount / 'out'}: cannot write generated files here (Read-only file system)"
        assert list(mount.iterdir()) == []
    finally:
        subprocess.run(["umount", str(mount)], check=True)
