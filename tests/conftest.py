"""Shared test helpers: run the real CLI in-process, isolate caches, find the repo."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from imagelock.cli import main

ROOT = Path(__file__).resolve().parents[1]
SEED_SNAPSHOT = ROOT / "snapshots" / "seed"


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


def tree_digest(folder: Path) -> str:
    """One digest over every file below a folder: proves a command wrote nothing."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
