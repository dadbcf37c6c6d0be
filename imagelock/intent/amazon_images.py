"""Named Amazon-published base images: `image = "amazon-linux 2023"` -> owner and EC2 name pattern.

Each shortcut is what the teams in the seeds ask DescribeImages for by hand; the
owner is the alias `amazon` (images published by AWS itself), so a look-alike
published by any other account is never considered. Where each pattern comes from:

- `parallelcluster <version>`, `amazon-eks <k8s>`: seed 001's Packer file
  (aws-samples/awsome-distributed-training,
  2.ami_and_containers/1.amazon_machine_image/packer-ami.pkr.hcl @ 30d3ea5226d4),
  `owners = ["amazon"]` with `aws-parallelcluster-${var.parallel_cluster_version}-amzn2-*`
  and `amazon-eks-node-${var.eks_version}-v*`.
- `amazon-linux 2`: seed 001 asks for `amzn2-ami-kernel-5.10-hvm-*`, which matches both
  the `-ebs` and the `-gp2` image of each release (public describe-images output shows
  `amzn2-ami-kernel-5.10-hvm-2.0.20240529.0-x86_64-ebs`); AWS ParallelCluster's own
  tests (aws/aws-parallelcluster, OS_TO_OFFICIAL_AMI_NAME_OWNER_MAP) take the gp2 one,
  `amzn2-ami-kernel-5.10-hvm-*.*.*.*-*-gp2`, owners `amazon`, and so does this.
- `amazon-linux 2023`: `al2023-ami-2023.*-kernel-6.1-x86_64` with owner `amazon`
  (account 137112412989), quoted by many public Terraform files for the AL2023
  standard image (e.g. a `data "aws_ami" "al2023"` block with `owners = ["137112412989"]`).
- `amazon-eks-gpu <k8s>`, and arm64 `amazon-eks-arm64-node-…`: the EKS AL2 AMI
  changelog and public `amictl get eks` output list `amazon-eks-gpu-node-1.27-v20230607`
  (x86_64) beside `amazon-eks-arm64-node-1.27-v20230607` (arm64).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from imagelock.errors import InputError

AMAZON = "amazon"  # the owner alias of images AWS itself publishes
# Kubernetes versions with Amazon Linux 2 EKS-optimized AMIs.
EKS_VERSIONS = re.compile(r"^1\.(1[6-9]|2[0-9]|3[0-3])$")
PCLUSTER_VERSION = re.compile(r"^3\.\d{1,2}\.\d{1,2}$")
KINDS = ("amazon-linux", "parallelcluster", "amazon-eks", "amazon-eks-gpu")


@dataclass(frozen=True)
class Named:
    """What a shortcut means: who publishes it, the EC2 name filter, and the OS it runs."""

    owner: str
    pattern: str
    os: str


def is_amazon(kind: str) -> bool:
    return kind in KINDS


def os_of(words: list[str]) -> str:
    """The OS of a shortcut's images: AL2023 for `amazon-linux 2023`, Amazon Linux 2 for the others."""
    return "amazon-linux 2023" if words[1:] == ["2023"] else "amazon-linux 2"


def resolve(words: list[str], arch: str, path: Path) -> Named:
    """The owner and name pattern of `amazon-linux 2023`, `parallelcluster 3.7.0`, `amazon-eks 1.29`, …"""
    kind, rest = words[0], words[1:]
    machine = "x86_64" if arch == "amd64" else "arm64"
    if kind == "amazon-linux":
        if rest == ["2023"]:
            return Named(AMAZON, f"al2023-ami-2023.*-kernel-6.1-{machine}", os_of(words))
        if rest == ["2"]:
            return Named(AMAZON, f"amzn2-ami-kernel-5.10-hvm-*-{machine}-gp2", "amazon-linux 2")
        found = " ".join(rest) or "no release"
        raise InputError(path, "base.image", f"unknown Amazon Linux release {found!r}; expected one of: 2, 2023")
    if kind == "parallelcluster":
        if len(rest) != 1 or not PCLUSTER_VERSION.match(rest[0]):
            raise InputError(
                path, "base.image", 'expected a ParallelCluster 3 version after the name, as in "parallelcluster 3.7.0"'
            )
        return Named(AMAZON, f"aws-parallelcluster-{rest[0]}-amzn2-*", "amazon-linux 2")
    if len(rest) != 1 or not EKS_VERSIONS.match(rest[0]):
        raise InputError(path, "base.image", f'expected a Kubernetes version after the name, as in "{kind} 1.29"')
    if kind == "amazon-eks-gpu":
        if arch != "amd64":
            raise InputError(path, "base.arch", "the EKS GPU images are published for amd64 only")
        return Named(AMAZON, f"amazon-eks-gpu-node-{rest[0]}-v*", "amazon-linux 2")
    node = "amazon-eks-node" if arch == "amd64" else "amazon-eks-arm64-node"
    return Named(AMAZON, f"{node}-{rest[0]}-v*", "amazon-linux 2")
