"""The base image domain: intent `[base]` -> lock `[base]`, one AMI per region.

    [base]
    image = "ubuntu 22.04"            # or "ubuntu-eks 22.04 1.29", "amazon-linux 2023", "parallelcluster 3.7.0",
                                      # "amazon-eks 1.29", "amazon-eks-gpu 1.29", or a raw "ami-0123456789abcdef0"
    # or, instead of image:  owner = "amazon"  name = "Deep Learning Base AMI with Single CUDA (Amazon Linux 2023) *"
    regions = ["us-east-1", "us-west-2"]
    arch = "amd64"                    # or "arm64"
    source = "describe-images"        # or "ssm"

A name resolves, in each region, to the newest available image whose name
matches its publisher's pattern (Canonical's account for Ubuntu, the `amazon`
alias for Amazon's images, the intent's `owner` for a `name`), owned by that
publisher (the owner is pinned, so a look-alike published by anyone else is
never chosen), created before the universe cutoff. The lock records what the
image states about itself (imagelock.domains.base.facts) for the rules. With `source = "ssm"` the image is the one
Canonical's public SSM parameter named at the cutoff (imagelock.domains.base.ssm:
the newest version of the parameter written before it), checked the same way
(owner, name, created before the cutoff); the lock records the parameter, that
version and its date. A previous lock's image is kept while the cutoff and the
parameter are the same, so SSM's limited history is asked once.
A raw AMI id is taken as it is, in its one region.

Credentials come from boto3's standard chain; `AWS_ENDPOINT_URL` points boto3 at
a look-alike. Nothing here prints or stores a credential. The run's upstreams
make the clients: a stand-in that serves a recording on loopback makes unsigned
ones, so no credential is looked up at all.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
from pathlib import Path
from typing import Any

from imagelock.domains.base import ssm
from imagelock.domains.base.facts import stated
from imagelock.domains.context import UpdateContext
from imagelock.errors import InputError, UpstreamError
from imagelock.intent.base import ARCHES, CANONICAL_OWNER, OWNER_ALIASES, BaseIntent, parse, parse_instance_types
from imagelock.lock.model import BaseAmi, BaseLayer, instant
from imagelock.net import aws
from imagelock.net.upstreams import LIVE, Upstreams, Where


def _created(image: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(str(image["CreationDate"]).replace("Z", "+00:00"))


def _record(region: str, image: dict[str, Any]) -> BaseAmi:
    """The lock's record of one image, with the facts its name and description state."""
    created = instant(_created(image))
    name, description = image.get("Name", ""), image.get("Description")
    facts = stated(name, description or "")
    return BaseAmi(
        region=region,
        id=image["ImageId"],
        name=name,
        creation_date=created,
        owner=image.get("OwnerId", ""),
        root_device=image.get("RootDeviceName"),
        description=description or None,
        nvidia_driver=facts.nvidia_driver,
        cuda=facts.cuda,
        supported_instances=facts.supported_instances,
    )


def owned_by(image: dict[str, Any], owner: str) -> bool:
    """DescribeImages' owner test: an alias names ImageOwnerAlias, an account id OwnerId."""
    if owner in OWNER_ALIASES:
        return image.get("ImageOwnerAlias") == owner
    return image.get("OwnerId") == owner


def _publisher(intent: BaseIntent) -> str:
    """Who must publish the image, for messages."""
    if intent.owner == CANONICAL_OWNER:
        return f"Canonical ({CANONICAL_OWNER})"
    return intent.owner if intent.owner in OWNER_ALIASES else f"account {intent.owner}"


def _describe(region: str, upstreams: Upstreams, where: Where, **query: Any) -> list[dict[str, Any]]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return list(upstreams.aws_client("ec2", region, where).describe_images(**query).get("Images", []))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code.startswith("InvalidAMIID"):
            return []
        raise UpstreamError(f"EC2 {region}: DescribeImages: {aws.describe_error(exc)}") from None
    except BotoCoreError as exc:
        raise UpstreamError(f"EC2 {region}: DescribeImages: {aws.describe_error(exc)}") from None


def _ssm_image(intent: BaseIntent, region: str, cutoff: str, path: Path, upstreams: Upstreams, where: Where) -> BaseAmi:
    """The image Canonical's SSM parameter named at the cutoff (imagelock.domains.base.ssm), with the
    parameter, its version and that version's date recorded beside it."""
    assert intent.ssm_parameter is not None and intent.name_pattern is not None
    held = ssm.at_cutoff(upstreams.aws_client("ssm", region, where), intent.ssm_parameter, region, cutoff, path)
    ami = held.value
    images = _describe(region, upstreams, where, ImageIds=[ami], Owners=[CANONICAL_OWNER])
    image = images[0] if images else None
    if (
        image is None
        or image.get("OwnerId") != CANONICAL_OWNER
        or not fnmatch.fnmatchcase(image.get("Name", ""), intent.name_pattern)
    ):
        raise UpstreamError(
            f"SSM {region}: {intent.ssm_parameter} (version {held.number}) names {ami}, which is not a "
            f"{intent.image} {intent.arch} image owned by Canonical ({CANONICAL_OWNER})"
        )
    record = _record(region, image)
    if record.creation_date >= cutoff:
        raise InputError(
            path,
            "base.source",
            f"the SSM parameter names {ami} in {region} (version {held.number}, written {held.modified}), created "
            f"{record.creation_date}, not before the cutoff {cutoff}; leave source out to take the newest image "
            "before the cutoff",
        )
    return dataclasses.replace(
        record, ssm_parameter=intent.ssm_parameter, ssm_version=held.number, ssm_modified=held.modified
    )


def resolve_region(
    intent: BaseIntent, region: str, cutoff: str, path: Path, upstreams: Upstreams = LIVE, key: str = "base.regions"
) -> BaseAmi:
    """The AMI for one region; `key` names the region in the intent, for messages."""
    where = (path, key)
    if intent.source == "ssm":
        return _ssm_image(intent, region, cutoff, path, upstreams, where)
    if intent.ami is not None:
        images = _describe(region, upstreams, where, ImageIds=[intent.ami])
        if not images:
            raise InputError(path, "base.image", f"{intent.ami} not found in {region}")
        return _record(region, images[0])
    filters = [
        {"Name": "name", "Values": [intent.name_pattern]},
        {"Name": "state", "Values": ["available"]},
        {"Name": "architecture", "Values": [ARCHES[intent.arch]]},
    ]
    if not intent.by_name:  # the catalog's images are EBS-backed HVM; a name given by hand is taken as given
        filters += [
            {"Name": "root-device-type", "Values": ["ebs"]},
            {"Name": "virtualization-type", "Values": ["hvm"]},
        ]
    images = _describe(region, upstreams, where, Owners=[intent.owner], Filters=filters)
    limit = dt.datetime.fromisoformat(cutoff.replace("Z", "+00:00"))
    # The owner filter is the pin; checking it again costs nothing and survives a lax endpoint.
    owned = [i for i in images if owned_by(i, intent.owner)]
    eligible = [i for i in owned if _created(i) < limit]
    if not eligible:
        newer = f" ({len(owned)} newer)" if owned else ""
        publisher = _publisher(intent)
        if intent.by_name:
            what = f"no image named {intent.image!r} ({intent.arch}) by {publisher}"
        else:
            what = f"no {intent.image} {intent.arch} image by {publisher}"
        key = "base.name" if intent.by_name else "base.image"
        raise InputError(path, key, f"{what} created before {cutoff} in {region}{newer}")
    # Newest first; two images created in the same second are told apart by id, so the choice never depends
    # on the order AWS lists them in.
    newest = max(eligible, key=lambda i: (_created(i), i["ImageId"]))
    return _record(region, newest)


def resolve(ctx: UpdateContext) -> BaseLayer:
    path = ctx.intent.path
    intent = parse(ctx.intent.section("base"), path)
    if intent is None:  # only `instance-types`: the intent names no base image to lock
        raise InputError(path, "base.image", 'expected the base image to lock, such as "ubuntu 22.04"')
    previous = ctx.previous.base if ctx.previous else None
    kept: dict[str, BaseAmi] = {}
    same_universe = ctx.previous is not None and ctx.previous.universe.cutoff == ctx.cutoff
    arch = intent.arch if intent.ami is None else None
    owner = intent.owner if intent.by_name else None
    if (
        previous is not None
        and (previous.image, previous.arch, previous.owner) == (intent.image, arch, owner)
        and same_universe
        and not ctx.upgrade
        and "base" not in ctx.refresh
    ):
        # An SSM image is kept only when it was locked from this intent's parameter.
        kept = {ami.region: ami for ami in previous.amis if ami.ssm_parameter == intent.ssm_parameter}
    amis = []
    for i, region in enumerate(intent.regions):
        amis.append(
            kept.get(region) or resolve_region(intent, region, ctx.cutoff, path, ctx.upstreams, f"base.regions[{i}]")
        )
    table = ctx.intent.section("base")
    listed = isinstance(table, dict) and "instance-types" in table
    types = parse_instance_types(table["instance-types"], path) if isinstance(table, dict) and listed else []
    families = sorted({name.split(".", 1)[0] for name in types})
    return BaseLayer(image=intent.image, amis=amis, arch=arch, owner=owner, instance_families=families)
