"""Bad input gets one line naming the file, the key and what was expected; exit 2; nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from tests.apt.aptrepo import Key, RepoServer
from tests.apt.helpers import lock_update, write_intent


def _fails(intent: Path, capsys, key: str) -> str:  # type: ignore[no-untyped-def]
    code, out, err = lock_update(intent, capsys)
    assert code == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"lock: error: {intent}: {key}: "), lines[0]
    assert not intent.with_suffix(".lock").exists()
    return lines[0]


def test_seed_header_name_gets_the_real_package(tmp_path: Path, repo: RepoServer, archive_key: Key, capsys) -> None:
    intent = write_intent(tmp_path, repo.url, archive_key.keyring, ["kmod-tool", "linux-headers-5.15.0-105.115"])
    line = _fails(intent, capsys, "apt.packages[1]")
    assert "no package 'linux-headers-5.15.0-105.115' in the archive" in line
    assert "did you mean linux-headers-5.15.0-105-generic=5.15.0-105.115" in line


def test_header_suggestion_follows_the_kernel_flavour(
    tmp_path: Path, repo: RepoServer, archive_key: Key, capsys
) -> None:
    intent = write_intent(
        tmp_path,
        repo.url,
        archive_key.keyring,
        ["linux-headers-5.15.0-105.115"],
        kernel={"flavour": "lowlatency", "packages": ["headers"]},
    )
    line = _fails(intent, capsys, "apt.packages[0]")
    assert "did you mean linux-headers-5.15.0-105-lowlatency=5.15.0-105.115" in line


def test_misspelt_name_gets_nearest_names(tmp_path: Path, repo: RepoServer, archive_key: Key, capsys) -> None:
    intent = write_intent(tmp_path, repo.url, archive_key.keyring, ["kmod-tools"])
    assert "did you mean kmod-tool?" in _fails(intent, capsys, "apt.packages[0]")


def test_version_not_in_archive_lists_those_that_are(
    tmp_path: Path, repo: RepoServer, archive_key: Key, capsys
) -> None:
    intent = write_intent(tmp_path, repo.url, archive_key.keyring, ["kmod-tool=2.8.7-2ubuntu2.9"])
    line = _fails(intent, capsys, "apt.packages[0]")
    assert (
        "version 2.8.7-2ubuntu2.9 is not in the archive; it has 2.8.7-2ubuntu2.2 (updates), "
        "2.8.7-2ubuntu2 (stable)" in line
    )
    assert "pin an archive snapshot from then with apt.snapshot" in line


def test_virtual_name_with_several_providers(tmp_path: Path, repo: RepoServer, archive_key: Key, capsys) -> None:
    intent = write_intent(tmp_path, repo.url, archive_key.keyring, ["virt"])
    assert "'virt' is a virtual package provided by p1, p2: name the one to install" in _fails(
        intent, capsys, "apt.packages[0]"
    )


@pytest.mark.parametrize(
    "packages, key, message",
    [
        (["Bad Name"], "apt.packages[0]", "'Bad Name' is not a Debian package name"),
        (["pre=not a version"], "apt.packages[0]", "'not a version' is not a Debian version"),
        (["pre:i386"], "apt.packages[0]", "architecture 'i386' is not in apt.architectures (amd64)"),
        (["pre", "pre=1.0"], "apt.packages[1]", "pre is already requested as 'pre'"),
        (["--reinstall"], "apt.packages[0]", "is not a Debian package name"),
    ],
)
def test_bad_package_entries(
    tmp_path: Path, repo: RepoServer, archive_key: Key, packages: list[str], key: str, message: str, capsys
) -> None:
    intent = write_intent(tmp_path, repo.url, archive_key.keyring, packages)
    assert message in _fails(intent, capsys, key)


@pytest.mark.parametrize(
    "extra, key, message",
    [
        ({"suite": ["stable"]}, "apt.suite", "unknown key (did you mean 'suites'?)"),
        ({"snapshot": "2024-04-15"}, "apt.snapshot", 'expected a snapshot timestamp such as "20240415T000000Z"'),
        ({"keyring": "/nonexistent/keyring.gpg"}, "apt.keyring", "no such keyring file"),
        ({"archive": "ftp://example.invalid/debian"}, "apt.archive", "expected the http(s) URL"),
        ({"allow_unsigned": "yes"}, "apt.allow-unsigned", "expected true or false"),
        ({"base_manifest": "missing.txt"}, "apt.base-manifest", "no such file 'missing.txt'"),
    ],
)
def test_bad_apt_keys(
    tmp_path: Path, repo: RepoServer, archive_key: Key, extra: dict, key: str, message: str, capsys
) -> None:
    intent = write_intent(tmp_path, repo.url, None if "keyring" in extra else archive_key.keyring, ["pre"], **extra)
    assert message in _fails(intent, capsys, key)


def test_missing_keyring_without_allow_unsigned(tmp_path: Path, repo: RepoServer, capsys) -> None:
    intent = write_intent(tmp_path, repo.url, None, ["pre"])
    assert "missing: expected the path of the archive's signing keyring" in _fails(intent, capsys, "apt.keyring")


@pytest.mark.parametrize(
    "kernel, key, message",
    [
        (
            {"version": "5.15.0-105.115"},
            "kernel.version",
            "'5.15.0-105.115' is a package version; the kernel release is \"5.15.0-105-generic\"",
        ),
        (
            {"version": "5.15.0-999-generic"},
            "kernel.version",
            "no linux-image-5.15.0-999-generic in the archive; ABIs of flavour generic it has: 5.15.0-105, 5.15.0-101",
        ),
        ({"flavour": "aws"}, "kernel.flavour", "the archive has no linux-image-*-aws package"),
        (
            {"version": "5.15.0-105-generic", "packages": ["headerz"]},
            "kernel.packages[0]",
            "unknown part 'headerz' (did you mean 'headers'?)",
        ),
        (
            {"version": "5.15.0-105-generic", "packages": ["modules-extra"]},
            "kernel.packages",
            "the archive has no linux-modules-extra-5.15.0-105-generic",
        ),
        ({"release": "5.15.0-105-generic"}, "kernel.release", "unknown key"),
    ],
)
def test_bad_kernel(
    tmp_path: Path, repo: RepoServer, archive_key: Key, kernel: dict, key: str, message: str, capsys
) -> None:
    intent = write_intent(tmp_path, repo.url, archive_key.keyring, ["pre"], kernel=kernel)
    assert message in _fails(intent, capsys, key)


def test_kernel_without_apt(tmp_path: Path, capsys) -> None:
    intent = tmp_path / "image.toml"
    intent.write_text(tomli_w.dumps({"name": "test", "kernel": {"version": "5.15.0-105-generic"}}))
    assert "needs an [apt] section" in _fails(intent, capsys, "kernel")


def test_bad_base_manifest_line(tmp_path: Path, repo: RepoServer, archive_key: Key, capsys) -> None:
    manifest = tmp_path / "base.txt"
    manifest.write_text("pre\t1.0\n$(reboot)\t1.0\n")
    intent = write_intent(tmp_path, repo.url, archive_key.keyring, ["app"], base_manifest=str(manifest))
    code, out, err = lock_update(intent, capsys)
    assert code == 2
    assert err.strip() == f"lock: error: {manifest}: line 2: '$(reboot)' is not a Debian package name"
    assert not intent.with_suffix(".lock").exists()


def test_existing_lock_is_left_unchanged_on_error(tmp_path: Path, repo: RepoServer, archive_key: Key, capsys) -> None:
    intent = write_intent(tmp_path, repo.url, archive_key.keyring, ["pre"])
    assert lock_update(intent, capsys)[0] == 0
    before = intent.with_suffix(".lock").read_bytes()
    write_intent(tmp_path, repo.url, archive_key.keyring, ["pre", "linux-headers-5.15.0-105.115"])
    code, _, err = lock_update(intent, capsys)
    assert code == 2 and "did you mean" in err
    assert intent.with_suffix(".lock").read_bytes() == before


def test_unsatisfiable_prints_the_chain(tmp_path: Path, repo: RepoServer, archive_key: Key, capsys) -> None:
    intent = write_intent(tmp_path, repo.url, archive_key.keyring, ["pre", "cee"])
    code, out, err = lock_update(intent, capsys)
    assert code == 1
    assert out.splitlines() == [
        "apt: cannot satisfy cdep (<< 2.0), needed by cee=1.0 (asked as 'cee')",
        "cdep 2.1 is the candidate",
    ]
    assert not intent.with_suffix(".lock").exists()
