"""The `[base]` intent section: the base image by name (one AMI per region), by SSM parameter, or by id."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagelock.errors import InputError, did_you_mean
from imagelock.intent import amazon_images
from imagelock.intent.fields import check_keys

# `instance-types` is where the image will run: the GPU rule reads it (imagelock.rules.targets).
KEYS = ("image", "owner", "name", "regions", "arch", "source", "instance-types")
SOURCES = ("describe-images", "ssm")
# Canonical's AWS account for the commercial partition (GovCloud and China use others).
CANONICAL_OWNER = "099720109477"
# Ubuntu release -> (codename, volume type in the image name). From 23.10 on,
# Canonical's server images are named hvm-ssd-gp3.
UBUNTU = {
    "20.04": ("focal", "hvm-ssd"),
    "22.04": ("jammy", "hvm-ssd"),
    "24.04": ("noble", "hvm-ssd-gp3"),
}
EKS_VERSIONS = re.compile(r"^1\.(2[3-9]|3[0-9])$")
ARCHES = {"amd64": "x86_64", "arm64": "arm64"}
_REGION = re.compile(r"^[a-z]{2}-[a-z]+-\d$")
_AMI = re.compile(r"^ami-[0-9a-f]{8}([0-9a-f]{9})?$")
# DescribeImages' Owner.N: an account id or one of these aliases (`self` names the caller, which a lock
# shared between accounts cannot mean).
OWNER_ALIASES = ("amazon", "aws-marketplace")
_ACCOUNT = re.compile(r"^\d{12}$")
# An AMI name (EC2 CreateImage: 3-128 letters, digits, ( ) [ ] space . / - ' @ _), with the name filter's
# wildcards `*`, `?` and its escape `\`.
_NAME = re.compile(r"^[A-Za-z0-9()\[\] ./\-'@_*?\\]{3,128}$")


@dataclass
class BaseIntent:
    image: str
    regions: list[str]
    arch: str
    name_pattern: str | None  # None for a raw AMI id
    ami: str | None
    source: str = "describe-images"
    ssm_parameter: str | None = None
    owner: str = CANONICAL_OWNER  # the account id or alias that must publish the image
    by_name: bool = False  # given as `owner` + `name`: the lock records the owner beside the pattern


_INSTANCE = re.compile(r"^([a-z][a-z0-9-]*)\.([a-z0-9]+)$")


def parse_instance_types(value: Any, path: Path) -> list[str]:
    """`instance-types`: where the image will run, as EC2 names them (the GPU rule judges the families)."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(path, "base.instance-types", 'expected an array of EC2 instance types such as ["g5.xlarge"]')
    for i, name in enumerate(value):
        if not _INSTANCE.match(name):
            raise InputError(
                path, f"base.instance-types[{i}]", f'expected an EC2 instance type such as "g5.xlarge", found {name!r}'
            )
    return list(value)


def parse(table: Any, path: Path) -> BaseIntent | None:
    """The base image to lock; None when the table only says where the image runs (`instance-types`)."""
    where = "base"
    check_keys(table, KEYS, path, where)
    if "instance-types" in table:
        parse_instance_types(table["instance-types"], path)
        if not {"image", "regions", "owner", "name"} & set(table):
            return None
    if "name" in table or "owner" in table:
        return _by_name(table, path)
    image = table.get("image")
    if not isinstance(image, str) or not image.strip():
        raise InputError(
            path,
            f"{where}.image",
            'expected an image such as "ubuntu 22.04", "ubuntu-eks 22.04 1.29" or "ami-0123456789abcdef0"',
        )
    arch, source, regions = _arch(table, path), _source(table, path), _regions(table, path)
    words = image.split()
    if [w.lower() for w in words[:2]] == ["amazon", "linux"]:  # "amazon linux 2023", as people write it
        words = ["amazon-linux", *words[2:]]
    if len(words) == 1 and words[0].startswith("ami-"):
        if not _AMI.match(words[0]):
            raise InputError(
                path, f"{where}.image", f'expected an AMI id such as "ami-0123456789abcdef0", found {image!r}'
            )
        if len(regions) != 1:
            raise InputError(
                path,
                f"{where}.regions",
                f"{words[0]} exists in one region only: name that one "
                'region, or name the image ("ubuntu 22.04") to resolve one AMI per region',
            )
        if source != "describe-images":
            raise InputError(path, f"{where}.source", "an AMI id is taken as it is: leave source out")
        return BaseIntent(image=image, regions=regions, arch=arch, name_pattern=None, ami=words[0])
    if amazon_images.is_amazon(words[0]):
        if source != "describe-images":
            raise InputError(path, f"{where}.source", "Amazon's images are found by owner and name: leave source out")
        named = amazon_images.resolve(words, arch, path)
        return BaseIntent(
            image=" ".join(words),
            regions=regions,
            arch=arch,
            name_pattern=named.pattern,
            ami=None,
            owner=named.owner,
        )
    pattern = _name_pattern(words, arch, path)
    return BaseIntent(
        image=" ".join(words),
        regions=regions,
        arch=arch,
        name_pattern=pattern,
        ami=None,
        source=source,
        ssm_parameter=_ssm_parameter(words, arch) if source == "ssm" else None,
    )


def named_os(image: str) -> str | None:
    """The OS of a catalog image (`ubuntu 22.04`, `amazon-linux 2023`, ...); None for an AMI id or a name."""
    words = image.split()
    if len(words) >= 2 and words[0] in ("ubuntu", "ubuntu-eks"):
        return f"ubuntu {words[1]}"
    if words and amazon_images.is_amazon(words[0]):
        return amazon_images.os_of(words)
    return None


def _arch(table: dict[str, Any], path: Path) -> str:
    arch = table.get("arch", "amd64")
    if arch not in ARCHES:
        raise InputError(path, "base.arch", f"expected one of: {', '.join(ARCHES)}, found {arch!r}")
    return str(arch)


def _source(table: dict[str, Any], path: Path) -> str:
    source = table.get("source", "describe-images")
    if source not in SOURCES:
        raise InputError(path, "base.source", f"expected one of: {', '.join(SOURCES)}, found {source!r}")
    return str(source)


def _regions(table: dict[str, Any], path: Path) -> list[str]:
    regions = table.get("regions")
    if not isinstance(regions, list) or not regions or not all(isinstance(r, str) for r in regions):
        raise InputError(path, "base.regions", 'expected a non-empty array of regions such as ["us-east-1"]')
    for i, region in enumerate(regions):
        if not _REGION.match(region):
            raise InputError(
                path,
                f"base.regions[{i}]",
                f'expected an AWS commercial region such as "us-east-1", found {region!r}',
            )
        if region in regions[:i]:
            raise InputError(path, f"base.regions[{i}]", f"{region} is listed twice")
    return list(regions)


def _by_name(table: dict[str, Any], path: Path) -> BaseIntent:
    """`owner` + `name`: any publisher's images by EC2's name filter, the newest before the cutoff per region."""
    if "image" in table:
        raise InputError(path, "base.image", "give either image, or owner and name, not both")
    owner = table.get("owner")
    if owner is None:
        raise InputError(
            path, "base.owner", 'expected the account that publishes the image ("amazon" or a 12-digit account id)'
        )
    if not isinstance(owner, str) or not (owner in OWNER_ALIASES or _ACCOUNT.match(owner)):
        raise InputError(
            path,
            "base.owner",
            f"expected a 12-digit AWS account id or one of: {', '.join(OWNER_ALIASES)}, found {owner!r}",
        )
    name = table.get("name")
    if name is None:
        raise InputError(path, "base.name", "expected the image name to look for, as EC2's name filter takes it")
    if not isinstance(name, str) or not _NAME.match(name):
        raise InputError(
            path,
            "base.name",
            "expected an AMI name of 3-128 letters, digits, spaces and ( ) [ ] . / - ' @ _, "
            f"with * and ? as wildcards, found {name!r}",
        )
    arch, source, regions = _arch(table, path), _source(table, path), _regions(table, path)
    if source != "describe-images":
        raise InputError(path, "base.source", "an image given by owner and name is found by name: leave source out")
    return BaseIntent(image=name, regions=regions, arch=arch, name_pattern=name, ami=None, owner=owner, by_name=True)


def _ssm_parameter(words: list[str], arch: str) -> str:
    """Canonical's public SSM parameter naming today's image of a release."""
    volume = "ebs-gp3" if UBUNTU[words[1]][1] == "hvm-ssd-gp3" else "ebs-gp2"
    product = "server" if words[0] == "ubuntu" else f"eks/{words[1]}/{words[2]}"
    release = f"/{words[1]}" if words[0] == "ubuntu" else ""
    return f"/aws/service/canonical/ubuntu/{product}{release}/stable/current/{arch}/hvm/{volume}/ami-id"


def _name_pattern(words: list[str], arch: str, path: Path) -> str:
    kinds = ("ubuntu", "ubuntu-eks", *amazon_images.KINDS)
    expected = '"ubuntu 22.04", "ubuntu-eks 22.04 1.29", "amazon-linux 2023", or owner and name'
    if words[0] not in kinds:
        raise InputError(
            path,
            "base.image",
            f"unknown image {words[0]!r}{did_you_mean(words[0], kinds)}; expected {expected} or an AMI id",
        )
    if len(words) < 2 or words[1] not in UBUNTU:
        found = words[1] if len(words) > 1 else "no release"
        raise InputError(path, "base.image", f"unknown Ubuntu release {found!r}; expected one of: {', '.join(UBUNTU)}")
    codename, volume = UBUNTU[words[1]]
    server = f"ubuntu-{codename}-{words[1]}-{arch}-server-*"
    if words[0] == "ubuntu":
        if len(words) != 2:
            raise InputError(path, "base.image", f"expected {expected}, found {' '.join(words)!r}")
        return f"ubuntu/images/{volume}/{server}"
    if len(words) != 3 or not EKS_VERSIONS.match(words[2]):
        raise InputError(
            path, "base.image", f'expected a Kubernetes version after the release, as in "ubuntu-eks {words[1]} 1.29"'
        )
    return f"ubuntu-eks/k8s_{words[2]}/images/{volume}/{server}"
