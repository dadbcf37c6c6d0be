"""What a conflict report says: the version bound a package puts on its dependency ("pandas>=2 requires
numpy>=1.20.3", never "pandas>=2 requires numpy"), whether uv writes the bound, writes it after a marker in
braces, or leaves it out (then it is read from the package's metadata on the index, PEP 658); the intent's
own words instead of the synthetic project's; and fixes that cannot be applied together."""

from __future__ import annotations

from pathlib import Path

from imagelock_testing import tree_digest
from indexbuilder import Dist, build_snapshot

from imagelock.domains.python.conflicts import bounds, chain_of
from imagelock.engines.python.contract import EngineRequest
from imagelock.replay.server import ReplayServer, Snapshot

DISTS = [
    Dist("pandas", "1.5.0", "2024-01-01T00:00:00Z", ["numpy>=1.18"]),
    # the bound that holds on the target, and one a marker keeps off it
    Dist(
        "pandas",
        "2.0.0",
        "2024-01-01T00:00:00Z",
        ['numpy>=1.20.3; python_version >= "3.8"', 'numpy<1; sys_platform == "win32"'],
    ),
    Dist("numpy", "1.19.0", "2024-01-01T00:00:00Z"),
    Dist("numpy", "1.21.0", "2024-01-01T00:00:00Z"),
]
TAIL = " and you require numpy==1.19.0, we can conclude that your requirements are unsatisfiable."


def test_a_conflict_report_names_the_bound(tmp_path: Path, lock_cli) -> None:
    snapshot = build_snapshot(tmp_path / "snap", DISTS)
    intent = tmp_path / "c.toml"
    intent.write_text(
        'name = "c"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n'
        '[python]\nrequirements = ["pandas>=2", "numpy==1.19.0"]\nbootstrap = []\n'
    )
    before = tree_digest(tmp_path)
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 1
    text = run.out + run.err
    assert text.startswith(f"{intent}: python: 1 conflict; nothing was written\n"), text
    assert "because pandas>=2.0.0 requires numpy>=1.20.3; you asked for numpy==1.19.0" in text
    assert "requires numpy;" not in text and "requires numpy\n" not in text
    assert tree_digest(tmp_path) == before


def test_a_bound_uv_writes_after_a_marker_is_kept() -> None:
    message = "Because pandas>=2 depends on numpy{python_full_version >= '3.8'}>=1.20.3" + TAIL
    assert chain_of(message, ["pandas>=2", "numpy==1.19.0"]) == [
        "pandas>=2 requires numpy>=1.20.3",
        "you asked for numpy==1.19.0",
    ]


def test_a_bound_uv_leaves_out_is_read_from_the_metadata(tmp_path: Path) -> None:
    snapshot = build_snapshot(tmp_path / "snap", DISTS)
    message = "Because pandas>=2 depends on numpy" + TAIL
    assert chain_of(message, ["pandas>=2", "numpy==1.19.0"]) == [
        "pandas>=2 requires numpy",  # uv's words, when there is no index to ask
        "you asked for numpy==1.19.0",
    ]
    with ReplayServer(Snapshot.open(snapshot), port=0) as server:
        request = EngineRequest(
            requirements=["pandas>=2", "numpy==1.19.0"],
            python_version="3.11",
            platform="x86_64-manylinux_2_35",
            cutoff="2025-01-01T00:00:00Z",
            default_index=server.local_index(None),
        )
        bound = bounds(request, {})
        assert chain_of(message, ["pandas>=2", "numpy==1.19.0"], bound) == [
            "pandas>=2 requires numpy>=1.20.3",
            "you asked for numpy==1.19.0",
        ]
        # versions whose metadata disagree each say theirs; a package the index lacks leaves uv's words
        assert bound("pandas>=1", "numpy") == "numpy>=1.18 (pandas 1.5.0) or numpy>=1.20.3 (pandas 2.0.0)"
        assert bound("nosuch>=1", "numpy") is None


def test_messages_name_the_intent_not_the_synthetic_project(tmp_path: Path, lock_cli) -> None:
    from imagelock.engines.python.uv import ROOT_PROJECT

    snapshot = build_snapshot(tmp_path / "snap", DISTS)
    intent = tmp_path / "c.toml"
    for section, key in (
        ('[python]\nrequirements = ["pandas>=3"]\nbootstrap = []\n', "[python]"),
        ('[python]\nbootstrap = []\n[python.envs.train]\nrequirements = ["pandas>=3"]\n', "[python.envs.train]"),
    ):
        intent.write_text(f'name = "c"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n{section}')
        before = tree_digest(tmp_path)
        run = lock_cli("update", str(intent), "--replay", str(snapshot))
        text = run.out + run.err
        assert run.code == 1, text
        assert ROOT_PROJECT not in text and "pyproject.toml" not in text
        assert f"{key} in {intent} asks for pandas>=3" in text
        assert tree_digest(tmp_path) == before


def test_fixes_that_cannot_be_applied_together_are_flagged(tmp_path: Path, lock_cli) -> None:
    """Two conflicts over bravo==1.0: the first fix of each moves bravo, to 2.0 and to 3.0. Both cannot be applied."""
    snapshot = build_snapshot(
        tmp_path / "snap",
        [
            Dist("alpha", "1.0", "2024-01-01T00:00:00Z"),
            Dist("alpha", "2.0", "2024-01-01T00:00:00Z", ["bravo>=2"]),
            Dist("bravo", "1.0", "2024-01-01T00:00:00Z"),
            Dist("bravo", "2.0", "2024-01-01T00:00:00Z"),
            Dist("bravo", "3.0", "2024-01-01T00:00:00Z"),
            Dist("charlie", "0.5", "2024-01-01T00:00:00Z"),
            Dist("charlie", "1.0", "2024-01-01T00:00:00Z", ["bravo>=3"]),
        ],
    )
    intent = tmp_path / "c.toml"
    intent.write_text(
        'name = "c"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n'
        '[python]\nrequirements = ["bravo==1.0", "alpha==2.0", "charlie==1.0"]\nbootstrap = []\n'
    )
    before = tree_digest(tmp_path)
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    text = run.out + run.err
    assert run.code == 1, text
    assert text.startswith(f"{intent}: python: 2 conflicts; nothing was written\n"), text
    assert "fix: bravo 2.0 works with alpha==2.0" in text
    assert "fix: bravo 3.0 works with charlie==1.0" in text
    assert "these fixes cannot all be applied together: bravo==2.0 (1.), bravo==3.0 (2.)" in text
    assert "  together, these work: bravo==2.0 (1.), charlie==0.5 (2.)" in text
    assert tree_digest(tmp_path) == before


def test_fixes_that_can_be_applied_together_say_nothing_more(tmp_path: Path, lock_cli) -> None:
    extra = [
        Dist("alpha", "1.0", "2024-01-01T00:00:00Z"),
        Dist("alpha", "2.0", "2024-01-01T00:00:00Z", ["bravo>=2"]),
        Dist("bravo", "1.0", "2024-01-01T00:00:00Z"),
        Dist("bravo", "2.0", "2024-01-01T00:00:00Z"),
    ]
    snapshot = build_snapshot(tmp_path / "snap", DISTS + extra)
    intent = tmp_path / "c.toml"
    intent.write_text(
        'name = "c"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n[python]\n'
        'requirements = ["pandas>=2", "numpy==1.19.0", "alpha==2.0", "bravo==1.0"]\nbootstrap = []\n'
    )
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    text = run.out + run.err
    assert run.code == 1
    assert text.startswith(f"{intent}: python: 2 conflicts; nothing was written\n"), text
    assert "cannot all be applied together" not in text
