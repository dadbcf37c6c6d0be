"""The seed example end to end: the corrected intent locks, the original pins conflict."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from imagelock_testing import ROOT, SEED_SNAPSHOT, tree_digest, with_seed_keys

SEED_INTENT = ROOT / "locks" / "seed.toml"
SEED_LOCK = ROOT / "locks" / "seed.lock"
ORIGINAL = ROOT / "tests" / "fixtures" / "intents" / "seed-original.toml"


def test_seed_locks_torch_251_with_vllm_0661(tmp_path: Path, lock_cli) -> None:
    intent = with_seed_keys(tmp_path) / "seed.toml"
    shutil.copy(SEED_INTENT, intent)
    run = lock_cli("update", str(intent), "--replay", str(SEED_SNAPSHOT))
    assert run.code == 0, run.err
    lock = tomllib.loads((tmp_path / "seed.lock").read_text())
    packages = {p["name"]: p for p in lock["python"]["packages"]}
    assert packages["torch"]["version"] == "2.5.1+cu124"
    assert packages["torch"]["index"] == "pytorch-cu124"
    assert packages["vllm"]["version"] == "0.6.6.post1"
    assert packages["vllm"]["index"] == "pypi"
    assert "torch" in packages["xformers"]["dependencies"]
    assert "torch" in packages["vllm"]["dependencies"]
    # the real cu124 wheel, and only the one wheel the target installs
    assert packages["torch"]["wheel"]["sha256"] == "6b2966ede9affe2fd69e0765691ca723ec870e0c34c7761f4d5b8e318383fdaf"
    assert packages["torch"]["wheel"]["url"].endswith("/cu124/torch-2.5.1%2Bcu124-cp311-cp311-linux_x86_64.whl")
    assert packages["pip"]["version"] == "24.1.2" and packages["pip"]["requested"] is True
    assert packages["pip"]["original"] == "pip==24.1.2"
    # nothing else came from the CUDA index
    assert {n for n, p in packages.items() if p["index"] != "pypi"} == {"torch", "torchvision", "torchaudio"}
    # the committed example is exactly what the update writes
    assert (tmp_path / "seed.lock").read_bytes() == SEED_LOCK.read_bytes()


def test_unchanged_answers_rewrite_the_lock_byte_identically(tmp_path: Path, lock_cli) -> None:
    intent = with_seed_keys(tmp_path) / "seed.toml"
    shutil.copy(SEED_INTENT, intent)
    shutil.copy(SEED_LOCK, tmp_path / "seed.lock")
    before = (tmp_path / "seed.lock").stat().st_mtime_ns
    run = lock_cli("update", str(intent), "--replay", str(SEED_SNAPSHOT))
    assert run.code == 0
    assert run.out.startswith("unchanged")
    assert (tmp_path / "seed.lock").stat().st_mtime_ns == before


def test_original_seed_pins_report_every_conflict_with_fixes(tmp_path: Path, lock_cli) -> None:
    intent = tmp_path / "seed.toml"
    shutil.copy(ORIGINAL, intent)
    before = tree_digest(tmp_path)
    run = lock_cli("update", str(intent), "--replay", str(SEED_SNAPSHOT))
    assert run.code == 1
    assert tree_digest(tmp_path) == before, "a failed update must write nothing"
    out = run.out
    assert "4 conflicts; nothing was written" in out
    assert "torch==2.6.0+cu124 and vllm==0.6.6.post1 cannot be installed together" in out
    assert "vllm==0.6.6.post1 requires torch==2.5.1; you asked for torch==2.6.0+cu124" in out
    assert "torchvision==0.21.0+cu124 and vllm==0.6.6.post1 cannot be installed together" in out
    assert (
        "vllm==0.6.6.post1 requires transformers>=4.45.2, which requires huggingface-hub>=0.23.2; "
        "you asked for huggingface-hub==0.20.3"
    ) in out
    assert "fix: torch 2.5.1+cu124 works with vllm==0.6.6.post1" in out
    assert "fix: vllm 0.8.3 works with torch==2.6.0+cu124" in out
    assert "fix: torchvision 0.20.1+cu124 works with vllm==0.6.6.post1" in out


def test_dry_run_writes_nothing(tmp_path: Path, lock_cli) -> None:
    intent = with_seed_keys(tmp_path) / "seed.toml"
    shutil.copy(SEED_INTENT, intent)
    run = lock_cli("update", str(intent), "--replay", str(SEED_SNAPSHOT), "--dry-run", "--json")
    assert run.code == 0
    assert '"changed": true' in run.out
    assert not (tmp_path / "seed.lock").exists()
