"""Write a replay recording (imagelock/replay/aws.py) from the image set moto is seeded with.

The agreement tests hand the same facts to both look-alikes: every field moto is
given for an image (tests/artifacts/conftest.py) is written here, and no other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def recording_from_fixture(seed: dict[str, Any]) -> dict[str, Any]:
    """amis.json (moto's seed) as an images.json recording, region by region."""
    regions: dict[str, dict[str, Any]] = {}
    for image in seed["images"]:
        regions.setdefault(image["region"], {"images": [], "ssm": {}})["images"].append(
            {
                "ImageId": image["ami_id"],
                "Name": image["name"],
                "OwnerId": image["owner_id"],
                "CreationDate": image["creation_date"],
                "Architecture": image["architecture"],
                "VirtualizationType": "hvm",
                "RootDeviceType": "ebs",
                "RootDeviceName": "/dev/sda1",
                "Public": True,
                "State": "available",
            }
        )
    for parameter in seed["ssm"]:  # every version, as GetParameterHistory names its fields
        regions.setdefault(parameter["region"], {"images": [], "ssm": {}})["ssm"][parameter["name"]] = [
            {"Version": v["version"], "Value": v["value"], "LastModifiedDate": v["modified"]}
            for v in parameter["versions"]
        ]
    return {"regions": regions}


def write_snapshot(folder: Path, seed: dict[str, Any]) -> Path:
    """A replay snapshot directory holding only an AWS recording of `seed`."""
    (folder / "aws").mkdir(parents=True, exist_ok=True)
    (folder / "aws" / "images.json").write_text(json.dumps(recording_from_fixture(seed), indent=1))
    (folder / "snapshot.json").write_text(json.dumps({"aws": "aws"}))
    return folder
