"""A replay snapshot.json naming a recording outside the snapshot is one line, exit 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from imagelock_testing import tree_digest

INTENT = 'name = "x"\n\n[universe]\ncutoff = "2025-05-01T00:00:00Z"\n\n[nvidia]\ncuda = "12.4.1"\n'


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (
            "nvidia",
            "../elsewhere",
            'expected the directory that holds runfiles.json, relative to the snapshot (such as "nvidia")',
        ),
        ("hf", "/etc", 'expected the directory of the Hub recording, relative to the snapshot (such as "hf")'),
        ("aws", 7, 'expected the directory of the AWS recording, relative to the snapshot (such as "aws")'),
    ],
)
def test_a_recording_outside_the_snapshot_is_refused(
    tmp_path: Path, lock_cli, key: str, value: object, expected: str
) -> None:
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    (snapshot / "snapshot.json").write_text(json.dumps({key: value}))
    work = tmp_path / "work"
    work.mkdir()
    intent = work / "x.toml"
    intent.write_text(INTENT)
    before = tree_digest(tmp_path)
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 2
    assert run.err == f"lock: error: {snapshot / 'snapshot.json'}: {key}: {expected}\n"
    assert tree_digest(tmp_path) == before
