"""The base image's kernel is not verified; a pre-release interpreter in the Python layer."""

from __future__ import annotations

import dataclasses

import pytest
from findings_support import seed_intent, seed_lock, subjects

from imagelock.domains.base import findings as base_findings
from imagelock.domains.python import findings as python_findings


def test_no_kernel_layer_means_nothing_to_verify() -> None:
    lock = seed_lock()
    lock.kernel = None
    assert base_findings.findings(lock, seed_intent()) == []


def test_the_linux_aws_fact_is_said_only_of_canonicals_images() -> None:
    lock = seed_lock()
    lock.base.amis[0].owner = "123456789012"
    [finding] = base_findings.findings(lock, seed_intent())
    assert finding.what == (
        "nothing proves it boots the locked kernel 5.15.0-105-generic: the lock records no package manifest for "
        "it; the build makes it GRUB's default, reboots into it, and stops unless `uname -r` then names it "
        "(bootstrap.sh --booted)"
    )


def test_a_lock_that_installs_into_a_system_but_holds_no_base_image_says_so() -> None:
    lock = seed_lock()
    lock.base = None
    [finding] = base_findings.findings(lock, seed_intent())
    assert (finding.kind, finding.subject) == ("not reproducible", "base image")
    assert finding.what.startswith("the lock holds no base image under its apt, kernel, nvidia layers: the generated")


def test_a_lock_of_models_alone_needs_no_base_image() -> None:
    lock = seed_lock()
    lock.base = None
    for name in ("apt", "kernel", "nvidia", "python"):
        lock.layers.pop(name, None)
    assert base_findings.findings(lock, seed_intent()) == []


def _with_manifest(kernels: list[str]):
    lock = seed_lock()
    lock.apt.base_manifest_sha256 = "0" * 64
    lock.apt.base_kernels = kernels
    return lock


def test_a_base_manifest_with_another_kernel_is_named_with_both_kernels() -> None:
    """Canonical's jammy EC2 images boot linux-aws: the manifest says which, and the locked -generic differs."""
    [finding] = base_findings.findings(_with_manifest(["5.15.0-1051-aws"]), seed_intent())
    assert finding.subject == "base ami-0f244b28200b93640 (eu-west-2)"
    assert finding.what.startswith(
        "its package manifest lists 5.15.0-1051-aws, not the locked kernel 5.15.0-105-generic: the image boots "
        "another kernel until the build switches it; the build makes it GRUB's default"
    )
    assert finding.fix.startswith('lock the kernel the base boots ([kernel] version = "5.15.0-1051-aws")')


def test_a_base_manifest_holding_the_locked_kernel_leaves_nothing_to_verify() -> None:
    assert base_findings.findings(_with_manifest(["5.15.0-1051-aws", "5.15.0-105-generic"]), seed_intent()) == []


def test_the_base_kernels_are_read_from_the_listing_not_its_metapackages() -> None:
    from imagelock.domains.apt.closure import Installed
    from imagelock.domains.apt.layer import base_kernels

    listing = [
        Installed(name=name, version="1", arch="amd64", provides="")
        for name in (
            "linux-image-aws",
            "linux-image-5.15.0-1051-aws",
            "linux-aws",
            "linux-image-unsigned-6.8.0-1009-aws",
            "linux-modules-5.15.0-1051-aws",
            "linux-image-virtual",
        )
    ]
    assert base_kernels(listing) == ["5.15.0-1051-aws", "6.8.0-1009-aws"]


@pytest.mark.parametrize(
    ("version", "fires"),
    [("3.11", False), ("3.11.9", False), ("3.14.0rc1", True), ("3.13.0b2", True), ("not-a-version", False)],
)
def test_a_pre_release_interpreter_in_the_python_layer(version: str, fires: bool) -> None:
    lock = seed_lock()
    lock.python = dataclasses.replace(lock.python, version=version)
    found = python_findings.findings(lock, seed_intent())
    assert subjects(found) == ([f"pre-release: python interpreter {version}"] if fires else [])
