"""The driver module can be built for the booted kernel: its headers, one version, dkms."""

from __future__ import annotations

from imagelock.lock.model import Lock
from imagelock.rules import Targets, evaluate
from rules.recorded import RUNFILE_12_4_1, apt_layer, bookworm_kernel, bookworm_kernel_debs, runfile


def _kernel_lock(lock: Lock) -> Lock:
    lock.apt = apt_layer(bookworm_kernel_debs())
    lock.kernel = bookworm_kernel()
    lock.nvidia = runfile(*RUNFILE_12_4_1)
    return lock


def test_recorded_bookworm_kernel_with_headers_and_dkms_passes(seed_lock: Lock) -> None:
    assert evaluate(_kernel_lock(seed_lock), Targets()).findings == []


def test_headers_missing_for_the_locked_kernel(seed_lock: Lock) -> None:
    lock = _kernel_lock(seed_lock)
    assert lock.apt is not None
    lock.apt.packages = [p for p in lock.apt.packages if p.name != "linux-headers-6.1.0-50-amd64"]
    [finding] = evaluate(lock, Targets()).violations
    assert finding.rule == "kernel-headers"
    assert finding.facts == [
        "the kernel layer pins 6.1.0-50-amd64",
        "the apt layer has no linux-headers-6.1.0-50-amd64",
    ]


def test_kernel_layer_and_apt_layer_disagree_on_the_abi(seed_lock: Lock) -> None:
    lock = _kernel_lock(seed_lock)
    lock.kernel = bookworm_kernel("6.1.0-49")
    rules = [(f.rule, f.subject) for f in evaluate(lock, Targets()).violations]
    assert rules == [
        ("kernel-headers", "kernel 6.1.0-49-amd64"),
        ("kernel-headers", "linux-image-6.1.0-50-amd64 6.1.176-1"),
    ]


def test_image_and_headers_of_different_versions(seed_lock: Lock) -> None:
    lock = _kernel_lock(seed_lock)
    assert lock.apt is not None
    headers = next(p for p in lock.apt.packages if p.name == "linux-headers-6.1.0-50-amd64")
    headers.version = "6.1.170-1"
    [finding] = evaluate(lock, Targets()).violations
    assert "one source version" in finding.facts[0]


def test_dkms_install_without_dkms(seed_lock: Lock) -> None:
    lock = _kernel_lock(seed_lock)
    assert lock.apt is not None
    lock.apt.packages = [p for p in lock.apt.packages if p.name != "dkms"]
    [finding] = evaluate(lock, Targets()).violations
    assert (finding.rule, finding.fix) == ("kernel-dkms", "add dkms to [apt] packages")
