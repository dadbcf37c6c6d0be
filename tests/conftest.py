"""Shared test helpers: run the real CLI in-process, isolate caches, find the repo."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from imagelock.cli import main


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGELOCK_CACHE", str(tmp_path_factory.getbasetemp() / "imagelock-cache"))


@pytest.fixture
def lock_cli(capsys: pytest.CaptureFixture[str]):
    """`lock ...` in-process, returning the exit code and what it printed."""

    def run(*argv: str) -> Run:
        code = main(list(argv))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run
