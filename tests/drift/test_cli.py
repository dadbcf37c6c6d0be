"""`lock drift` / `lock collect` on the command line: bad input is one line and exit 2 with nothing written."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from imagelock.drift import collector
from imagelock.drift.synthetic import facts_for
from imagelock.lock import codec as lockfile

from .drifthelpers import seed_like_lock, tree_digest


@pytest.fixture
def work(tmp_path: Path) -> Path:
    lock = seed_like_lock()
    (tmp_path / "seed.lock").write_text(lockfile.dumps(lock))
    (tmp_path / "clean.json").write_text(json.dumps(facts_for(lock, "w-clean")))
    drifted = facts_for(lock, "w-drift")
    next(r for r in drifted["dpkg"] if r[0] == "dkms")[1] = "2.8.7-2ubuntu2.3"
    (tmp_path / "drifted.json").write_text(json.dumps(drifted))
    return tmp_path


def test_one_clean_facts_file(lock_cli, work: Path) -> None:
    run = lock_cli("drift", str(work / "seed.lock"), "--facts", str(work / "clean.json"))
    assert run.code == 0, run.err
    assert run.out.startswith(f"{work / 'clean.json'}: clean: no drift from seed-")


def test_one_drifted_facts_file_as_json_and_junit(lock_cli, work: Path) -> None:
    run = lock_cli("drift", str(work / "seed.lock"), "--facts", str(work / "drifted.json"), "--format", "json")
    assert run.code == 1
    data = json.loads(run.out)
    assert data["summary"] == {"machines": 1, "clean": 0, "drifted": 1, "unreachable": 0}
    assert data["machines"][0]["findings"] == [
        {
            "layer": "apt",
            "kind": "changed-version",
            "subject": "dkms",
            "expected": "2.8.7-2ubuntu2.2",
            "actual": "2.8.7-2ubuntu2.3",
        }
    ]
    out = work / "report.xml"
    run = lock_cli(
        "drift", str(work / "seed.lock"), "--facts", str(work / "drifted.json"), "--format", "junit", "-o", str(out)
    )
    assert (run.code, run.out) == (1, "")
    assert (
        '<failure type="drift" message="1 finding">dkms: 2.8.7-2ubuntu2.2 → 2.8.7-2ubuntu2.3</failure>'
        in out.read_text()
    )


@pytest.mark.parametrize(
    "content, message",
    [
        (
            "{not json",
            "not valid JSON (Expecting property name enclosed in double quotes at line 1); "
            "expected a facts document from `lock collect`",
        ),
        ('{"facts_version": 1, "dpkg": [["dkms", 2, "all"]]}', "dpkg[0]: expected [name, version, arch] strings"),
        ('{"facts_version": 7}', "facts_version: expected 1, found 7"),
    ],
)
def test_malformed_facts_file(lock_cli, work: Path, content: str, message: str) -> None:
    bad = work / "bad.json"
    bad.write_text(content)
    before = tree_digest(work)
    run = lock_cli("drift", str(work / "seed.lock"), "--facts", str(bad), "-o", str(work / "report.txt"))
    assert run.code == 2
    assert run.err == f"lock: error: {bad}: {message}\n"
    assert run.out == ""
    assert tree_digest(work) == before


@pytest.mark.parametrize(
    "argv, message",
    [
        (["drift", "{w}/nope.lock", "--local"], "{w}/nope.lock: no such lock file (run `lock update` to create it)"),
        (
            ["drift", "{w}/seed.lock", "--facts", "{w}/nope.json"],
            "{w}/nope.json: no such facts file (write one with `lock collect > FILE`)",
        ),
        (
            ["drift", "{w}/seed.lock", "--root", "{w}/nope"],
            "{w}/nope: --root: not a directory (expected a root filesystem)",
        ),
        (
            ["drift", "{w}/seed.lock", "--facts", "{w}/clean.json", "-o", "{w}"],
            "{w}: --output: is a directory (expected a report file path)",
        ),
        (["drift", "{w}/seed.lock", "--timeout", "0"], "--timeout: expected a positive number of seconds, found 0"),
        (
            ["drift", "{w}/seed.lock", "--format", "yaml"],
            "lock drift: argument --format: invalid choice: 'yaml' (choose from 'text', 'json', 'junit', 'prometheus')",
        ),
        (
            ["drift", "{w}/seed.lock", "--local", "--root", "/"],
            "lock drift: argument --root: not allowed with argument --local",
        ),
        (
            ["drift", "{w}/seed.lock", "--ssm", "i-123;reboot"],
            "--ssm: expected instance ids (i-0123456789abcdef0,...) or tag:KEY=VALUE, found 'i-123;reboot'",
        ),
        (
            ["drift", "{w}/seed.lock", "--ssm", "tag:Role=gpu", "--max-concurrency", "0"],
            "--max-concurrency: expected a count (10) or a percentage (10%), found '0'",
        ),
        (
            ["drift", "{w}/seed.lock", "--ssm", "tag:Role=gpu", "--max-errors", "all"],
            "--max-errors: expected a count (0, 5) or a percentage (100%), found 'all'",
        ),
        (
            ["drift", "{w}/seed.lock", "--ssh=-oProxyCommand=touch {w}/pwned"],
            "--ssh: expected [user@]host[:port], found '-oProxyCommand=touch {w}/pwned'",
        ),
        (
            ["drift", "{w}/seed.lock", "--ssh", "host;touch {w}/pwned"],
            "--ssh: expected [user@]host[:port], found 'host;touch {w}/pwned'",
        ),
        (["collect", "--root", "{w}/nope"], "{w}/nope: --root: not a directory (expected a root filesystem)"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(lock_cli, work: Path, argv: list[str], message: str) -> None:
    before = tree_digest(work)
    run = lock_cli(*[a.format(w=work) for a in argv])
    assert run.code == 2
    assert run.err == f"lock: error: {message.format(w=work)}\n"
    assert run.out == ""
    assert tree_digest(work) == before


def test_invalid_lock_and_facts_missing_a_layer(lock_cli, work: Path) -> None:
    (work / "broken.lock").write_text("schema = 1\nname = [\n")
    (work / "nopython.json").write_text('{"facts_version": 1, "dpkg": []}')
    before = tree_digest(work)
    run = lock_cli("drift", str(work / "broken.lock"), "--facts", str(work / "clean.json"))
    assert run.code == 2 and run.out == ""
    assert run.err.startswith(f"lock: error: {work / 'broken.lock'}: not valid TOML (")
    run = lock_cli("drift", str(work / "seed.lock"), "--facts", str(work / "nopython.json"), "-o", str(work / "r.txt"))
    assert run.code == 2 and run.out == ""
    assert run.err == (
        f"lock: error: {work / 'nopython.json'}: could not audit: "
        "python: the lock has a venv (/opt/venvs/ai) but the facts list none; "
        "collect with `lock collect --lock LOCK` (or `--venv /opt/venvs/ai`)\n"
    )
    assert tree_digest(work) == before


def test_fleet_of_files_reports_the_rest_and_exits_1(lock_cli, work: Path) -> None:
    """Two machines cannot be audited: they are listed, the others compared; the fleet is not clean (1)."""
    (work / "garbled.json").write_text('{"facts_version": 1, "python": []}')
    timed_out = collector.collect("/", True, sys.prefix, [], False, timeout=1e-9)  # the real collector, out of time
    assert timed_out["complete"] is False
    (work / "slow.json").write_text(json.dumps(timed_out))
    out = work / "fleet.json"
    run = lock_cli(
        "drift",
        str(work / "seed.lock"),
        "--format",
        "json",
        "-o",
        str(out),
        *[x for name in ("clean", "drifted", "garbled", "slow") for x in ("--facts", str(work / f"{name}.json"))],
    )
    assert run.code == 1
    data = json.loads(out.read_text())
    assert data["summary"] == {"machines": 4, "clean": 1, "drifted": 1, "unreachable": 2}
    status = {Path(m["target"]).name: (m["status"], m["error"]) for m in data["machines"]}
    assert status["clean.json"] == ("clean", None)
    assert status["drifted.json"] == ("drifted", None)
    assert status["garbled.json"] == ("unreachable", "python: expected an object, found list")
    assert status["slow.json"][1].startswith("complete: the collector did not finish (")
    assert "deadline of 1e-09s reached" in status["slow.json"][1]
    assert data["commonest"] == [{"finding": "apt: dkms: 2.8.7-2ubuntu2.2 → 2.8.7-2ubuntu2.3", "machines": 1}]


def test_a_fleet_where_no_machine_can_be_audited_exits_2(lock_cli, work: Path) -> None:
    (work / "garbled.json").write_text('{"facts_version": 1, "python": []}')
    (work / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    run = lock_cli(
        "drift", str(work / "seed.lock"), "--facts", str(work / "garbled.json"), "--facts", str(work / "deep.json")
    )
    assert run.code == 2
    assert "could not audit" in run.out or "unreachable" in run.out


def test_collect_prints_facts(lock_cli, tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w.bin").write_bytes(b"abc")
    run = lock_cli("collect", "--models", str(tmp_path / "m"), "--deep")
    assert run.code == 0
    facts = json.loads(run.out)
    assert facts["complete"] is True and facts["live"] is True
    assert facts["models"] == [
        {
            "dest": str(tmp_path / "m"),
            "exists": True,
            "files": [
                {
                    "path": "w.bin",
                    "size": 3,
                    "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                }
            ],
        }
    ]
