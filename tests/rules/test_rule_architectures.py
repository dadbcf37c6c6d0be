"""A model's config.json architecture must be in the pinned vLLM's model registry."""

from __future__ import annotations

from packaging.version import Version

from imagelock.lock.model import Lock
from imagelock.rules import Targets, architectures, evaluate
from rules.recorded import qwen3_model


def test_qwen3_is_unknown_to_vllm_0_6_6_post1(seed_lock: Lock) -> None:
    seed_lock.models = [qwen3_model()]
    [finding] = evaluate(seed_lock, Targets()).violations
    assert finding.rule == "model-architecture"
    assert finding.subject == "Qwen/Qwen3-4B-AWQ on vllm 0.6.6.post1"
    assert finding.facts == [
        "Qwen/Qwen3-4B-AWQ@main config.json architectures: Qwen3ForCausalLM",
        "vllm 0.6.6.post1's model registry has no Qwen3ForCausalLM",
    ]
    assert finding.fix.startswith("require vllm>=0.8.4")


def test_qwen3_loads_on_vllm_0_8_4(qwen3_lock: Lock) -> None:
    qwen3_lock.models = [qwen3_model()]
    assert evaluate(qwen3_lock, Targets()).findings == []


def test_recorded_registries_place_qwen3_first_in_0_8_4() -> None:
    assert architectures.first_supporting("Qwen3ForCausalLM") == Version("0.8.4")
    assert architectures.supported(Version("0.8.3"), "Qwen3ForCausalLM") is False
    assert architectures.supported(Version("0.8.4"), "Qwen3ForCausalLM") is True


def test_between_recorded_releases_only_agreement_decides() -> None:
    # A 0.7.2.post1 would lie between 0.7.2 and 0.7.3, neither of which lists Qwen3: certainly unsupported.
    assert architectures.supported(Version("0.7.2.post1"), "Qwen3ForCausalLM") is False
    # Both neighbours list Qwen2: certainly supported.
    assert architectures.supported(Version("0.7.2.post1"), "Qwen2ForCausalLM") is True
    # 0.8.4.dev lies between 0.8.3 (no) and 0.8.4 (yes): undecided, reported as not checked.
    assert architectures.supported(Version("0.8.4.dev0"), "Qwen3ForCausalLM") is None


def test_undecided_version_is_a_note(seed_lock: Lock) -> None:
    vllm = next(p for p in seed_lock.python.packages if p.name == "vllm")  # type: ignore[union-attr]
    vllm.version = "0.8.4.dev0"
    seed_lock.models = [qwen3_model()]
    report = evaluate(seed_lock, Targets())
    assert report.ok and [f.rule for f in report.unchecked] == ["model-architecture"]
