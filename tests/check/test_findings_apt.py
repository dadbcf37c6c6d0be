"""The apt layer's findings: read live, read after the cutoff, a pre-release interpreter, another driver."""

from __future__ import annotations

import dataclasses

import pytest
from findings_support import seed_intent, seed_lock, subjects

from imagelock.domains.apt import findings
from imagelock.lock.model import AptPackage, Mirror


def _package(name: str, version: str, requested: bool = False) -> AptPackage:
    return AptPackage(
        name, version, "amd64", f"pool/x/{name}_{version}_amd64.deb", "0" * 64, 1000, "jammy-updates", requested
    )


def test_a_snapshot_or_a_mirror_bounds_the_layer() -> None:
    live = "not reproducible: apt http://archive.ubuntu.com/ubuntu"
    lock = seed_lock()
    assert live in subjects(findings.findings(lock, seed_intent()))
    lock.apt.snapshot = "20250501T000000Z"
    assert live not in subjects(findings.findings(lock, seed_intent()))
    lock = seed_lock()
    lock.mirror = Mirror("s3://bucket/imagelock")
    assert live not in subjects(findings.findings(lock, seed_intent()))


def test_an_unrecorded_release_date_is_said() -> None:
    lock = seed_lock()
    lock.apt.sources[0].date = None
    [live] = [f for f in findings.findings(lock, seed_intent()) if f.subject.startswith("apt http")]
    assert "jammy not recorded, jammy-security 2026-11-20T01:31:16Z" in live.what


@pytest.mark.parametrize(
    ("date", "fires"),
    [
        ("2025-04-30T23:59:59Z", False),
        ("2025-05-01T00:00:00Z", False),  # signed at the cutoff itself is within it
        ("2025-05-01T00:00:01Z", True),
    ],
)
def test_a_release_signed_after_the_cutoff_is_a_finding(date: str, fires: bool) -> None:
    lock = seed_lock()
    for source in lock.apt.sources:
        source.date = "2024-01-01T00:00:00Z"
    lock.apt.sources[2].date = date
    found = [f for f in findings.after_cutoff(lock.apt, lock)]
    assert subjects(found) == (["not reproducible: apt jammy-updates"] if fires else [])


@pytest.mark.parametrize(
    ("version", "stage"),
    [
        ("3.11.0~rc1-1~22.04.1", "a release candidate"),
        ("3.12.0~b2-1", "a beta"),
        ("3.13.0~a4-1", "an alpha"),
        ("3.11.9-1+jammy1", None),
        ("3.10.12-1~22.04.3", None),  # a backport's ~ in the Debian revision is no pre-release
    ],
)
def test_interpreter_stages(version: str, stage: str | None) -> None:
    lock = seed_lock()
    for deb in lock.apt.packages:
        if "python3.11" in deb.name:
            deb.version = version
    found = [f for f in findings.prerelease_interpreters(lock.apt, lock)]
    if stage is None:
        assert found == []
        return
    [finding] = found
    assert finding.subject == f"apt python3.11 {version}"
    assert finding.what.startswith(f"{stage} of Python 3.11, not a final release")


def test_the_venv_is_named_only_when_it_runs_on_the_interpreter() -> None:
    lock = seed_lock()
    lock.python = dataclasses.replace(lock.python, version="3.10")
    [finding] = findings.prerelease_interpreters(lock.apt, lock)
    assert "[python] venv" not in finding.what


def test_a_requested_driver_branch_that_installs_another_is_not_as_asked() -> None:
    lock = seed_lock()
    lock.apt.packages += [
        _package("nvidia-driver-570-server", "570.195.03-0ubuntu0.24.04.1", True),
        _package("nvidia-driver-580-server", "580.95.05-0ubuntu0.24.04.2"),
        _package("libnvidia-compute-580-server", "580.95.05-0ubuntu0.24.04.2"),
    ]
    [finding] = findings.driver_branches(lock.apt, lock)
    assert finding.kind == "not as asked"
    assert finding.subject == "apt nvidia-driver-570-server 570.195.03-0ubuntu0.24.04.1"
    assert "branch 580: libnvidia-compute-580-server, nvidia-driver-580-server" in finding.what
    assert "`lock why nvidia-driver-580-server`" in finding.fix


def test_a_driver_with_its_own_branch_is_no_finding() -> None:
    lock = seed_lock()
    lock.apt.packages += [
        _package("nvidia-driver-550", "550.163.01-0ubuntu0.22.04.1", True),
        _package("libnvidia-compute-550", "550.163.01-0ubuntu0.22.04.1"),
        _package("nvidia-firmware-550-550.163.01", "550.163.01-0ubuntu0.22.04.1"),
    ]
    assert list(findings.driver_branches(lock.apt, lock)) == []


def test_an_apt_driver_beside_the_runfile_s_is_two_drivers() -> None:
    """The seed's runfile installs 550; an apt layer that also pulls 580's packages holds two drivers."""
    from imagelock.domains.nvidia import findings as nvidia_findings

    lock = seed_lock()
    assert nvidia_findings.findings(lock, seed_intent()) == []
    lock.apt.packages += [
        _package("libnvidia-compute-550", "550.163.01-0ubuntu0.22.04.1"),  # the runfile's branch: no finding
        _package("libnvidia-compute-580-server", "580.95.05-0ubuntu0.22.04.2"),
    ]
    [finding] = nvidia_findings.findings(lock, seed_intent())
    assert (finding.kind, finding.subject) == ("not as asked", "nvidia cuda_12.4.1_550.54.15_linux.run")
    assert finding.what == (
        "the runfile installs driver 550.54.15 (branch 550), and the apt layer installs another driver's packages "
        "(branch 580: libnvidia-compute-580-server): two drivers in one image"
    )
    assert "`lock why libnvidia-compute-580-server`" in finding.fix
