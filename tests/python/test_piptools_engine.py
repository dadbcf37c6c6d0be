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


NO_CUTOFF = INTENT.replace('[universe]\ncutoff = "2025-06-01T00:00:00Z"\n', "")


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
    (tmp_path / "small.toml").write_text(NO_CUTOFF)  # pip cannot honour one: refused below
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
    intent.write_text(NO_CUTOFF + '[python.torch]\ncuda = "cu124"\n')
    before = tree_digest(tmp_path)
    run = lock_cli("update", str(intent), "--engine", "pip-tools")
    assert run.code == 2
    assert run.err.strip() == (
        f"lock: error: {intent}: python.torch: the pip-tools engine cannot pin packages to "
        "one index (pip lets every index serve every package); use the default engine, uv"
    )
    assert tree_digest(tmp_path) == before


def test_pip_tools_refuses_a_cutoff_it_cannot_honour(tmp_path: Path, lock_cli) -> None:
    intent = tmp_path / "small.toml"
    intent.write_text(INTENT)
    before = tree_digest(tmp_path)
    run = lock_cli("update", str(intent), "--engine", "pip-tools")
    assert run.code == 2
    assert run.err.strip() == (
        f"lock: error: {intent}: universe.cutoff: the pip-tools engine cannot honour an upload-time cutoff "
        "(pip has no such filter) and would lock versions as of now; drop the cutoff or use the default engine, "
        "uv; nothing was written"
    )
    intent.write_text(NO_CUTOFF)
    run = lock_cli("update", str(intent), "--engine", "pip-tools", "--cutoff", "2025-01-01T00:00:00Z")
    assert run.code == 2
    assert run.err.strip().startswith("lock: error: --cutoff: the pip-tools engine cannot honour an upload-time")
    assert len(run.err.strip().splitlines()) == 1
    intent.write_text(INTENT)
    assert tree_digest(tmp_path) == before


def test_check_does_not_call_a_pip_tools_lock_under_a_cutoff_fresh(tmp_path: Path, lock_cli) -> None:
    """A lock written by pip-tools before it refused cutoffs: `lock check` says the cutoff was ignored."""
    from imagelock import domains
    from imagelock.lock import codec

    snapshot = build_snapshot(tmp_path / "snap", [Dist("alpha", "1.0", "2024-01-01T00:00:00Z")])
    intent = tmp_path / "small.toml"
    intent.write_text(INTENT.replace('"alpha", "beta"', '"alpha"'))
    lock = tmp_path / "small.lock"
    assert lock_cli("update", str(intent), "--replay", str(snapshot)).code == 0
    assert lock_cli("check", str(intent)).code == 0
    made, _ = domains.read_lock(lock)
    assert made.python is not None
    made.python.engine = "pip-tools"
    lock.write_text(codec.dumps(made))
    run = lock_cli("check", str(intent))
    assert run.code == 1
    assert (
        "python: locked by the pip-tools engine, which ignores universe.cutoff (2025-06-01T00:00:00Z): its versions "
        "are as of the update, not the cutoff; re-lock with the default engine, uv (`lock update`)"
    ) in run.out + run.err
