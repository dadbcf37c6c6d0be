"""The base image's stated facts against the lock: its instance families, and its driver for torch's CUDA."""

from __future__ import annotations

import pytest

from imagelock.domains.base.facts import stated
from imagelock.lock.model import BaseAmi, BaseLayer, Lock
from imagelock.rules import Targets, evaluate
from imagelock.rules.base_image import supports
from rules.recorded import RUNFILE_12_4_1, runfile

# Public wordings (imagelock/domains/base/facts.py names where each was seen).
PCLUSTER = (
    "AWS ParallelCluster AMI for alinux2, kernel-4.14.203-156.332.amzn2.x86_64, "
    "lustre-client-2.10.8-5.amzn2.x86_64, nice-dcv-server-2020.2.9662-1.el7.x86_64, slurm-20.02.4, nvidia-450.80.02"
)
DLAMI_AL2 = (
    "Supported EC2 instances: G4dn, G5, G6, Gr6, P4d, P4de, P5. PyTorch-2.1, TensorFlow-2.16. "
    "Release notes: https://docs.aws.amazon.com/dlami/latest/devguide/appendix-ami-release-notes.html"
)


def _base(name: str, description: str, regions: tuple[str, ...] = ("us-east-1",)) -> BaseLayer:
    facts = stated(name, description)
    amis = [
        BaseAmi(
            region=region,
            id=f"ami-0{i:016x}",
            name=name,
            creation_date="2024-05-22T09:42:47Z",
            owner="898082745236",
            description=description,
            nvidia_driver=facts.nvidia_driver,
            cuda=facts.cuda,
            supported_instances=facts.supported_instances,
        )
        for i, region in enumerate(regions)
    ]
    return BaseLayer(image=name, amis=amis, owner="amazon")


def _findings(lock: Lock, *instance_types: str, rule: str) -> list:
    return [f for f in evaluate(lock, Targets(list(instance_types))).findings if f.rule == rule]


def test_a_target_family_the_image_does_not_list_is_reported(seed_lock: Lock) -> None:
    seed_lock.base = _base("Deep Learning OSS Nvidia Driver AMI (Amazon Linux 2) Version 78.2", DLAMI_AL2)
    assert _findings(seed_lock, "g5.xlarge", "p4d.24xlarge", rule="base") == []
    [finding] = _findings(seed_lock, "g5.xlarge", "g6e.2xlarge", rule="base")
    assert finding.subject == "g6e.2xlarge"
    assert (
        finding.facts[1] == "g6e.2xlarge is of family g6e, which it does not list (ami-00000000000000000 (us-east-1))"
    )
    assert "Supported EC2 instances" in finding.source and not finding.unchecked


def test_an_image_that_lists_nothing_is_not_judged(seed_lock: Lock) -> None:
    seed_lock.base = _base("al2023-ami-2023.2.20231016.0-kernel-6.1-x86_64", "Amazon Linux 2023 AMI 2023.2.20231016.0")
    assert _findings(seed_lock, "g6e.2xlarge", rule="base") == []


@pytest.mark.parametrize(
    ("listed", "family", "expected"),
    [
        (["p4", "p5"], "p4d", True),  # "P4" is no family itself: it covers p4d and p4de
        (["p4d"], "p4de", False),  # p4d is a family: it does not cover p4de
        (["g6"], "g6e", False),
        (["g4dn"], "g4dn", True),
    ],
)
def test_loose_names_cover_the_families_they_begin(listed: list[str], family: str, expected: bool) -> None:
    assert supports(listed, family) is expected


def test_the_image_s_own_driver_must_serve_torch_s_cuda(seed_lock: Lock) -> None:
    # seed_lock's torch is 2.5.1+cu124: CUDA 12.4 needs driver >= 550.54.14; the image states 450.80.02
    seed_lock.base = _base(
        "aws-parallelcluster-3.7.0-amzn2-hvm-x86_64-202309151532", PCLUSTER, ("us-east-1", "us-west-2")
    )
    [finding] = _findings(seed_lock, rule="driver")
    assert finding.subject == "torch 2.5.1+cu124"
    assert finding.facts == [
        "torch 2.5.1+cu124 needs CUDA 12.4.0 and so NVIDIA driver >= 550.54.14",
        "the base image aws-parallelcluster-3.7.0-amzn2-hvm-x86_64-202309151532 states NVIDIA driver 450.80.02 "
        "(ami-00000000000000000 (us-east-1), ami-00000000000000001 (us-west-2)), and the lock installs no other",
    ]
    assert "Table 3" in finding.source


def test_a_new_enough_image_driver_passes(seed_lock: Lock) -> None:
    seed_lock.base = _base("x", "NVIDIA driver version: 550.127.05\nCUDA versions available: cuda-12.4")
    assert seed_lock.base.amis[0].nvidia_driver == "550.127.05" and seed_lock.base.amis[0].cuda == ["12.4"]
    assert _findings(seed_lock, rule="driver") == []


def test_a_locked_runfile_replaces_the_image_s_driver(seed_lock: Lock) -> None:
    seed_lock.base = _base("aws-parallelcluster-3.7.0-amzn2-hvm-x86_64-202309151532", PCLUSTER)
    seed_lock.nvidia = runfile(*RUNFILE_12_4_1)
    assert _findings(seed_lock, rule="driver") == []


@pytest.mark.parametrize(
    ("name", "description", "driver", "cuda", "os"),
    [
        ("pcluster1 2021-03-02T21-28-19.945Z", PCLUSTER, "450.80.02", [], "amazon-linux 2"),
        ("Deep Learning AMI GPU CUDA 11.4.3 (Amazon Linux 2) 20220101", "", None, ["11.4.3"], "amazon-linux 2"),
        # a branch or a series is not a version: nothing is recorded
        ("x", "NVIDIA driver 550.x, CUDA 12.x", None, [], None),
        ("x", "cuda-12.2.20230626, nvidia-535.54.03", "535.54.03", ["12.2"], None),
        ("Deep Learning Base AMI with Single CUDA (Amazon Linux 2023) 20251219", "", None, [], "amazon-linux 2023"),
        ("ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20240126", "", None, [], "ubuntu 22.04"),
        ("debian-12-amd64-20240717-1811", "", None, [], "debian 12"),
    ],
)
def test_only_what_is_stated_is_read(name: str, description: str, driver, cuda, os) -> None:
    facts = stated(name, description)
    assert (facts.nvidia_driver, facts.cuda, facts.os) == (driver, cuda, os)
