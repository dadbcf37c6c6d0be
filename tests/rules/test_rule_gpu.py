"""The GPUs behind the intent's instance types: in torch's arch list, and vLLM's 7.0 minimum."""

from __future__ import annotations

import pytest

from imagelock.errors import InputError
from imagelock.lock.model import Lock
from imagelock.rules import Targets, evaluate, gpu


@pytest.mark.parametrize(
    "instance", ["g4dn.xlarge", "g5.xlarge", "g6.2xlarge", "g6e.xlarge", "p4d.24xlarge", "p5.48xlarge", "p3.2xlarge"]
)
def test_seed_lock_runs_on_current_gpu_families(seed_lock: Lock, instance: str) -> None:
    assert evaluate(seed_lock, Targets([instance])).findings == []


def test_k80_is_outside_cu124_builds_and_below_vllm_minimum(seed_lock: Lock) -> None:
    report = evaluate(seed_lock, Targets(["g5.xlarge", "p2.xlarge"]))
    arch, minimum = report.violations
    assert (arch.rule, arch.subject) == ("gpu-arch", "torch 2.5.1+cu124 on p2.xlarge")
    assert arch.facts == [
        "p2.xlarge has an NVIDIA K80, compute capability 3.7",
        "torch cu124 wheels carry code for 5.0, 6.0, 7.0, 7.5, 8.0, 8.6, 9.0 only",
    ]
    assert arch.fix == "use a cu118 torch build"
    assert (minimum.rule, minimum.subject) == ("gpu-vllm", "vllm 0.6.6.post1 on p2.xlarge")
    assert "vLLM needs compute capability 7.0 or higher" in minimum.facts


def test_m60_has_torch_code_but_not_vllm_support(seed_lock: Lock) -> None:
    report = evaluate(seed_lock, Targets(["g3.4xlarge"]))
    assert [f.rule for f in report.violations] == ["gpu-vllm"]


def test_binary_compatibility_within_a_major_only() -> None:
    arches = gpu.TORCH_ARCHES["cu124"]
    assert gpu.runs_on(arches, (8, 9))  # sm_86 code runs on an 8.9 GPU
    assert not gpu.runs_on(arches, (10, 0))  # nothing for Blackwell
    assert not gpu.runs_on(arches, (3, 7))


def test_unknown_instance_family_is_an_input_error(seed_lock: Lock) -> None:
    with pytest.raises(
        InputError,
        match=r"g5x\.xlarge: no NVIDIA GPU recorded for instance family 'g5x' "
        r"\(did you mean 'g5'\?\)",
    ):
        evaluate(seed_lock, Targets(["g5x.xlarge"]))
