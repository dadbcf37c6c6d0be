"""`lock update --replay`: a snapshot's recorded runfile digests stand in for the 4 GB download.

The recording is trusted exactly as far as a download would be: its md5 and
size must be NVIDIA's published ones and its sha256 the catalog's Spack
cross-check; anything else stops the update with both values and writes
nothing.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from imagelock_testing import SEED_SNAPSHOT, tree_digest

from imagelock.domains.nvidia.catalog import CATALOG, DOWNLOAD_BASE

SEED_RUNFILES = json.loads((SEED_SNAPSHOT / "nvidia" / "runfiles.json").read_text())["runfiles"]
ENTRY = CATALOG["12.4.1"]
INTENT = 'name = "drv"\n\n[universe]\ncutoff = "2025-05-01T00:00:00Z"\n\n[nvidia]\ncuda = "12.4.1"\n'


def _snapshot(folder: Path, runfiles: dict[str, object] | None) -> Path:
    snapshot = folder / "snapshot"
    (snapshot / "nv").mkdir(parents=True)
    (snapshot / "snapshot.json").write_text(json.dumps({"nvidia": "nv"}))
    if runfiles is not None:
        (snapshot / "nv" / "runfiles.json").write_text(json.dumps({"runfiles": runfiles}))
    return snapshot


def _intent(folder: Path) -> Path:
    path = folder / "work" / "drv.toml"
    path.parent.mkdir()
    path.write_text(INTENT)
    return path


def test_the_seed_runfile_locks_offline_from_its_recorded_digests(tmp_path: Path, lock_cli) -> None:
    intent = _intent(tmp_path)
    run = lock_cli("update", str(intent), "--replay", str(SEED_SNAPSHOT))
    assert run.code == 0, run.err
    layer = tomllib.loads(intent.with_suffix(".lock").read_text())["nvidia"]
    recorded = SEED_RUNFILES[ENTRY.name]
    assert (layer["sha256"], layer["md5"], layer["size"]) == (recorded["sha256"], ENTRY.md5, ENTRY.size)
    assert layer["sha256"] == ENTRY.sha256  # the catalog's Spack cross-check
    assert layer["url"] == f"{DOWNLOAD_BASE}/12.4.1/local_installers/{ENTRY.name}"
    assert (layer["driver-version"], layer["cuda-version"]) == ("550.54.15", "12.4.1")


def _recorded(**changes: object) -> dict[str, object]:
    record = {"url": ENTRY.url(DOWNLOAD_BASE), "sha256": ENTRY.sha256, "md5": ENTRY.md5, "size": ENTRY.size}
    record.update(changes)
    return {ENTRY.name: record}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"md5": "0" * 32}, f"md5 {'0' * 32}, NVIDIA publishes {ENTRY.md5}"),
        ({"size": 1}, f"size 1 bytes, NVIDIA publishes {ENTRY.size}"),
        ({"sha256": "e" * 64}, f"sha256 {'e' * 64}, the catalog's cross-check (Spack) lists {ENTRY.sha256}"),
        ({"url": "https://mirror.invalid/x.run"}, "url 'https://mirror.invalid/x.run', the catalog's is "),
    ],
)
def test_a_recording_that_disagrees_with_the_catalog_stops_the_update(
    tmp_path: Path, lock_cli, changes: dict[str, object], expected: str
) -> None:
    snapshot = _snapshot(tmp_path, _recorded(**changes))
    intent = _intent(tmp_path)
    before = tree_digest(intent.parent)
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 2
    line = run.err.strip()
    assert len(line.splitlines()) == 1
    assert line.startswith(f"lock: error: {snapshot / 'nv' / 'runfiles.json'}: {ENTRY.name}: ")
    assert expected in line and line.endswith("; nothing was written")
    assert tree_digest(intent.parent) == before


@pytest.mark.parametrize(
    ("runfiles", "expected"),
    [
        (
            {},
            "{intent}: nvidia: cuda_12.4.1_550.54.15_linux.run is not in the replayed snapshot "
            '(its snapshot.json names the runfile recording under "nvidia")',
        ),
        (None, '{snapshot}/nv/runfiles.json: no such file (snapshot.json names it under "nvidia")'),
        (
            {ENTRY.name: {"sha256": "abc", "md5": ENTRY.md5, "size": ENTRY.size}},
            "{snapshot}/nv/runfiles.json: runfiles.cuda_12.4.1_550.54.15_linux.run: expected sha256 (64 hex digits), "
            "md5 and size (bytes)",
        ),
    ],
)
def test_a_missing_or_malformed_recording_is_one_line(
    tmp_path: Path, lock_cli, runfiles: dict[str, object] | None, expected: str
) -> None:
    snapshot = _snapshot(tmp_path, runfiles)
    intent = _intent(tmp_path)
    before = tree_digest(intent.parent)
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 2
    assert run.err.strip() == "lock: error: " + expected.format(intent=intent, snapshot=snapshot)
    assert tree_digest(intent.parent) == before
