"""For the same repositories, base image and request, the lock's closure is the one dnf computes.

Each case runs Debian's dnf 4.14 (`--installroot --releasever --assumeno install`, gpgcheck and
repo_gpgcheck on) against the signed test repositories, then `lock update` on the same inputs, and
compares the sets of (name, [epoch:]version-release, arch) installed or upgraded to.

FOUND holds the universes the property test (test_dnf_property.py) once found dnf and imagelock to disagree
on, each verbatim as hypothesis shrank it, in a repository of its own.
"""

from __future__ import annotations

import hashlib
import shutil
import tomllib
from pathlib import Path

import pytest

from tests.dnf import scenario
from tests.dnf.conftest import Repos, write_intent
from tests.dnf.rpmrepo import Rpm, RpmKey, dnf_install, primary_checksums
from tests.dnf.universe import Universe, resolve_both

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
    "obsoleted-request": ["oldthing"],
    "obsoleted-request-by-name-dot-arch": ["oldthing.noarch"],
    "many": ["app", "gcc14", "kernel-devel", "newthing", "epochy", "rec-user", "extra-tool"],
}

# dnf install X, where X is obsoleted by available packages, selects X or any of them (obsoletes=True), and
# libsolv's policy prefers an obsoleter over what it obsoletes (dnf: "pk0 is obsoleted by pk2").
FOUND = {
    # pk2 and pk4 both obsolete pk0 < 2.0: dnf installs pk2 alone (the same version, the first name)
    "request-obsoleted-by-two": Universe(
        [
            Rpm("pk0", "1.0", provides=["vir0"]),
            Rpm("pk1", "1.0", provides=["vir0"], conflicts=["pk0"]),
            Rpm("pk2", "1.0", provides=["vir0"], conflicts=["pk0"], obsoletes=["pk0 < 2.0"]),
            Rpm("pk3", "1.0"),
            Rpm("pk4", "1.0", obsoletes=["pk0 < 2.0"]),
            Rpm("pk5", "2.0", requires=["pk1"], provides=["vir0"]),
        ],
        [],
        ["pk0"],
    ),
    # pk3 obsoletes pk0 but needs the missing vir1: with best=False dnf skips it (and says so), installs pk0
    "obsoleter-not-installable": Universe(
        [
            Rpm("pk0", "1.0", provides=["vir0"]),
            Rpm("pk1", "1.0", provides=["vir0"], conflicts=["pk0"]),
            Rpm("pk2", "1.0", provides=["vir0"]),
            Rpm("pk3", "1.0", requires=["vir1"], provides=["vir0"], obsoletes=["pk0 < 2.0"]),
            Rpm("pk4", "1.0", provides=["vir0"], conflicts=["pk0"]),
            Rpm("pk5", "1.0", provides=["vir0"]),
        ],
        [],
        ["pk0"],
    ),
    # pk1 conflicts pk0, and pk5 (also requested) obsoletes it: the request pk0 is met by pk5
    "request-met-by-another-requests-obsoletes": Universe(
        [
            Rpm("pk0", "1.0", provides=["vir0"]),
            Rpm("pk1", "1.0", provides=["vir0"], conflicts=["pk0"]),
            Rpm("pk2", "1.0", provides=["vir0"]),
            Rpm("pk3", "1.0", requires=["pk0 >= 1.0"], provides=["vir0"], conflicts=["pk0"], obsoletes=["pk0 < 2.0"]),
            Rpm("pk4", "1.0", provides=["vir0"], obsoletes=["pk0 < 2.0"]),
            Rpm("pk5", "1.0", obsoletes=["pk0 < 2.0"]),
        ],
        [],
        ["pk1", "pk0", "pk5"],
    ),
}

# More rules of dnf's that a universe of its own shows.
SMALL = {
    # the base image has an obsoleter of the request: it satisfies the request, nothing is installed
    "request-whose-obsoleter-is-installed": Universe(
        [Rpm("pk0", "1.0"), Rpm("pk2", "1.0", obsoletes=["pk0 < 2.0"])],
        [("pk2", "1.0")],
        ["pk0"],
    ),
    # a request that needs an installed package older: dnf's install allows downgrades (Goal::install)
    "dependency-downgraded": Universe(
        [Rpm("pk0", "1.0"), Rpm("pk0", "2.0"), Rpm("pk1", "1.0", requires=["pk0 < 2.0"])],
        [("pk0", "2.0")],
        ["pk1"],
    ),
}


def _ours(tmp_path: Path, repos: Repos, key: RpmKey, packages: list[str], lock_cli, **kw) -> set[tuple[str, str, str]]:
    intent = write_intent(tmp_path, repos, key.armored, packages, extra=True, **kw)
    run = lock_cli("update", str(intent))
    assert run.code == 0, run.out + run.err
    table = tomllib.loads(intent.with_suffix(".lock").read_text())
    listed = {repo: primary_checksums(repos.path(repo)) for repo in ("core", "extra")}
    out = set()
    for p in table["dnf"].get("packages", []):
        # every locked sha256 and size is the one the signed metadata lists, and the served file's
        assert listed[p["repo"]][p["location"]] == (p["sha256"], p["size"]), p
        assert hashlib.sha256((repos.path(p["repo"]) / p["location"]).read_bytes()).hexdigest() == p["sha256"]
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


@pytest.mark.parametrize("universe", [*FOUND.values(), *SMALL.values()], ids=[*FOUND, *SMALL])
def test_same_closure_as_dnf_on_a_universe_of_its_own(tmp_path: Path, rpm_key: RpmKey, universe: Universe) -> None:
    outcome = resolve_both(tmp_path / "universe", universe, rpm_key)
    outcome.check(f"request {universe.request}, base {universe.base}")


def test_the_skipped_best_candidate_is_named_as_dnf_names_it(tmp_path: Path, rpm_key: RpmKey) -> None:
    """best=False: dnf installs pk0 and says which better candidate it skipped and why; so does the lock."""
    outcome = resolve_both(tmp_path / "universe", FOUND["obsoleter-not-installable"], rpm_key)
    why = "nothing provides vir1 needed by pk3-1.0-1.noarch"
    assert "Skipping packages with broken dependencies" in outcome.dnf.output and why in outcome.dnf.output
    assert outcome.code == 0 and outcome.ours == {("pk0", "1.0-1", "noarch")}
    assert "warning: dnf: a better candidate was skipped" in outcome.printed and why in outcome.printed, outcome.printed
