"""For the same repositories, base image and request, the lock's closure is the one dnf computes.

Each case runs Debian's dnf 4.14 (`--installroot --releasever --assumeno install`, gpgcheck and
repo_gpgcheck on) against the signed test repositories, then `lock update` on the same inputs, and
compares the sets of (name, [epoch:]version-release, arch) installed or upgraded to.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from tests.dnf import scenario
from tests.dnf.conftest import Repos, write_intent
from tests.dnf.rpmrepo import RpmKey, dnf_install

CASES = {
    "upgrade-of-base-and-its-dependant": ["app"],
    "compiler-and-installonly-kernel-devel": ["gcc14", "kernel-devel"],
    "obsoletes": ["newthing"],
    "epoch-wins": ["epochy"],
    "weak-deps-off": ["rec-user"],
    "name-dot-arch-and-nevr": ["gcc14.x86_64", "tool-1.0-1"],
    "by-provide": ["virt-x"],
    "second-repository": ["extra-tool"],
    "already-installed": ["lib"],
    "many": ["app", "gcc14", "kernel-devel", "newthing", "epochy", "rec-user", "extra-tool"],
}


def _ours(tmp_path: Path, repos: Repos, key: RpmKey, packages: list[str], lock_cli, **kw) -> set[tuple[str, str, str]]:
    intent = write_intent(tmp_path, repos, key.armored, packages, extra=True, **kw)
    run = lock_cli("update", str(intent))
    assert run.code == 0, run.out + run.err
    table = tomllib.loads(intent.with_suffix(".lock").read_text())
    out = set()
    for p in table["dnf"].get("packages", []):
        evr = f"{p['version']}-{p['release']}"
        out.add((p["name"], f"{p['epoch']}:{evr}" if p.get("epoch") else evr, p["arch"]))
    return out


def _dnf(tmp_path: Path, repos: Repos, key: RpmKey, packages: list[str], root: Path, **kw) -> set[tuple[str, str, str]]:
    answer = dnf_install(
        tmp_path / "dnf",
        root,
        {"core": (repos.baseurl_core, key.armored), "extra": (repos.baseurl_extra, key.armored)},
        packages,
        scenario.RELEASEVER,
        **kw,
    )
    assert "Error" not in answer.output, answer.output
    assert not answer.removes, answer.output
    return answer.installs


@pytest.mark.parametrize("packages", list(CASES.values()), ids=list(CASES))
def test_same_closure_as_dnf_on_an_empty_root(
    tmp_path: Path, repos: Repos, rpm_key: RpmKey, packages, lock_cli
) -> None:
    theirs = _dnf(tmp_path, repos, rpm_key, packages, tmp_path / "root")
    assert _ours(tmp_path, repos, rpm_key, packages, lock_cli) == theirs


@pytest.mark.parametrize("packages", list(CASES.values()), ids=list(CASES))
def test_same_closure_as_dnf_over_a_base_image(
    tmp_path: Path, repos: Repos, rpm_key: RpmKey, base_root: Path, packages, lock_cli
) -> None:
    root = tmp_path / "root"
    shutil.copytree(base_root, root, symlinks=True)
    theirs = _dnf(tmp_path, repos, rpm_key, packages, root)
    manifest = base_root.parent / "manifest.txt"
    assert _ours(tmp_path, repos, rpm_key, packages, lock_cli, manifest=manifest) == theirs


def test_same_closure_as_dnf_with_weak_deps(tmp_path: Path, repos: Repos, rpm_key: RpmKey, lock_cli) -> None:
    theirs = _dnf(tmp_path, repos, rpm_key, ["rec-user"], tmp_path / "root", weak_deps=True)
    assert ("rec-dep", "1.0-1", "noarch") in theirs
    ours = _ours(tmp_path, repos, rpm_key, ["rec-user"], lock_cli, dnf="install-weak-deps = true")
    assert ours == theirs
