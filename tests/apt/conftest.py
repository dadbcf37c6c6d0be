"""Fixtures of the apt tests: a throwaway signing key and a real signed repository on loopback."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apt.aptrepo import Key, RepoServer, build_repo, make_key
from tests.apt.scenario import SUITES


@pytest.fixture(scope="session")
def archive_key(tmp_path_factory: pytest.TempPathFactory) -> Key:
    return make_key(tmp_path_factory.mktemp("gnupg-archive"), "imagelock test archive <archive@invalid>")


@pytest.fixture(scope="session")
def other_key(tmp_path_factory: pytest.TempPathFactory) -> Key:
    return make_key(tmp_path_factory.mktemp("gnupg-other"), "someone else <other@invalid>")


@pytest.fixture(scope="session")
def pristine_repo(tmp_path_factory: pytest.TempPathFactory, archive_key: Key) -> Path:
    return build_repo(tmp_path_factory.mktemp("pristine") / "repo", SUITES, archive_key)


@pytest.fixture()
def repo(tmp_path: Path, pristine_repo: Path) -> Iterator[RepoServer]:
    """A private copy of the signed repository (tests may damage it), served on loopback."""
    root = tmp_path / "repo"
    shutil.copytree(pristine_repo, root)
    with RepoServer(root) as server:
        yield server


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with an empty index store, so nothing verified earlier is reused."""
    monkeypatch.setenv("IMAGELOCK_CACHE", str(tmp_path / "cache"))
