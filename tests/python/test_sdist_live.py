"""Tier 3: omegaconf 2.3.0 needs antlr4-python3-runtime 4.9.*, which PyPI serves only as an sdist (issue 18).

Refused by name without `allow-sdist`; with it, locked with the sdist's sha256 and PEP 517's default build
requirements (antlr4-python3-runtime 4.9.3 has no pyproject.toml), pinned as wheels from the same index, as of
the cutoff. uv reads the sdist's metadata by building it on this machine (its PKG-INFO is metadata 2.1), so the
intent names this interpreter's version.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.live

PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"
INTENT = f"""\
name = "omega"
[universe]
cutoff = "2024-12-28T00:00:00Z"
[python]
version = "{PYTHON}"
requirements = ["omegaconf==2.3.0"]
bootstrap = []
"""
# PyPI's simple index for antlr4-python3-runtime 4.9.3 (its only file).
ANTLR_SDIST = {
    "filename": "antlr4-python3-runtime-4.9.3.tar.gz",
    "sha256": "f224469b4168294902bb1efa80a8bf7855f24c99aef99cbefc1bcd3cce77881b",
    "size": 117034,
    "upload-time": "2021-11-06T17:52:23Z",
}


def test_omegaconf_is_refused_naming_its_sdist_only_dependency(tmp_path: Path, lock_cli) -> None:
    intent = tmp_path / "omega.toml"
    intent.write_text(INTENT)
    run = lock_cli("update", str(intent))
    assert run.code == 2, run.err
    assert run.err.strip().splitlines() == [
        f"lock: error: {intent}: python.allow-sdist: antlr4-python3-runtime ships no wheel for Python {PYTHON} "
        "x86_64-manylinux_2_35, only a source distribution; to lock it and build it on the image from hashed "
        'build packages, allow it by name: allow-sdist = ["antlr4-python3-runtime"]; nothing was written'
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["omega.toml"]


def test_omegaconf_locks_with_its_sdist_only_dependency_allowed_by_name(tmp_path: Path, lock_cli) -> None:
    intent = tmp_path / "omega.toml"
    intent.write_text(INTENT + 'allow-sdist = ["antlr4_python3_runtime"]\n')
    run = lock_cli("update", str(intent))
    assert run.code == 0, run.err
    table = tomllib.loads((tmp_path / "omega.lock").read_text())["python"]
    packages = {p["name"]: p for p in table["packages"]}
    assert set(packages) == {"antlr4-python3-runtime", "omegaconf", "pyyaml"}
    antlr = packages["antlr4-python3-runtime"]
    assert antlr["version"] == "4.9.3"
    assert {k: antlr["wheel"][k] for k in ANTLR_SDIST} == ANTLR_SDIST
    assert antlr["build-requires"] == ["setuptools>=40.8.0", "wheel"]
    build = {p["name"]: p for p in table["build-packages"]}
    assert set(build) == {"setuptools", "wheel"}
    for package in build.values():
        assert package["wheel"]["filename"].endswith("-py3-none-any.whl")
        assert len(package["wheel"]["sha256"]) == 64
        assert package["wheel"]["upload-time"] <= "2024-12-28T00:00:00Z"
    assert lock_cli("check", str(intent)).code == 0
