"""A fleet's exit code when no machine could be audited, and a facts version that only looks like 1."""

from __future__ import annotations

import json
from pathlib import Path

from hostile.hostile_support import SEED_LOCK, one_line, state


def test_a_fleet_of_which_no_machine_could_be_audited_is_exit_2(lock_cli, tmp_path: Path) -> None:
    """Every machine "could not audit": no answer at all (2), though each is still listed in the report."""
    bad = {"kernel.json": {"facts_version": 1, "kernel": {"running": 5}}, "list.json": [], "garbled.json": "{"}
    for name, document in bad.items():
        (tmp_path / name).write_text(document if isinstance(document, str) else json.dumps(document))
    argv = [x for name in [*bad, "nope.json"] for x in ("--facts", str(tmp_path / name))]
    run = lock_cli("drift", str(SEED_LOCK), *argv)
    assert run.code == 2 and run.err == ""
    lines = run.out.splitlines()
    assert lines[-1].startswith("fleet: 4 machines: 0 clean, 0 drifted, 4 unreachable")
    assert sum(": could not audit: " in line for line in lines) == 4


def test_true_is_not_facts_version_1(lock_cli, tmp_path: Path) -> None:
    facts = tmp_path / "facts.json"
    facts.write_text('{"facts_version": true}')
    before = state(tmp_path)
    run = lock_cli("drift", str(SEED_LOCK), "--facts", str(facts))
    assert run.code == 2 and run.out == ""
    assert one_line(run.err) == f"{facts}: facts_version: expected 1, found True"
    assert state(tmp_path) == before
