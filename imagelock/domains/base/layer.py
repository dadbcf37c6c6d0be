"""The base image domain: intent `[base]` -> lock `[base]`, one AMI per region.

    [base]
    image = "ubuntu 22.04"            # or "ubuntu-eks 22.04 1.29", or a raw "ami-0123456789abcdef0"
    regions = ["us-east-1", "us-west-2"]
    arch = "amd64"                    # or "arm64"
    source = "describe-images"        # or "ssm"

A name resolves, in each region, to the newest available image whose name
matches Canonical's published pattern, owned by Canonical's account (the owner
is pinned, so a look-alike published by anyone else is never chosen), created
before the universe cutoff. With `source = "ssm"` the image is the one
Canonical's public SSM parameter names today, checked the same way (owner, name,
created before the cutoff); as SSM names only the current image, a cutoff in the
past usually refuses it, and the default source is the one that pins in time.
A raw AMI id is taken as it is, in its one region.

Credentials come from boto3's standard chain; `AWS_ENDPOINT_URL` points boto3 at
a look-alike. Nothing here prints or stores a credential. Under `--replay`, boto3
asks the recording's loopback endpoints (imagelock/replay/aws.py) unsigned, so no
credential is looked up at all.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagelock.net import aws
from imagelock.errors import InputError, UpstreamError, did_you_mean
from imagelock.intent.document import check_keys
from imagelock.lock.model import BaseAmi, BaseLayer, instant
from imagelock.replay.server import ReplayServer
from imagelock.domains.context import UpdateContext

KEYS = ("image", "regions", "arch", "source")
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


@dataclass
class BaseIntent:
    image: str
    regions: list[str]
    arch: str
    name_pattern: str | None  # None for a raw AMI id
    ami: str | None
    source: str = "describe-images"
    ssm_parameter: str | None = None


def parse(table: Any, path: Path) -> BaseIntent:
    where = "base"
    check_keys(table, KEYS, path, where)
    image = table.get("image")
    if not isinstance(image, str) or not image.strip():
        raise InputError(path, f"{where}.image", "expected an image such as \"ubuntu 22.04\", "
                         "\"ubuntu-eks 22.04 1.29\" or \"ami-0123456789abcdef0\"")
    arch = table.get("arch", "amd64")
    if arch not in ARCHES:
        raise InputError(path, f"{where}.arch", f"expected one of: {', '.join(ARCHES)}, found {arch!r}")
    source = table.get("source", "describe-images")
    if source not in SOURCES:
        raise InputError(path, f"{where}.source", f"expected one of: {', '.join(SOURCES)}, found {source!r}")
    regions = table.get("regions")
    if not isinstance(regions, list) or not regions or not all(isinstance(r, str) for r in regions):
        raise InputError(path, f"{where}.regions", "expected a non-empty array of regions such as [\"us-east-1\"]")
    for i, region in enumerate(regions):
        if not _REGION.match(region):
            raise InputError(path, f"{where}.regions[{i}]", f"expected an AWS commercial region such as "
                             f"\"us-east-1\", found {region!r}")
        if region in regions[:i]:
            raise InputError(path, f"{where}.regions[{i}]", f"{region} is listed twice")
    words = image.split()
    if len(words) == 1 and words[0].startswith("ami-"):
        if not _AMI.match(words[0]):
            raise InputError(path, f"{where}.image", f"expected an AMI id such as \"ami-0123456789abcdef0\", "
                             f"found {image!r}")
        if len(regions) != 1:
            raise InputError(path, f"{where}.regions", f"{words[0]} exists in one region only: name that one "
                             "region, or name the image (\"ubuntu 22.04\") to resolve one AMI per region")
        if source != "describe-images":
            raise InputError(path, f"{where}.source", "an AMI id is taken as it is: leave source out")
        return BaseIntent(image=image, regions=regions, arch=arch, name_pattern=None, ami=words[0])
    pattern = _name_pattern(words, arch, path)
    return BaseIntent(image=" ".join(words), regions=regions, arch=arch, name_pattern=pattern, ami=None,
                      source=source, ssm_parameter=_ssm_parameter(words, arch) if source == "ssm" else None)


def _ssm_parameter(words: list[str], arch: str) -> str:
    """Canonical's public SSM parameter naming today's image of a release."""
    volume = "ebs-gp3" if UBUNTU[words[1]][1] == "hvm-ssd-gp3" else "ebs-gp2"
    product = "server" if words[0] == "ubuntu" else f"eks/{words[1]}/{words[2]}"
    release = f"/{words[1]}" if words[0] == "ubuntu" else ""
    return f"/aws/service/canonical/ubuntu/{product}{release}/stable/current/{arch}/hvm/{volume}/ami-id"


def _name_pattern(words: list[str], arch: str, path: Path) -> str:
    kinds = ("ubuntu", "ubuntu-eks")
    expected = "\"ubuntu 22.04\" or \"ubuntu-eks 22.04 1.29\""
    if words[0] not in kinds:
        raise InputError(path, "base.image", f"unknown image {words[0]!r}{did_you_mean(words[0], kinds)}; "
                         f"expected {expected} or an AMI id")
    if len(words) < 2 or words[1] not in UBUNTU:
        found = words[1] if len(words) > 1 else "no release"
        raise InputError(path, "base.image", f"unknown Ubuntu release {found!r}; expected one of: "
                         f"{', '.join(UBUNTU)}")
    codename, volume = UBUNTU[words[1]]
    server = f"ubuntu-{codename}-{words[1]}-{arch}-server-*"
    if words[0] == "ubuntu":
        if len(words) != 2:
            raise InputError(path, "base.image", f"expected {expected}, found {' '.join(words)!r}")
        return f"ubuntu/images/{volume}/{server}"
    if len(words) != 3 or not EKS_VERSIONS.match(words[2]):
        raise InputError(path, "base.image", "expected a Kubernetes version after the release, as in "
                         f"\"ubuntu-eks {words[1]} 1.29\"")
    return f"ubuntu-eks/k8s_{words[2]}/images/{volume}/{server}"


def _created(image: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(str(image["CreationDate"]).replace("Z", "+00:00"))


def _record(region: str, image: dict[str, Any]) -> BaseAmi:
    created = instant(_created(image))
    return BaseAmi(region=region, id=image["ImageId"], name=image.get("Name", ""), creation_date=created,
                   owner=image.get("OwnerId", ""), root_device=image.get("RootDeviceName"))


def _client(service: str, region: str, replay: ReplayServer | None) -> Any:
    """boto3's client for a region; in a replay, the recording's loopback endpoint, unsigned."""
    if replay is None:
        return aws.client(service, region)
    return aws.client(service, region, endpoint_url=replay.local_aws(region, service), unsigned=True)


def _describe(region: str, replay: ReplayServer | None, **query: Any) -> list[dict[str, Any]]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return list(_client("ec2", region, replay).describe_images(**query).get("Images", []))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code.startswith("InvalidAMIID"):
            return []
        raise UpstreamError(f"EC2 {region}: DescribeImages: {aws.describe_error(exc)}") from None
    except BotoCoreError as exc:
        raise UpstreamError(f"EC2 {region}: DescribeImages: {aws.describe_error(exc)}") from None


def _ssm_image(intent: BaseIntent, region: str, cutoff: str, path: Path, replay: ReplayServer | None) -> BaseAmi:
    import fnmatch

    from botocore.exceptions import BotoCoreError, ClientError

    assert intent.ssm_parameter is not None and intent.name_pattern is not None
    try:
        answer = _client("ssm", region, replay).get_parameter(Name=intent.ssm_parameter)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            raise InputError(path, "base.image", f"Canonical publishes no SSM parameter {intent.ssm_parameter} "
                             f"in {region}") from None
        raise UpstreamError(f"SSM {region}: GetParameter: {aws.describe_error(exc)}") from None
    except BotoCoreError as exc:
        raise UpstreamError(f"SSM {region}: GetParameter: {aws.describe_error(exc)}") from None
    ami = str(answer["Parameter"]["Value"])
    images = _describe(region, replay, ImageIds=[ami], Owners=[CANONICAL_OWNER])
    image = images[0] if images else None
    if image is None or image.get("OwnerId") != CANONICAL_OWNER \
            or not fnmatch.fnmatchcase(image.get("Name", ""), intent.name_pattern):
        raise UpstreamError(f"SSM {region}: {intent.ssm_parameter} names {ami}, which is not a {intent.image} "
                            f"{intent.arch} image owned by Canonical ({CANONICAL_OWNER})")
    record = _record(region, image)
    if record.creation_date >= cutoff:
        raise InputError(path, "base.source", f"the SSM parameter names {ami} in {region}, created "
                         f"{record.creation_date}, not before the cutoff {cutoff}: SSM names only today's image; "
                         "leave source out to take the newest image before the cutoff")
    return record


def resolve_region(intent: BaseIntent, region: str, cutoff: str, path: Path,
                   replay: ReplayServer | None = None) -> BaseAmi:
    if intent.source == "ssm":
        return _ssm_image(intent, region, cutoff, path, replay)
    if intent.ami is not None:
        images = _describe(region, replay, ImageIds=[intent.ami])
        if not images:
            raise InputError(path, "base.image", f"{intent.ami} not found in {region}")
        return _record(region, images[0])
    filters = [
        {"Name": "name", "Values": [intent.name_pattern]},
        {"Name": "state", "Values": ["available"]},
        {"Name": "architecture", "Values": [ARCHES[intent.arch]]},
        {"Name": "root-device-type", "Values": ["ebs"]},
        {"Name": "virtualization-type", "Values": ["hvm"]},
    ]
    images = _describe(region, replay, Owners=[CANONICAL_OWNER], Filters=filters)
    limit = dt.datetime.fromisoformat(cutoff.replace("Z", "+00:00"))
    # The owner filter is the pin; checking it again costs nothing and survives a lax endpoint.
    eligible = [i for i in images if i.get("OwnerId") == CANONICAL_OWNER and _created(i) < limit]
    if not eligible:
        newer = f" ({len(images)} newer)" if images else ""
        raise InputError(path, "base.image", f"no {intent.image} {intent.arch} image by Canonical "
                         f"({CANONICAL_OWNER}) created before {cutoff} in {region}{newer}")
    newest = max(eligible, key=lambda i: (_created(i), i["ImageId"]))
    return _record(region, newest)


def resolve(ctx: UpdateContext) -> BaseLayer:
    path = ctx.intent.path
    intent = parse(ctx.intent.section("base"), path)
    previous = ctx.previous.base if ctx.previous else None
    kept: dict[str, BaseAmi] = {}
    same_universe = ctx.previous is not None and ctx.previous.universe.cutoff == ctx.cutoff
    arch = intent.arch if intent.ami is None else None
    if previous is not None and (previous.image, previous.arch) == (intent.image, arch) and same_universe \
            and intent.source == "describe-images" \
            and not ctx.upgrade and "base" not in ctx.refresh:
        kept = {ami.region: ami for ami in previous.amis}
    amis = []
    for i, region in enumerate(intent.regions):
        if region not in kept and ctx.replay is not None and ctx.replay.local_aws(region, "ec2") is None:
            raise InputError(path, f"base.regions[{i}]", f"the replayed snapshot has no recording of {region} "
                             "(its snapshot.json lists the AWS recording under \"aws\")")
        amis.append(kept.get(region) or resolve_region(intent, region, ctx.cutoff, path, ctx.replay))
    return BaseLayer(image=intent.image, amis=amis, arch=arch)
