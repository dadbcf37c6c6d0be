"""`lock update` of a `[dnf]` intent through the real CLI: what the lock records, `lock check` on it, and
every refusal (one line naming the file and key, exit 2, nothing written; an unsolvable request exits 1)."""

from __future__ import annotations

import gzip
import hashlib
import tomllib
from pathlib import Path

import pytest

from imagelock import domains
from tests.dnf import scenario
from tests.dnf.conftest import Repos, write_intent
from tests.dnf.rpmrepo import RpmKey, sign_repomd
from tests.imagelock_testing import tree_digest


def _refused(lock_cli, intent: Path, code: int = 2) -> str:
    before = tree_digest(intent.parent)
    run = lock_cli("update", str(intent))
    assert run.code == code, run.out + run.err
    assert tree_digest(intent.parent) == before  # nothing written
    if code != 2:
        return run.out + run.err
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1, run.err
    return lines[0]


def test_lock_records_repos_and_the_closure(tmp_path: Path, repos: Repos, rpm_key: RpmKey, lock_cli) -> None:
    intent = write_intent(tmp_path, repos, rpm_key.armored, ["gcc14", "epochy"])
    run = lock_cli("update", str(intent))
    assert run.code == 0, run.err
    assert "dnf packages (releasever 2023.6.20241212)" in run.out
    table = tomllib.loads(intent.with_suffix(".lock").read_text())["dnf"]
    assert table["releasever"] == scenario.RELEASEVER and table["basearch"] == "x86_64"
    [repo] = table["repos"]
    core = repos.path("core")
    assert repo["baseurl"] == repos.url("core")  # $releasever and $basearch substituted
    assert repo["repomd-sha256"] == hashlib.sha256((core / "repodata/repomd.xml").read_bytes()).hexdigest()
    assert repo["gpgkey"] == rpm_key.armored.read_text()
    assert repo["primary"].endswith("-primary.xml.gz")
    packages = {p["name"]: p for p in table["packages"]}
    assert set(packages) == {"gcc14", "libgcc14", "binutils", "epochy"}
    gcc = packages["gcc14"]
    data = (core / gcc["location"]).read_bytes()
    assert gcc["location"] == "Packages/gcc14-14.2.1-1.x86_64.rpm"
    assert (gcc["version"], gcc["release"], gcc["arch"], gcc["repo"]) == ("14.2.1", "1", "x86_64", "core")
    assert gcc["sha256"] == hashlib.sha256(data).hexdigest() and gcc["size"] == len(data)
    assert gcc["requested"] is True and gcc["original"] == "gcc14"
    assert packages["epochy"]["epoch"] == 1 and "epoch" not in packages["binutils"]
    assert packages["libgcc14"].get("requested", False) is False
    # the lock round-trips through its tables, and `lock check` finds it fresh
    lock, _ = domains.read_lock(intent.with_suffix(".lock"))
    assert lock.dnf is not None and lock.dnf.packages[0].nevra.startswith("binutils-2.41-1.x86_64")
    artifacts = [a for a in domains.artifacts(lock) if a.kind == "rpm"]
    assert {a.url for a in artifacts} >= {f"{repos.url('core')}/Packages/gcc14-14.2.1-1.x86_64.rpm"}
    assert lock_cli("check", str(intent)).code == 0


def test_two_repositories_offering_one_name_must_be_assigned(
    tmp_path: Path, repos: Repos, rpm_key: RpmKey, lock_cli
) -> None:
    intent = write_intent(tmp_path, repos, rpm_key.armored, ["dup"], extra=True)
    line = _refused(lock_cli, intent)
    assert line == (
        f"lock: error: {intent}: dnf.repos[1]: dup is offered by repositories 'core' and 'extra': assign it to one "
        "(includepkgs of one, or excludepkgs of the other)"
    )
    intent = write_intent(tmp_path, repos, rpm_key.armored, ["dup"], extra=True, repo_lines='excludepkgs = ["dup"]')
    assert lock_cli("update", str(intent)).code == 0
    [dup] = tomllib.loads(intent.with_suffix(".lock").read_text())["dnf"]["packages"]
    assert dup["repo"] == "extra"


def test_unsolvable_request_is_the_answer_no(tmp_path: Path, repos: Repos, rpm_key: RpmKey, lock_cli) -> None:
    err = _refused(lock_cli, write_intent(tmp_path, repos, rpm_key.armored, ["needs-missing"]), code=1)
    assert "dnf: the request cannot be installed (1 problem)" in err
    assert "nothing provides nowhere >= 1 needed by needs-missing-1.0-1.noarch" in err


def test_repomd_signed_by_another_key_is_refused(
    tmp_path: Path, repos: Repos, rpm_key: RpmKey, stranger_key: RpmKey, lock_cli
) -> None:
    sign_repomd(repos.path("core"), stranger_key)
    line = _refused(lock_cli, write_intent(tmp_path, repos, rpm_key.armored, ["app"]))
    assert line.startswith(f"lock: error: {repos.url('core')}/repodata/repomd.xml: signed by a key that is not in")


def test_altered_repomd_is_refused(tmp_path: Path, repos: Repos, rpm_key: RpmKey, lock_cli) -> None:
    repomd = repos.path("core") / "repodata" / "repomd.xml"
    repomd.write_bytes(repomd.read_bytes().replace(b"<revision>", b"<revision>1"))
    line = _refused(lock_cli, write_intent(tmp_path, repos, rpm_key.armored, ["app"]))
    assert "repomd.xml: BAD signature (the signed text was altered)" in line


def test_unsigned_repomd_is_refused(tmp_path: Path, repos: Repos, rpm_key: RpmKey, lock_cli) -> None:
    (repos.path("core") / "repodata" / "repomd.xml.asc").unlink()
    line = _refused(lock_cli, write_intent(tmp_path, repos, rpm_key.armored, ["app"]))
    assert "repomd.xml.asc" in line and "HTTP 404" in line


def test_primary_metadata_not_matching_signed_repomd_is_refused(
    tmp_path: Path, repos: Repos, rpm_key: RpmKey, lock_cli
) -> None:
    [primary] = (repos.path("core") / "repodata").glob("*-primary.xml.gz")
    text = gzip.decompress(primary.read_bytes()).replace(b"<name>binutils</name>", b"<name>binutilz</name>")
    primary.write_bytes(gzip.compress(text))
    line = _refused(lock_cli, write_intent(tmp_path, repos, rpm_key.armored, ["app"]))
    assert "-primary.xml.gz: " in line and "but the signed repomd.xml says" in line


def test_truncated_primary_metadata_is_refused(tmp_path: Path, repos: Repos, rpm_key: RpmKey, lock_cli) -> None:
    [primary] = (repos.path("core") / "repodata").glob("*-primary.xml.gz")
    repos.server.truncate.add(f"/{primary.relative_to(repos.root)}")
    line = _refused(lock_cli, write_intent(tmp_path, repos, rpm_key.armored, ["app"]))
    assert "(truncated or altered)" in line


def test_unknown_package_names_the_key(tmp_path: Path, repos: Repos, rpm_key: RpmKey, lock_cli) -> None:
    line = _refused(lock_cli, write_intent(tmp_path, repos, rpm_key.armored, ["app", "gcc15"]))
    assert line == (
        f"lock: error: {tmp_path / 'intent' / 'image.toml'}: dnf.packages[1]: no package 'gcc15' in the repositories (core) "
        "at releasever 2023.6.20241212 (did you mean 'gcc14'?)"
    )


BAD_INTENTS = {
    "releasever": (
        'releasever = "2023.6.20241212"',
        'releasever = "$(reboot)"',
        "dnf.releasever: expected the release version",
    ),
    "basearch": ("[dnf]", '[dnf]\nbasearch = "sparc"', "dnf.basearch: expected one of x86_64, aarch64; found 'sparc'"),
    "unknown-key": ("[dnf]", "[dnf]\nbest = true", "dnf.best: unknown key"),
    "package-glob": (
        'packages = ["app"]',
        'packages = ["gcc*"]',
        "dnf.packages[0]: expected a package as dnf names one",
    ),
    "package-option": ('packages = ["app"]', 'packages = ["--nogpgcheck"]', "dnf.packages[0]: expected a package"),
    "package-twice": ('packages = ["app"]', 'packages = ["app", "app"]', "dnf.packages[1]: 'app' is already requested"),
    "no-packages": ('packages = ["app"]', "packages = []", "dnf.packages: expected a non-empty array"),
    "weak-deps": ("[dnf]", '[dnf]\ninstall-weak-deps = "yes"', "dnf.install-weak-deps: expected true or false"),
    "repo-id": ('id = "core"', 'id = "core repo"', "dnf.repos[0].id: expected a repository id"),
    "baseurl": ("baseurl = ", 'baseurl = "ftp://x"\nxbaseurl = ', "dnf.repos[0].xbaseurl: unknown key"),
    "variable": ("$basearch/core", "$infra/core", "dnf.repos[0].baseurl: unknown variable $infra"),
    "credentials": (
        'baseurl = "http://',
        'baseurl = "http://user:pw@',
        "dnf.repos[0].baseurl: credentials do not belong",
    ),
    "gpgkey-missing": ("gpgkey = ", "nokey = ", "dnf.repos[0].nokey: unknown key"),
    "manifest": ("[dnf]", '[dnf]\nbase-manifest = "nowhere.txt"', "dnf.base-manifest: no such file 'nowhere.txt'"),
    "includepkgs": (
        'id = "core"',
        'id = "core"\nincludepkgs = ["a b"]',
        "dnf.repos[0].includepkgs[0]: expected a package name or glob",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INTENTS.values()), ids=list(BAD_INTENTS))
def test_bad_intent_is_refused_in_one_line(
    tmp_path: Path, repos: Repos, rpm_key: RpmKey, case: tuple[str, str, str], lock_cli
) -> None:
    intent = write_intent(tmp_path, repos, rpm_key.armored, ["app"])
    old, new, expected = case
    text = intent.read_text()
    assert old in text
    intent.write_text(text.replace(old, new, 1))
    line = _refused(lock_cli, intent)
    assert line.startswith(f"lock: error: {intent}: {expected}"), line


def test_gpgkey_must_be_an_armored_key(tmp_path: Path, repos: Repos, rpm_key: RpmKey, lock_cli) -> None:
    binary = tmp_path / "key.gpg"
    binary.write_bytes(b"\x99\x01\x0d binary key")
    line = _refused(lock_cli, write_intent(tmp_path, repos, binary, ["app"]))
    assert line == (
        f"lock: error: {tmp_path / 'intent' / 'image.toml'}: dnf.repos[0].gpgkey: '{binary}' is not an ASCII-armored "
        "OpenPGP public key (rpm imports only those)"
    )


def test_bad_base_manifest_line(tmp_path: Path, repos: Repos, rpm_key: RpmKey, lock_cli) -> None:
    manifest = tmp_path / "intent" / "base.txt"
    manifest.parent.mkdir()
    manifest.write_text("lib\t0:1.0-1\tnoarch\nbroken line\n")
    line = _refused(lock_cli, write_intent(tmp_path, repos, rpm_key.armored, ["app"], manifest=manifest))
    assert line.startswith(f"lock: error: {manifest}: line 2: expected `name<TAB>epoch:version-release<TAB>arch`")


def test_check_sees_a_changed_key_and_base_manifest(
    tmp_path: Path, repos: Repos, rpm_key: RpmKey, base_root: Path, lock_cli
) -> None:
    key = tmp_path / "intent" / "RPM-GPG-KEY-test"
    key.parent.mkdir()
    key.write_bytes(rpm_key.armored.read_bytes())
    manifest = tmp_path / "intent" / "base.rpms"
    manifest.write_text((base_root.parent / "manifest.txt").read_text())
    intent = write_intent(tmp_path, repos, key, ["app"], manifest=manifest)
    assert lock_cli("update", str(intent)).code == 0
    assert lock_cli("check", str(intent)).code == 0
    key.write_bytes(key.read_bytes() + b"\n")
    manifest.write_text(manifest.read_text() + "extra\t0:1.0-1\tnoarch\n")
    run = lock_cli("check", str(intent))
    assert run.code == 1, run.out + run.err
    assert f"{key} changed since the lock was made (dnf repository 'core')" in run.out + run.err
    assert f"the base manifest {manifest} changed since the lock was made" in run.out + run.err
