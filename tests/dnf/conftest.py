"""Fixtures of the dnf tests: a throwaway RSA signing key, two real signed rpm repositories served on
loopback under a release-versioned path, and a base image's rpm database."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.apt.aptrepo import RepoServer
from tests.dnf import scenario
from tests.dnf.rpmrepo import RpmKey, base_manifest, build_repo, install_base, make_key, stop_agent


@dataclass
class Repos:
    server: RepoServer
    root: Path

    @property
    def baseurl_core(self) -> str:
        return f"{self.server.url}/$releasever/$basearch/core"

    @property
    def baseurl_extra(self) -> str:
        return f"{self.server.url}/$releasever/$basearch/extra"

    def path(self, repo: str) -> Path:
        return self.root / scenario.RELEASEVER / scenario.BASEARCH / repo

    def url(self, repo: str) -> str:
        return f"{self.server.url}/{scenario.RELEASEVER}/{scenario.BASEARCH}/{repo}"


@pytest.fixture(scope="session")
def rpm_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RpmKey]:
    key = make_key(tmp_path_factory.mktemp("gnupg-rpm"), "imagelock test rpm repo <rpm@invalid>")
    yield key
    stop_agent(key)


@pytest.fixture(scope="session")
def stranger_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RpmKey]:
    key = make_key(tmp_path_factory.mktemp("gnupg-stranger"), "someone else <else@invalid>")
    yield key
    stop_agent(key)


@pytest.fixture(scope="session")
def pristine_repos(tmp_path_factory: pytest.TempPathFactory, rpm_key: RpmKey) -> Path:
    root = tmp_path_factory.mktemp("rpm-repos")
    base = root / scenario.RELEASEVER / scenario.BASEARCH
    build_repo(base / "core", scenario.CORE, rpm_key)
    build_repo(base / "extra", scenario.EXTRA, rpm_key)
    return root


@pytest.fixture()
def repos(tmp_path: Path, pristine_repos: Path) -> Iterator[Repos]:
    """A private copy of the signed repositories (tests may damage it), served on loopback."""
    root = tmp_path / "served"
    shutil.copytree(pristine_repos, root)
    with RepoServer(root) as server:
        yield Repos(server, root)


@pytest.fixture(scope="session")
def base_root(tmp_path_factory: pytest.TempPathFactory, pristine_repos: Path) -> Path:
    """An installroot whose rpm database holds scenario.BASE (as a base image's would)."""
    root = tmp_path_factory.mktemp("base-image") / "root"
    packages = pristine_repos / scenario.RELEASEVER / scenario.BASEARCH / "core" / "Packages"
    files = [next(packages.glob(f"{name}-{version}-1.*.rpm")) for name, version in scenario.BASE]
    install_base(root, files)
    (root.parent / "manifest.txt").write_text(base_manifest(root))
    return root


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGELOCK_CACHE", str(tmp_path / "cache"))


def write_intent(
    folder: Path,
    repos: Repos,
    key: Path,
    packages: list[str],
    *,
    extra: bool = False,
    manifest: Path | None = None,
    dnf: str = "",
    repo_lines: str = "",
) -> Path:
    lines = [
        'name = "al2023-test"',
        "[universe]",
        'cutoff = "2025-01-01T00:00:00Z"',
        "[dnf]",
        f'releasever = "{scenario.RELEASEVER}"',
        f"packages = {packages!r}".replace("'", '"'),
    ]
    if manifest is not None:
        lines.append(f'base-manifest = "{manifest}"')
    if dnf:
        lines.append(dnf)
    lines += ["[[dnf.repos]]", 'id = "core"', f'baseurl = "{repos.baseurl_core}"', f'gpgkey = "{key}"', repo_lines]
    if extra:
        lines += ["[[dnf.repos]]", 'id = "extra"', f'baseurl = "{repos.baseurl_extra}"', f'gpgkey = "{key}"']
    (folder / "intent").mkdir(exist_ok=True)  # apart from the cache and the served repositories
    path = folder / "intent" / "image.toml"
    path.write_text("\n".join(lines) + "\n")
    return path
