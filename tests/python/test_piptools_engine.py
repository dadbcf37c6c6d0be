"""The pip-tools engine: same lock shape as uv's, refused where pip would mix indexes."""

from __future__ import annotations

import tomllib
from pathlib import Path

from imagelock_testing import tree_digest
from indexbuilder import Dist, build_snapshot

INTENT = """\
name = "small"
[universe]
cutoff = "2025-06-01T00:00:00Z"
[python]
requirements = ["alpha", "beta"]
bootstrap = []
"""


def _packages(lock: Path) -> dict[str, dict]:
    return {p["name"]: p for p in tomllib.loads(lock.read_text())["python"]["packages"]}


def test_pip_tools_and_uv_lock_the_same_closure(tmp_path: Path, lock_cli) -> None:
    snapshot = build_snapshot(
        tmp_path / "snap",
        [
            Dist("alpha", "1.0", "2024-01-01T00:00:00Z"),
            Dist("beta", "2.0", "2024-01-01T00:00:00Z", ["gamma>=1"]),
            Dist("gamma", "1.5", "2024-01-01T00:00:00Z"),
        ],
    )
    (tmp_path / "small.toml").write_text(INTENT)
    run = lock_cli(
        "update",
        str(tmp_path / "small.toml"),
        "--lock",
        str(tmp_path / "pt.lock"),
        "--engine",
        "pip-tools",
        "--replay",
        str(snapshot),
    )
    assert run.code == 0, run.err
    assert "pip-tools cannot honour the upload-time cutoff" in run.err
    assert (
        lock_cli(
            "update", str(tmp_path / "small.toml"), "--lock", str(tmp_path / "uv.lock"), "--replay", str(snapshot)
        ).code
        == 0
    )
    by_pip, by_uv = _packages(tmp_path / "pt.lock"), _packages(tmp_path / "uv.lock")
    assert {n: p["version"] for n, p in by_pip.items()} == {"alpha": "1.0", "beta": "2.0", "gamma": "1.5"}
    for name in by_uv:
        assert by_pip[name]["wheel"] == by_uv[name]["wheel"]
        assert by_pip[name].get("dependencies") == by_uv[name].get("dependencies")
    assert by_pip["beta"]["dependencies"] == ["gamma"]
    assert tomllib.loads((tmp_path / "pt.lock").read_text())["python"]["engine"] == "pip-tools"


def test_pip_tools_refuses_index_pinning(tmp_path: Path, lock_cli) -> None:
    intent = tmp_path / "t.toml"
    intent.write_text(INTENT + '[python.torch]\ncuda = "cu124"\n')
    before = tree_digest(tmp_path)
    run = lock_cli("update", str(intent), "--engine", "pip-tools")
    assert run.code == 2
    assert run.err.strip() == (
        f"lock: error: {intent}: python.torch: the pip-tools engine cannot pin packages to "
        "one index (pip lets every index serve every package); use the default engine, uv"
    )
    assert tree_digest(tmp_path) == before
