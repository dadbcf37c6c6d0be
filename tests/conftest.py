"""Shared test helpers: run the real CLI in-process, isolate caches, find the repo."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from hypothesis import settings

# In CI the property tests run a fixed, reproducible set of examples (a red build
# must mean a change broke something, not that a new random example was drawn);
# on a developer's machine they keep exploring.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

from imagelock.cli import main  # noqa: E402 - after the hypothesis profile is chosen


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
