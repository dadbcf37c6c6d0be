"""A reader that leaves early (`lock diff old new | head`) gets no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from imagelock.lock import codec as lockfile
from imagelock.lock.model import Lock, PythonLayer, PythonPackage, Universe, Wheel


def _lock(version: str) -> Lock:
    packages = [
        PythonPackage(
            name=f"pkg-{i:04d}",
            version=version,
            index="pypi",
            requested=True,
            wheel=Wheel(
                filename=f"pkg_{i:04d}-{version}-py3-none-any.whl",
                url=f"https://files.example.invalid/pkg_{i:04d}-{version}.whl",
                sha256=f"{i:064x}",
                size=1000 + i,
            ),
        )
        for i in range(3000)
    ]
    return Lock(
        name="big",
        intent_sha256="0" * 64,
        universe=Universe(cutoff="2025-01-01T00:00:00Z", source="intent"),
        layers={
            "python": PythonLayer(
                version="3.11", platform="x86_64-manylinux_2_35", venv="/opt/venvs/ai", engine="uv", packages=packages
            )
        },
    )


def test_closed_stdout_is_quiet(tmp_path: Path) -> None:
    old, new = tmp_path / "old.lock", tmp_path / "new.lock"
    old.write_text(lockfile.dumps(_lock("1.0")))
    new.write_text(lockfile.dumps(_lock("2.0")))
    proc = subprocess.Popen(
        [sys.executable, "-m", "imagelock.cli", "diff", str(old), str(new), "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(10)  # the report has started; far more than a pipe buffer follows
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in err
    assert "BrokenPipeError" not in err
