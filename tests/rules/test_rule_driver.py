"""Driver >= the CUDA minimum of torch's build and of the runfile (NVIDIA release notes, Table 3)."""

from __future__ import annotations

from imagelock.lock.model import Lock
from imagelock.rules import Targets, driver, evaluate
from rules.recorded import RUNFILE_12_2_2, RUNFILE_12_4_1, RUNFILE_12_6_0, runfile


def _driver_findings(lock: Lock) -> list:
    return [f for f in evaluate(lock, Targets()).findings if f.rule == "driver"]


def test_cuda_12_4_1_runfile_serves_torch_cu124(seed_lock: Lock) -> None:
    seed_lock.nvidia = runfile(*RUNFILE_12_4_1)
    assert _driver_findings(seed_lock) == []


def test_cuda_12_2_driver_is_too_old_for_torch_cu124(seed_lock: Lock) -> None:
    seed_lock.nvidia = runfile(*RUNFILE_12_2_2)
    [finding] = _driver_findings(seed_lock)
    assert finding.subject == "torch 2.5.1+cu124"
    assert finding.facts == [
        "torch 2.5.1+cu124 needs CUDA 12.4.0 and so NVIDIA driver >= 550.54.14",
        "the lock installs driver 535.104.05 (cuda_12.2.2_535.104.05_linux.run)",
    ]
    assert finding.fix == (
        "lock a runfile whose driver is >= 550.54.14 (the CUDA 12.4.0 runfile ships 550.54.14), "
        "or torch's cu121 build, which driver 535.104.05 serves"
    )
    assert "Table 3" in finding.source


def test_a_newer_driver_serves_an_older_cuda_build(seed_lock: Lock) -> None:
    seed_lock.nvidia = runfile(*RUNFILE_12_6_0)
    assert _driver_findings(seed_lock) == []


def test_runfile_whose_name_claims_an_older_driver_than_its_cuda_needs(seed_lock: Lock) -> None:
    # The same runfile name with the CUDA 12.4 GA driver: 550.54.14 < 12.4.1's 550.54.15.
    seed_lock.python = None
    seed_lock.nvidia = runfile("12.4.1", "550.54.14", 0)
    [finding] = _driver_findings(seed_lock)
    assert finding.subject == "the runfile's CUDA 12.4.1"
    assert "NVIDIA driver >= 550.54.15" in finding.facts[0]


def test_unrecorded_cuda_release_is_a_note_not_a_pass(seed_lock: Lock) -> None:
    seed_lock.python = None
    seed_lock.nvidia = runfile("12.7.0", "565.57.01", 0)  # CUDA 12.7 was never released
    [finding] = _driver_findings(seed_lock)
    assert finding.unchecked and "no minimum driver recorded for CUDA 12.7.0" in finding.facts[0]


def test_table_matches_the_drivers_the_catalogued_runfiles_bundle() -> None:
    # Each runfile bundles exactly the Table 3 minimum of its release (12.4.1 -> 550.54.15, ...).
    for cuda, bundled, _ in (RUNFILE_12_2_2, RUNFILE_12_4_1, RUNFILE_12_6_0):
        assert driver.minimum_for(cuda) == (cuda, bundled)
    assert driver.minimum_for("12.4") == ("12.4.0", "550.54.14")


def test_pypi_torch_cuda_comes_from_its_runtime_wheel(seed_lock: Lock) -> None:
    # A torch from PyPI has no +cu label; the nvidia-cuda-runtime-cu12 12.4.127 it depends on names CUDA 12.4.
    torch = next(p for p in seed_lock.python.packages if p.name == "torch")  # type: ignore[union-attr]
    torch.version = "2.5.1"
    seed_lock.nvidia = runfile(*RUNFILE_12_2_2)
    [finding] = _driver_findings(seed_lock)
    assert finding.facts[0] == "torch 2.5.1 needs CUDA 12.4.0 and so NVIDIA driver >= 550.54.14"
