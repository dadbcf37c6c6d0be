"""The seed's stack with its Qwen3 model: the architecture violation, through `lock check` and `lock update`."""

from __future__ import annotations

from pathlib import Path

import pytest
from imagelock_testing import SEED_SNAPSHOT, tree_digest, with_seed_keys

from imagelock import domains
from imagelock.rules import Targets, evaluate
from rules.recorded import (
    QWEN3_INTENT,
    QWEN3_LOCK,
    QWEN3_MODELS,
    RUNFILE_12_2_2,
    load,
    python_intent,
    qwen3_model,
    runfile,
    seed_intent_with,
    write_lock,
)


def test_seed_lock_with_qwen3_fails_lock_check(tmp_path: Path, seed_lock, lock_cli) -> None:
    intent = seed_intent_with(tmp_path, QWEN3_MODELS)
    seed_lock.models = [qwen3_model()]
    seed_lock.intent_sha256 = domains.read_intent(intent).sha256
    lock = write_lock(tmp_path / "seed.lock", seed_lock)
    run = lock_cli("check", str(intent), "--lock", str(lock))
    assert run.code == 1, run.out
    verdict, *findings = run.out.splitlines()
    assert verdict == (
        f"{lock}: incompatible: [model-architecture] Qwen/Qwen3-4B-AWQ on vllm 0.6.6.post1: "
        "Qwen/Qwen3-4B-AWQ@main config.json architectures: Qwen3ForCausalLM; "
        "vllm 0.6.6.post1's model registry has no Qwen3ForCausalLM; "
        "fix: require vllm>=0.8.4 (the first recorded release that lists Qwen3ForCausalLM; it may pin another torch)"
    )
    # qwen3_model() pins only the weights: the other files the intent asks for are findings, not violations
    assert all(line.startswith(f"{lock}: not verified: models Qwen/Qwen3-4B-AWQ: ") for line in findings)


def test_corrected_qwen3_lock_passes_lock_check(tmp_path: Path, qwen3_lock, lock_cli) -> None:
    intent = tmp_path / "seed-qwen3.toml"
    intent.write_text(python_intent(QWEN3_INTENT) + "\n" + QWEN3_MODELS)
    qwen3_lock.models = [qwen3_model()]
    qwen3_lock.intent_sha256 = domains.read_intent(intent).sha256
    lock = write_lock(tmp_path / "seed-qwen3.lock", qwen3_lock)
    run = lock_cli("check", str(intent), "--lock", str(lock))
    assert (run.code, run.out.splitlines()[0]) == (0, f"{lock}: fresh (image {qwen3_lock.image_name()})")


def test_every_violation_is_reported_at_once(seed_lock) -> None:
    """The seed's stack on a K80 instance, a CUDA 12.2 driver and the Qwen3 model: four violations, one report."""
    seed_lock.models = [qwen3_model()]
    seed_lock.nvidia = runfile(*RUNFILE_12_2_2)
    report = evaluate(seed_lock, Targets(["g5.xlarge", "p2.xlarge"]))
    assert [f.rule for f in report.violations] == ["driver", "gpu-arch", "gpu-vllm", "model-architecture"]
    lines = report.lines()
    assert lines[0] == "1. [driver] torch 2.5.1+cu124"
    assert sum(1 for line in lines if line.strip().startswith("fix:")) == 4


def _refused_update(lock_cli, folder: Path, intent: Path) -> list[str]:
    """`lock update` from the seed snapshot that must answer no (exit 1) and write nothing; its lines."""
    before = tree_digest(folder)
    run = lock_cli("update", str(intent), "--replay", str(SEED_SNAPSHOT))
    assert run.code == 1, (run.out, run.err)
    assert tree_digest(folder) == before
    return run.out.splitlines()


def test_update_refuses_to_write_an_incompatible_lock(
    tmp_path: Path, lock_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lock whose driver is too old for its torch build is not written; the report says why."""
    intent = seed_intent_with(tmp_path, '[nvidia]\ncuda = "12.2.2"\n')
    # The NVIDIA domain lives on its own branch; here it answers from its recorded catalog row.
    monkeypatch.setattr("imagelock.domains.nvidia.layer.resolve", lambda ctx: runfile(*RUNFILE_12_2_2))
    lines = _refused_update(lock_cli, tmp_path, intent)
    assert lines[0] == f"{intent}: 1 cross-layer violation; nothing was written"
    assert lines[1] == "1. [driver] torch 2.5.1+cu124"
    assert "needs CUDA 12.4.0 and so NVIDIA driver >= 550.54.14" in lines[2]


def test_update_writes_a_compatible_lock_with_its_version(
    tmp_path: Path, lock_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    intent = seed_intent_with(tmp_path, '[nvidia]\ncuda = "12.4.1"\n')
    monkeypatch.setattr(
        "imagelock.domains.nvidia.layer.resolve", lambda ctx: runfile("12.4.1", "550.54.15", 4454730420)
    )
    run = lock_cli("update", str(intent), "--replay", str(SEED_SNAPSHOT))
    assert run.code == 0, (run.out, run.err)
    written = load(tmp_path / "seed.lock")
    assert written.version == "1.0.0"
    assert written.nvidia is not None and written.nvidia.driver_version == "550.54.15"


SEED_ORIGINAL = Path(__file__).resolve().parents[1] / "fixtures" / "intents" / "seed-original.toml"


def test_seed_original_intent_gets_one_report_of_conflicts_and_violations(
    tmp_path: Path, lock_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handbook's pins as written, with its Qwen3 model: the Python conflicts and the architecture violation."""
    intent = tmp_path / "seed-original.toml"
    intent.write_text(SEED_ORIGINAL.read_text() + "\n" + QWEN3_MODELS)
    # The models domain lives on its own branch; here it answers with the model's recorded architecture.
    monkeypatch.setattr("imagelock.domains.models.layer.resolve", lambda ctx: [qwen3_model()])
    lines = _refused_update(lock_cli, tmp_path, intent)
    assert lines[0] == f"{intent}: python: 4 conflicts; 1 cross-layer violation; nothing was written"
    assert "1. torch==2.6.0+cu124 and vllm==0.6.6.post1 cannot be installed together" in lines
    at = lines.index("cross-layer (judged on what did resolve and on the intent's exact pins):")
    assert lines[at + 1] == "1. [model-architecture] Qwen/Qwen3-4B-AWQ on vllm 0.6.6.post1"
    assert any(line.strip().startswith("fix: require vllm>=0.8.4") for line in lines[at:])


def test_corrected_qwen3_lock_is_what_its_snapshot_resolves_to(tmp_path: Path, lock_cli) -> None:
    """The committed fixture is reproducible: vllm 0.8.4 with the torch 2.6.0 line, from the recorded answers."""
    from rules.recorded import QWEN3_INTENT, ROOT

    intent = with_seed_keys(tmp_path) / "seed-qwen3.toml"
    intent.write_text(QWEN3_INTENT.read_text())
    run = lock_cli("update", str(intent), "--replay", str(ROOT / "snapshots" / "seed-qwen3"))
    assert run.code == 0, run.err
    assert (tmp_path / "seed-qwen3.lock").read_bytes() == QWEN3_LOCK.read_bytes()
    written = load(tmp_path / "seed-qwen3.lock")
    versions = {p.name: p.version for p in written.python.packages}  # type: ignore[union-attr]
    assert (versions["vllm"], versions["torch"], versions["torchvision"], versions["torchaudio"]) == (
        "0.8.4",
        "2.6.0+cu124",
        "0.21.0+cu124",
        "2.6.0+cu124",
    )


def test_check_prints_notes_without_failing(tmp_path: Path, lock_cli) -> None:
    """What a rule cannot decide is said, and does not fail the lock."""
    from rules.recorded import SEED_INTENT, SEED_LOCK

    seed_lock = load(SEED_LOCK)
    audio = next(p for p in seed_lock.python.packages if p.name == "torchaudio")
    audio.version, audio.index = "2.5.1", "pypi"
    lock = write_lock(tmp_path / "seed.lock", seed_lock)
    run = lock_cli("check", str(SEED_INTENT), "--lock", str(lock), "--json")
    import json

    data = json.loads(run.out)
    assert run.code == 0 and data["ok"] is True and data["problems"] == []
    [note] = data["notes"]
    assert note.startswith("not checked: [torch-flavour] torchaudio 2.5.1 with torch 2.5.1+cu124: ")


def test_update_json_reports_version_and_what_moved(tmp_path: Path, lock_cli) -> None:
    import json

    intent = seed_intent_with(tmp_path, "")
    run = lock_cli("update", str(intent), "--replay", str(SEED_SNAPSHOT), "--json")
    data = json.loads(run.out)
    assert (run.code, data["version"], data["diff"]["version"]) == (0, "1.0.0", {"old": None, "new": "1.0.0"})
    assert len(data["diff"]["layers"]["python"]) == 134  # a first lock adds the interpreter and 133 packages


def test_a_lone_refusal_keeps_its_own_words(tmp_path: Path, lock_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """A layer's "no" without cross-layer violations is printed exactly as that layer said it."""
    from imagelock.errors import AnswerIsNo

    def refuse(ctx: object) -> None:
        raise AnswerIsNo("nvidia: no runfile for CUDA 12.7", ["CUDA went from 12.6 to 12.8"])

    monkeypatch.setattr("imagelock.domains.nvidia.layer.resolve", refuse)
    intent = seed_intent_with(tmp_path, '[nvidia]\ncuda = "12.7"\n')
    assert _refused_update(lock_cli, tmp_path, intent) == [
        "nvidia: no runfile for CUDA 12.7",
        "CUDA went from 12.6 to 12.8",
    ]


def test_qwen3_from_the_recorded_hub_is_refused_beside_vllm_0661(tmp_path: Path, lock_cli) -> None:
    """End to end: the recorded config.json says Qwen3ForCausalLM, and vllm 0.6.6.post1 cannot load it."""
    from rules.recorded import SEED_INTENT

    intent = with_seed_keys(tmp_path) / "seed.toml"
    intent.write_text(
        SEED_INTENT.read_text() + '\n[[models]]\nrepo = "Qwen/Qwen3-4B-AWQ"\n'
        'revision = "74d4bd2bd4bff9cafc9345221320bffb08b406a3"\n'
        'files = ["model.safetensors", "config.json"]\ndest = "/workspace/models/qwen/Qwen3-4B-AWQ"\n'
    )
    lines = _refused_update(lock_cli, tmp_path, intent)
    assert lines[:4] == [
        f"{intent}: 1 cross-layer violation; nothing was written",
        "1. [model-architecture] Qwen/Qwen3-4B-AWQ on vllm 0.6.6.post1",
        "     Qwen/Qwen3-4B-AWQ@74d4bd2bd4bf config.json architectures: Qwen3ForCausalLM",
        "     vllm 0.6.6.post1's model registry has no Qwen3ForCausalLM",
    ]


def test_the_corrected_qwen3_image_has_its_architecture_checked(qwen3_lock) -> None:
    from rules.recorded import QWEN3_LOCK

    lock = load(QWEN3_LOCK)
    qwen = next(m for m in lock.models if m.repo == "Qwen/Qwen3-4B-AWQ")
    assert qwen.architectures == ["Qwen3ForCausalLM"]
    report = evaluate(lock, Targets())
    assert [f for f in report.findings if f.rule == "model-architecture"] == []
