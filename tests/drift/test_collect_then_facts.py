"""`lock collect` alone gathers what the lock needs: `lock drift --facts` on its output says what `--root` says.

Plain `lock collect` used to list no venv unless the image's fingerprint named it, or when
`--models` was given, so `lock drift --facts` exited 2 ("the lock has a venv but the facts
list none") where `lock drift --root`/`--local` audited the same machine.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from imagelock.drift import collector

from .drifthelpers import MODELS, Rootfs, pip_install, wheel_file


def verdict(run) -> tuple[int, str, list[dict]]:
    data = json.loads(run.out)
    (machine,) = data["machines"]
    return run.code, machine["status"], machine["findings"]


def same_verdict(lock_cli, rootfs: Rootfs, tmp_path: Path, *collect_args: str) -> tuple[int, str, list[dict]]:
    """`lock drift --root` and `lock collect` → `lock drift --facts`, which must agree; returns the verdict."""
    collected = lock_cli("collect", "--root", str(rootfs.root), *collect_args)
    assert collected.code == 0, collected.err
    facts = tmp_path / "facts.json"
    facts.write_text(collected.out)
    via_facts = verdict(lock_cli("drift", str(rootfs.lock_path), "--facts", str(facts), "--json"))
    direct = verdict(lock_cli("drift", str(rootfs.lock_path), "--root", str(rootfs.root), "--json"))
    assert via_facts == direct
    return direct


def drift_a_wheel(rootfs: Rootfs) -> None:
    path, _ = wheel_file(rootfs.work, "tinya", "1.1")
    pip_install(rootfs.root, path)


def test_collect_plans_from_the_fingerprint(lock_cli, rootfs: Rootfs, tmp_path: Path) -> None:
    assert same_verdict(lock_cli, rootfs, tmp_path) == (0, "clean", [])
    drift_a_wheel(rootfs)
    code, status, findings = same_verdict(lock_cli, rootfs, tmp_path)
    assert (code, status) == (1, "drifted")
    assert [(f["kind"], f["subject"]) for f in findings] == [("changed-version", "tinya")]


def test_naming_model_folders_still_lists_the_venv(lock_cli, rootfs: Rootfs, tmp_path: Path) -> None:
    drift_a_wheel(rootfs)
    code, _, findings = same_verdict(lock_cli, rootfs, tmp_path, "--models", MODELS)
    assert code == 1 and [f["subject"] for f in findings] == ["tinya"]


def test_without_a_fingerprint_collect_finds_the_venv_or_takes_the_lock(
    lock_cli, rootfs: Rootfs, tmp_path: Path
) -> None:
    shutil.rmtree(rootfs.path("/etc/imagelock"))  # built before fingerprints, or by hand from the lock
    drift_a_wheel(rootfs)
    # the venv where imagelock puts venvs (/opt/venvs/ai) is found; the model folder is the lock's to name
    collected = lock_cli("collect", "--root", str(rootfs.root))
    assert collected.code == 0 and json.loads(collected.out)["python"]["venv"] == "/opt/venvs/ai"
    (tmp_path / "plain.json").write_text(collected.out)
    run = lock_cli("drift", str(rootfs.lock_path), "--facts", str(tmp_path / "plain.json"))
    assert run.code == 2 and run.out == ""
    assert run.err.rstrip().endswith(
        f"the lock has model folder {MODELS} but the facts do not list it; "
        f"collect with `lock collect --lock LOCK` (or `--models {MODELS}`)"
    )
    for args in (("--models", MODELS), ("--lock", str(rootfs.lock_path))):
        code, status, findings = same_verdict(lock_cli, rootfs, tmp_path, *args)
        assert (code, status) == (1, "drifted")
        assert ("changed-version", "tinya") in [(f["kind"], f["subject"]) for f in findings]
        assert ("missing", "fingerprint") in [(f["kind"], f["subject"]) for f in findings]
    facts = json.loads(lock_cli("collect", "--root", str(rootfs.root), "--lock", str(rootfs.lock_path)).out)
    assert facts["python"]["venv"] == "/opt/venvs/ai" and facts["models"][0]["dest"] == MODELS


def test_collect_refuses_an_edited_lock(lock_cli, rootfs: Rootfs) -> None:
    edited = rootfs.work / "edited.lock"
    edited.write_text(rootfs.lock_path.read_text().replace('version = "2.1"', 'version = "2.2"'))
    run = lock_cli("collect", "--root", str(rootfs.root), "--lock", str(edited))
    assert run.code == 2 and run.out == ""
    assert run.err.startswith(f"lock: error: {edited}: ") and run.err.rstrip().endswith("nothing was collected")


def test_the_collector_plans_from_the_fingerprint_without_tomllib(rootfs: Rootfs, monkeypatch) -> None:
    """On an image whose python3 is older than 3.11 (no tomllib) the fingerprint still names the venv and models."""
    table = collector.scan_lock(rootfs.path("/etc/imagelock/lock.toml").read_text())
    assert table["python"]["venv"] == "/opt/venvs/ai"
    assert [m["dest"] for m in table["models"]] == [MODELS]
    monkeypatch.setitem(__import__("sys").modules, "tomllib", None)  # `import tomllib` raises ImportError
    assert collector.planned_from_fingerprint(str(rootfs.root)) == ("/opt/venvs/ai", [MODELS])
