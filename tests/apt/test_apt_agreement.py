"""For the same archive, base packages and request, the lock's closure is the one apt computes.

Each case runs the real `apt-get install --simulate` with a private state
directory against the signed test archive, then `lock update` on the same
inputs, and compares the sets of (name, version, arch).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.apt import realapt
from tests.apt.aptrepo import Deb, Key, RepoServer, build_repo
from tests.apt.helpers import lock_update, locked, write_intent

CASES = {
    "everything-at-once": ["app"],
    "sibling-satisfies-or-group": ["bee"],  # apt marks bx and bq before expanding bx: bp stays out
    "first-alternative-missing": ["gnu"],
    "provider-tie-by-cache-order": ["wasp"],
    "provider-met-last-across-suites": ["mtauser"],
    "provider-met-last-by-mention": ["ntauser"],
    "cycle": ["eel"],
    "pinned-older-from-first-suite": ["kmod-tool=2.8.7-2ubuntu2"],
    "pinned-satisfies-exact-dep": ["dee", "old=1.0"],
    "virtual-with-one-provider": ["virt2"],
    "provides-and-conflicts-itself": ["selfish"],
    "many": ["app", "bee", "gnu", "wasp", "eel", "kmod-tool", "linux-headers-5.15.0-105-generic", "ntauser"],
}


def _lock_closure(
    tmp_path: Path,
    repo: RepoServer,
    key: Key,
    packages: list[str],
    capsys,  # type: ignore[no-untyped-def]
    **apt: object,
) -> set[tuple[str, str, str]]:
    intent = write_intent(tmp_path, repo.url, key.keyring, packages, **apt)
    code, out, err = lock_update(intent, capsys)
    assert code == 0, out + err
    return {(p["name"], p["version"], p["arch"]) for p in locked(intent).values()}


@pytest.mark.parametrize("packages", list(CASES.values()), ids=list(CASES))
def test_same_closure_as_apt(tmp_path: Path, repo: RepoServer, archive_key: Key, packages: list[str], capsys) -> None:
    env = realapt.setup(tmp_path / "apt", repo.url, archive_key.keyring, ["stable", "updates"], ["main"])
    code, apt_closure, output = realapt.simulate(env, packages)
    assert code == 0, output
    assert apt_closure, output
    ours = _lock_closure(tmp_path, repo, archive_key, packages, capsys)
    assert ours == apt_closure


def test_same_closure_relative_to_base_image(tmp_path: Path, repo: RepoServer, archive_key: Key, capsys) -> None:
    """Installed packages satisfy what they can; one too old for a dependency is upgraded, as apt does."""
    base = [
        ("yak", "1.0", "amd64", ""),
        ("libfoo", "1.1", "amd64", ""),
        ("p1", "1.0", "amd64", "virt"),
        ("pre", "1.0", "amd64", ""),
    ]
    status = "".join(realapt.status_stanza(*row) for row in base)
    env = realapt.setup(tmp_path / "apt", repo.url, archive_key.keyring, ["stable", "updates"], ["main"], status=status)
    code, apt_closure, output = realapt.simulate(env, ["app"])
    assert code == 0, output
    manifest = tmp_path / "base.txt"
    manifest.write_text("".join(f"{n}\t{v}\n" for n, v, _, _ in base))
    ours = _lock_closure(tmp_path, repo, archive_key, ["app"], capsys, base_manifest=str(manifest))
    assert ours == apt_closure
    assert ("libfoo", "1.3", "amd64") in ours and not any(n in ("yak", "p1", "p2", "pre") for n, _, _ in ours)


@pytest.mark.parametrize(
    "packages",
    [["cee"], ["dee"], ["app", "libfoo=1.1"], ["brk", "pre"], ["cfl"]],
    ids=["cee", "dee", "pin-breaks", "breaks", "conflicts-with-provider"],
)
def test_apt_and_lock_both_refuse(
    tmp_path: Path, repo: RepoServer, archive_key: Key, packages: list[str], capsys
) -> None:
    env = realapt.setup(tmp_path / "apt", repo.url, archive_key.keyring, ["stable", "updates"], ["main"])
    code, _, output = realapt.simulate(env, packages)
    assert code != 0 and ("unmet dependencies" in output or "broken packages" in output), output
    intent = write_intent(tmp_path, repo.url, archive_key.keyring, packages)
    code, out, err = lock_update(intent, capsys)
    assert code == 1, out + err
    assert out.startswith(("apt: cannot satisfy", "apt: the closure would break")), out
    assert not intent.with_suffix(".lock").exists()


MULTIARCH = {
    "stable": [
        Deb("libm", "1.0", "amd64", {"Multi-Arch": "same"}),
        Deb("libm", "1.0", "i386", {"Multi-Arch": "same"}),
        Deb("mtool", "1.0", "amd64", {"Multi-Arch": "foreign"}),
        Deb("mzed", "1.0", "amd64", {"Multi-Arch": "allowed"}),
        Deb("mdata", "1.0", "all"),
        Deb("mdataf", "1.0", "all", {"Multi-Arch": "foreign"}),
        Deb("app32", "1.0", "i386", {"Depends": "libm, mtool, mzed:any, mdataf"}),
        Deb("bad32", "1.0", "i386", {"Depends": "mdata"}),  # arch:all without Multi-Arch is native only
        Deb("app64", "1.0", "amd64", {"Depends": "libm, libm:i386, mtool"}),
    ],
}


@pytest.fixture(scope="module")
def multiarch_repo(tmp_path_factory: pytest.TempPathFactory, archive_key: Key) -> Path:
    return build_repo(tmp_path_factory.mktemp("multiarch") / "repo", MULTIARCH, archive_key, arches=("amd64", "i386"))


@pytest.mark.parametrize(
    "packages",
    [["app32:i386"], ["app64"], ["libm:i386", "mzed"]],
    ids=["foreign-app", "native-app-needs-foreign-lib", "plain"],
)
def test_multiarch_same_closure_as_apt(
    tmp_path: Path, multiarch_repo: Path, archive_key: Key, packages: list[str], capsys
) -> None:
    with RepoServer(multiarch_repo) as server:
        env = realapt.setup(tmp_path / "apt", server.url, archive_key.keyring, ["stable"], ["main"], foreign=("i386",))
        code, apt_closure, output = realapt.simulate(env, packages)
        assert code == 0, output
        intent = write_intent(
            tmp_path, server.url, archive_key.keyring, packages, suites=("stable",), architectures=["amd64", "i386"]
        )
        code, out, err = lock_update(intent, capsys)
        assert code == 0, out + err
    ours = {(p["name"], p["version"], p["arch"]) for p in _all_locked(intent)}
    assert ours == apt_closure


def _all_locked(intent: Path) -> list[dict]:
    import tomllib

    return tomllib.loads(intent.with_suffix(".lock").read_text())["apt"]["packages"]


def test_multiarch_both_refuse_foreign_use_of_native_only_package(
    tmp_path: Path, multiarch_repo: Path, archive_key: Key, capsys
) -> None:
    with RepoServer(multiarch_repo) as server:
        env = realapt.setup(tmp_path / "apt", server.url, archive_key.keyring, ["stable"], ["main"], foreign=("i386",))
        code, _, output = realapt.simulate(env, ["bad32:i386"])
        assert code != 0 and "mdata:i386 but it is not installable" in output, output
        intent = write_intent(
            tmp_path,
            server.url,
            archive_key.keyring,
            ["bad32:i386"],
            suites=("stable",),
            architectures=["amd64", "i386"],
        )
        code, out, err = lock_update(intent, capsys)
    assert code == 1 and out.startswith("apt: cannot satisfy mdata, needed by bad32=1.0"), out + err
    assert "mdata 1.0 is all with Multi-Arch: no, so it cannot serve a i386 package" in out


def test_pre_depends_cycle_is_locked_with_a_warning(tmp_path: Path, repo: RepoServer, archive_key: Key, capsys) -> None:
    """apt plans the same closure, then its installer cannot order it; imagelock locks it and says so."""
    env = realapt.setup(tmp_path / "apt", repo.url, archive_key.keyring, ["stable", "updates"], ["main"])
    code, _, output = realapt.simulate(env, ["loop3"])
    assert code != 0 and any(m in output for m in realapt.ORDERING_FAILURES), output
    intent = write_intent(tmp_path, repo.url, archive_key.keyring, ["loop3"])
    code, out, err = lock_update(intent, capsys)
    assert code == 0, out + err
    assert set(locked(intent)) == realapt.planned(output) == {"loop1", "loop2", "loop3"}
    assert (
        "imagelock: warning: apt: loop1 pre-depends on loop2, which needs loop1 (loop1 -> loop2 -> loop3 -> "
        "loop1): apt's installer may be unable to order this" in err
    )
