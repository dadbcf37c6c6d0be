"""Tier 3: the public PyPI index through uv's own default index (no host named here)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.live

INTENT = """\
name = "live"
[universe]
cutoff = "2024-12-28T00:00:00Z"
[python]
requirements = [{requirements}]
bootstrap = ["pip==24.3.1"]
"""


def test_resolves_a_small_set_against_the_default_index(tmp_path: Path, lock_cli) -> None:
    intent = tmp_path / "live.toml"
    intent.write_text(INTENT.format(requirements='"requests==2.32.3"'))
    run = lock_cli("update", str(intent))
    assert run.code == 0, run.err
    packages = {p["name"]: p for p in tomllib.loads((tmp_path / "live.lock").read_text())["python"]["packages"]}
    assert set(packages) == {"certifi", "charset-normalizer", "idna", "pip", "requests", "urllib3"}
    wheel = packages["requests"]["wheel"]
    assert wheel["sha256"] == "70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d061d6dcc6"
    assert wheel["size"] == 64928
    assert wheel["upload-time"] == "2024-05-29T15:37:47Z"
    # the cutoff holds: nothing uploaded after it
    assert all(p["wheel"]["upload-time"] <= "2024-12-28T00:00:00Z" for p in packages.values())
    assert lock_cli("check", str(intent)).code == 0


def test_missing_version_lists_nearest_from_the_default_index(tmp_path: Path, lock_cli) -> None:
    intent = tmp_path / "live.toml"
    intent.write_text(INTENT.format(requirements='"requests==2.32.9"'))
    run = lock_cli("update", str(intent))
    assert run.code == 2
    assert "python.requirements[0]: requests==2.32.9: no such version on index 'pypi'" in run.err
    assert "2.32.3" in run.err
    assert not (tmp_path / "live.lock").exists()
