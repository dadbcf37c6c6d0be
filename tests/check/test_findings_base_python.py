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
        "nothing proves it boots the locked kernel 5.15.0-105-generic: the lock records no package manifest for it"
    )


@pytest.mark.parametrize(
    ("version", "fires"),
    [("3.11", False), ("3.11.9", False), ("3.14.0rc1", True), ("3.13.0b2", True), ("not-a-version", False)],
)
def test_a_pre_release_interpreter_in_the_python_layer(version: str, fires: bool) -> None:
    lock = seed_lock()
    lock.python = dataclasses.replace(lock.python, version=version)
    found = python_findings.findings(lock, seed_intent())
    assert subjects(found) == ([f"pre-release: python interpreter {version}"] if fires else [])
