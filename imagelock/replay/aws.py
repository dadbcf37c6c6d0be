"""Answer recorded AWS calls on loopback: EC2 DescribeImages, SSM GetParameter and GetParameterHistory.

The base image layer asks AWS two things. A replay answers both from a
recording, `images.json`, in the wire protocols boto3 speaks, so the resolver
runs unchanged against it:

    {"regions": {"eu-west-2": {
        "images": [{"ImageId": "ami-…", "Name": "…", "OwnerId": "…", "CreationDate": "…", …}],
        "ssm": {"/aws/service/canonical/…/ami-id": [
            {"Version": 7, "Value": "ami-…", "LastModifiedDate": "2025-01-24T12:30:00Z"}, …]}}}}

An SSM parameter is recorded as its versions (GetParameterHistory's field names; the newest is what
GetParameter answers), or as a bare value: a recording of GetParameter's value alone, which answers
without a version or date and holds no history.

Image records use DescribeImages' own field names and hold only what was
recorded: a field the recording lacks is left out of the answer, and a filter on
it matches nothing (a trimmed recording cannot vouch for it). Keys starting with
`_` are notes and are ignored.

Requests are routed by path, `/aws/<region>/ec2` and `/aws/<region>/ssm`, so an
unsigned request (no credential scope) still says which region it asks about.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote
from xml.etree import ElementTree as ET

from imagelock.errors import InputError
from imagelock.untrusted import load_json, read_text

RECORDING = "images.json"
EC2_VERSION = "2016-11-15"
SSM_TARGET = "AmazonSSM."
SERVICES = ("ec2", "ssm")
HISTORY_PAGE = 50  # GetParameterHistory's MaxResults: 1..50 (SSM API reference)

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_AMI = re.compile(r"^ami-[0-9a-f]{8}([0-9a-f]{9})?$")

# DescribeImages field -> (XML element, value kind). Only these may be recorded.
FIELDS: dict[str, tuple[str, type]] = {
    "ImageId": ("imageId", str),
    "ImageLocation": ("imageLocation", str),
    "State": ("imageState", str),
    "OwnerId": ("imageOwnerId", str),
    "CreationDate": ("creationDate", str),
    "Public": ("isPublic", bool),
    "Architecture": ("architecture", str),
    "ImageType": ("imageType", str),
    "Name": ("name", str),
    "Description": ("description", str),
    "ImageOwnerAlias": ("imageOwnerAlias", str),
    "RootDeviceType": ("rootDeviceType", str),
    "RootDeviceName": ("rootDeviceName", str),
    "VirtualizationType": ("virtualizationType", str),
    "Hypervisor": ("hypervisor", str),
    "EnaSupport": ("enaSupport", bool),
    "SriovNetSupport": ("sriovNetSupport", str),
    "PlatformDetails": ("platformDetails", str),
    "UsageOperation": ("usageOperation", str),
    "BootMode": ("bootMode", str),
    "DeprecationTime": ("deprecationTime", str),
}
# DescribeImages filter name -> the field it tests (AWS's names, EC2 API reference).
FILTERS = {
    "architecture": "Architecture",
    "creation-date": "CreationDate",
    "description": "Description",
    "ena-support": "EnaSupport",
    "hypervisor": "Hypervisor",
    "image-id": "ImageId",
    "image-type": "ImageType",
    "is-public": "Public",
    "manifest-location": "ImageLocation",
    "name": "Name",
    "owner-alias": "ImageOwnerAlias",
    "owner-id": "OwnerId",
    "platform-details": "PlatformDetails",
    "root-device-name": "RootDeviceName",
    "root-device-type": "RootDeviceType",
    "sriov-net-support": "SriovNetSupport",
    "state": "State",
    "usage-operation": "UsageOperation",
    "virtualization-type": "VirtualizationType",
}
# Filters AWS knows but a recording of image records cannot answer.
_UNANSWERED_FILTERS = (
    "block-device-mapping.",
    "tag:",
    "tag-key",
    "product-code",
    "kernel-id",
    "ramdisk-id",
    "state-reason-",
    "source-instance-id",
    "imds-support",
    "source-image-",
)
_OWNER_ALIASES = ("amazon", "aws-marketplace", "aws-backup-vault")


@dataclass(frozen=True)
class ParameterVersion:
    value: str
    version: int | None = None  # None: a bare value, recorded without its version and date
    modified: dt.datetime | None = None


@dataclass(frozen=True)
class Region:
    images: tuple[dict[str, Any], ...]
    ssm: dict[str, tuple[ParameterVersion, ...]]


@dataclass(frozen=True)
class Recording:
    """A recorded set of AWS answers, per region."""

    path: Path
    regions: dict[str, Region]

    @classmethod
    def open(cls, folder: Path) -> Recording:
        """Read and check `images.json`; a malformed recording is one InputError naming file and key."""
        path = folder / RECORDING
        missing = 'no such AWS recording (snapshot.json names its directory under "aws")'
        data = load_json(read_text(path, missing), path, "the recorded describe-images answers")
        regions = data.get("regions") if isinstance(data, dict) else None
        if not isinstance(regions, dict):
            raise InputError(path, "regions", "expected a table of region -> {images, ssm}")
        return cls(path=path, regions={name: _region(path, name, table) for name, table in regions.items()})


def _region(path: Path, name: str, table: Any) -> Region:
    where = f"regions.{name}"
    if not _REGION.match(name):
        raise InputError(path, where, f'expected an AWS region such as "us-east-1", found {name!r}')
    if not isinstance(table, dict) or {k for k in table if not k.startswith("_")} - {"images", "ssm"}:
        raise InputError(path, where, 'expected a table with "images" (a list) and "ssm" (a table)')
    images = table.get("images", [])
    if not isinstance(images, list):
        raise InputError(path, f"{where}.images", "expected a list of DescribeImages records")
    ssm = table.get("ssm", {})
    if not isinstance(ssm, dict):
        raise InputError(path, f"{where}.ssm", "expected a table of SSM parameter name -> value or versions")
    parameters = {str(k): _parameter(path, f"{where}.ssm.{k}", v) for k, v in ssm.items() if not str(k).startswith("_")}
    checked = tuple(_image(path, f"{where}.images[{i}]", image) for i, image in enumerate(images))
    ids = [image["ImageId"] for image in checked]
    for i, image_id in enumerate(ids):
        if image_id in ids[:i]:
            raise InputError(path, f"{where}.images[{i}].ImageId", f"{image_id} is recorded twice")
    return Region(images=checked, ssm=parameters)


def _parameter(path: Path, where: str, value: Any) -> tuple[ParameterVersion, ...]:
    """A bare value, or a list of versions: {Version, Value, LastModifiedDate}, each number once."""
    if isinstance(value, str):
        return (ParameterVersion(value),)
    expected = "expected a table of SSM parameter name -> value, or a list of {Version, Value, LastModifiedDate}"
    if not isinstance(value, list) or not value:
        raise InputError(path, where, expected)
    out: list[ParameterVersion] = []
    for i, record in enumerate(value):
        number = record.get("Version") if isinstance(record, dict) else None
        text = record.get("Value") if isinstance(record, dict) else None
        written = record.get("LastModifiedDate") if isinstance(record, dict) else None
        if isinstance(number, bool) or not isinstance(number, int) or number < 1 or not isinstance(text, str):
            raise InputError(path, f"{where}[{i}]", expected)
        try:
            modified = dt.datetime.fromisoformat(str(written).replace("Z", "+00:00"))
        except ValueError:
            modified = None
        if modified is None or modified.tzinfo is None:
            raise InputError(
                path, f"{where}[{i}].LastModifiedDate", 'expected a UTC time such as "2025-01-24T12:30:00Z"'
            )
        if number in [v.version for v in out]:
            raise InputError(path, f"{where}[{i}].Version", f"version {number} is recorded twice")
        out.append(ParameterVersion(text, number, modified))
    return tuple(sorted(out, key=lambda v: v.version or 0))


def _image(path: Path, where: str, image: Any) -> dict[str, Any]:
    if not isinstance(image, dict):
        raise InputError(path, where, "expected a table of DescribeImages fields")
    record = {k: v for k, v in image.items() if not k.startswith("_")}
    for key, value in record.items():
        if key not in FIELDS:
            raise InputError(
                path, f"{where}.{key}", f"unknown DescribeImages field; expected one of: {', '.join(FIELDS)}"
            )
        kind = FIELDS[key][1]
        if not isinstance(value, kind):
            raise InputError(path, f"{where}.{key}", f"expected a {'boolean' if kind is bool else 'string'}")
    if not _AMI.match(str(record.get("ImageId", ""))):
        raise InputError(path, f"{where}.ImageId", 'expected an AMI id such as "ami-0123456789abcdef0"')
    return record


# --- routing ------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str


def endpoint(base_url: str, region: str, service: str) -> str:
    """The loopback URL standing in for one service in one region."""
    return f"{base_url}/aws/{region}/{service}"


def respond(recording: Recording, path: str, target: str, body: bytes) -> Answer:
    """The answer to one POST under /aws/<region>/<service> (`target`: its X-Amz-Target header, if any)."""
    parts = [unquote(p) for p in path.split("?", 1)[0].split("/") if p]
    if len(parts) != 3 or parts[0] != "aws" or parts[2] not in SERVICES:
        return Answer(404, b"not found", "text/plain")
    region = recording.regions.get(parts[1])
    if region is None:
        return Answer(404, f"no recording of {parts[1]}".encode(), "text/plain")
    if parts[2] == "ec2":
        return _ec2(region, body)
    return _ssm(region, target, body)


# --- EC2 Query protocol -------------------------------------------------------------


class _Ec2Error(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _ec2(region: Region, body: bytes) -> Answer:
    params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    try:
        action = params.pop("Action", "")
        if action != "DescribeImages":
            raise _Ec2Error("InvalidAction", f"The action {action} is not valid for this web service.")
        version = params.pop("Version", EC2_VERSION)
        images = describe_images(region, params)
    except _Ec2Error as error:
        return _ec2_error(error)
    root = ET.Element("DescribeImagesResponse", xmlns=f"http://ec2.amazonaws.com/doc/{version}/")
    ET.SubElement(root, "requestId").text = str(uuid.uuid4())
    found = ET.SubElement(root, "imagesSet")
    for image in images:
        item = ET.SubElement(found, "item")
        for key, value in image.items():
            ET.SubElement(item, FIELDS[key][0]).text = str(value).lower() if isinstance(value, bool) else value
    return Answer(200, b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root), "text/xml;charset=UTF-8")


def _ec2_error(error: _Ec2Error) -> Answer:
    root = ET.Element("Response")
    item = ET.SubElement(ET.SubElement(root, "Errors"), "Error")
    ET.SubElement(item, "Code").text = error.code
    ET.SubElement(item, "Message").text = error.message
    ET.SubElement(root, "RequestID").text = str(uuid.uuid4())
    return Answer(400, b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root), "text/xml;charset=UTF-8")


def _numbered(params: dict[str, str], prefix: str) -> list[str]:
    """`Prefix.1`, `Prefix.2`, … in order (the Query protocol's lists)."""
    found = sorted(
        (int(k[len(prefix) + 1 :]), v)
        for k, v in params.items()
        if k.startswith(prefix + ".") and k[len(prefix) + 1 :].isdigit()
    )
    return [v for _, v in found]


def describe_images(region: Region, params: dict[str, str]) -> list[dict[str, Any]]:
    """DescribeImages over the recorded images, with AWS's semantics for ids, owners and filters."""
    ids = _numbered(params, "ImageId")
    owners = _numbered(params, "Owner")
    filters = [(name, _numbered(params, f"Filter.{n}.Value")) for n, name in _filter_names(params)]
    known = re.compile(r"^(ImageId|Owner)\.\d+$|^Filter\.\d+\.(Name|Value\.\d+)$")
    for key in params:
        if not known.match(key):
            raise _Ec2Error("UnsupportedOperation", f"the replayed recording does not answer the parameter {key}")
    for image_id in ids:
        if not _AMI.match(image_id):
            raise _Ec2Error("InvalidAMIID.Malformed", f'Invalid id: "{image_id}" (expecting "ami-...")')
    by_id = {image["ImageId"]: image for image in region.images}
    missing = [i for i in ids if i not in by_id]
    if missing:
        listed = ", ".join(missing)
        said = f"image id '[{listed}]' does not" if len(missing) == 1 else f"image ids '[{listed}]' do not"
        raise _Ec2Error("InvalidAMIID.NotFound", f"The {said} exist")
    for name, _ in filters:
        if name not in FILTERS:
            if name.startswith(_UNANSWERED_FILTERS):
                raise _Ec2Error("UnsupportedOperation", f"the replayed recording does not answer the filter '{name}'")
            raise _Ec2Error("InvalidParameterValue", f"The filter '{name}' is invalid")
    chosen = [by_id[i] for i in dict.fromkeys(ids)] if ids else list(region.images)
    return [
        image
        for image in chosen
        if (not owners or any(_owned_by(image, owner) for owner in owners))
        and all(_matches(image, name, values) for name, values in filters)
    ]


def _filter_names(params: dict[str, str]) -> list[tuple[int, str]]:
    """`Filter.N.Name`, by N; its values are `Filter.N.Value.M`."""
    return sorted((int(k.split(".")[1]), v) for k, v in params.items() if re.match(r"^Filter\.\d+\.Name$", k))


def _owned_by(image: dict[str, Any], owner: str) -> bool:
    """`Owner.N`: an account id, or an alias; `self` is the caller, and an unsigned caller owns nothing."""
    if owner in _OWNER_ALIASES:
        return image.get("ImageOwnerAlias") == owner
    return owner != "self" and image.get("OwnerId") == owner


def _matches(image: dict[str, Any], name: str, values: list[str]) -> bool:
    """One filter: any of its values matches (OR); an unrecorded field matches nothing."""
    value = image.get(FILTERS[name])
    if value is None:
        return False
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return any(wildcard(pattern).fullmatch(text) for pattern in values)


def wildcard(pattern: str) -> re.Pattern[str]:
    """An EC2 filter value: `*` any run, `?` one character, `\\` escapes the next; case-sensitive."""
    out, escaped = [], False
    for char in pattern:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        else:
            out.append(re.escape(char))
    if escaped:
        out.append(re.escape("\\"))
    return re.compile("".join(out), re.DOTALL)


# --- SSM JSON 1.1 protocol ----------------------------------------------------------


def _ssm(region: Region, target: str, body: bytes) -> Answer:
    operation = target.removeprefix(SSM_TARGET) if target.startswith(SSM_TARGET) else ""
    if operation not in ("GetParameter", "GetParameterHistory"):
        return _ssm_error(
            "UnknownOperationException",
            f"the replayed recording answers only {SSM_TARGET}GetParameter and GetParameterHistory, "
            f"not {target or 'an untargeted request'}",
        )
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return _ssm_error("SerializationException", "the request body is not JSON")
    name = request.get("Name") if isinstance(request, dict) else None
    if not isinstance(name, str) or not name:
        return _ssm_error(
            "ValidationException",
            "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null",
        )
    versions = region.ssm.get(name)
    if versions is None:
        return _ssm_error("ParameterNotFound", "")
    if operation == "GetParameter":
        answer: dict[str, Any] = {"Parameter": _parameter_answer(name, versions[-1])}
    else:
        if versions[-1].version is None:
            return _ssm_error("UnsupportedOperation", f"the replayed recording holds no history of {name}")
        size = request.get("MaxResults", HISTORY_PAGE)
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= HISTORY_PAGE:
            return _ssm_error(
                "ValidationException",
                f"1 validation error detected: Value '{size}' at 'maxResults' failed to satisfy constraint: "
                f"Member must have value less than or equal to {HISTORY_PAGE}",
            )
        token = request.get("NextToken", "0")
        start = int(token) if isinstance(token, str) and token.isdigit() else -1
        if not 0 <= start < len(versions):
            return _ssm_error("InvalidNextToken", "The specified token isn't valid.")
        answer = {"Parameters": [_parameter_answer(name, v) for v in versions[start : start + size]]}
        if start + size < len(versions):
            answer["NextToken"] = str(start + size)
    return Answer(200, json.dumps(answer).encode(), "application/x-amz-json-1.1")


def _parameter_answer(name: str, version: ParameterVersion) -> dict[str, Any]:
    """One parameter version in SSM's JSON (dates are epoch seconds); a bare value has only its name and value."""
    out: dict[str, Any] = {"Name": name, "Value": version.value}
    if version.version is not None and version.modified is not None:
        out.update(Version=version.version, LastModifiedDate=version.modified.timestamp(), Type="String")
    return out


def _ssm_error(code: str, message: str) -> Answer:
    return Answer(400, json.dumps({"__type": code, "message": message}).encode(), "application/x-amz-json-1.1")
