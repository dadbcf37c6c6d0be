"""The base image domain against moto's EC2 server: one AMI per region, newest before the cutoff."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from imagelock.domains.base import layer as base_image
from imagelock.errors import UpstreamError
from imagelock.lock.model import Lock, Universe
from imagelock.net import aws

from .conftest import MotoServer, assert_input_error, make_ctx, seed_parameter

SEED = '[base]\nimage = "ubuntu 22.04"\nregions = ["us-east-1", "us-west-2"]\n'


def test_one_ami_per_region_newest_before_the_cutoff(tmp_path: Path, moto_server: MotoServer) -> None:
    layer = base_image.resolve(make_ctx(tmp_path, SEED, cutoff="2025-01-15T00:00:00Z"))
    assert layer.image == "ubuntu 22.04" and layer.arch == "amd64"
    east, west = layer.amis
    assert (east.region, east.id, east.creation_date) == ("us-east-1", "ami-0a1b2c3d4e5f60002", "2024-12-06T10:00:00Z")
    assert east.name == "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20241206"
    assert (east.owner, east.root_device) == ("099720109477", "/dev/sda1")
    assert (west.region, west.id) == ("us-west-2", "ami-0f9e8d7c6b5a40001")


def test_a_later_cutoff_admits_the_newer_images(tmp_path: Path, moto_server: MotoServer) -> None:
    layer = base_image.resolve(make_ctx(tmp_path, SEED, cutoff="2025-02-01T00:00:00Z"))
    assert [a.id for a in layer.amis] == ["ami-0a1b2c3d4e5f60003", "ami-0f9e8d7c6b5a40002"]


def test_an_image_by_another_owner_is_never_chosen(tmp_path: Path, moto_server: MotoServer) -> None:
    # the decoy (owner 111122223333, 2025-01-10) is newer than Canonical's 2024-12-06 and before the cutoff
    layer = base_image.resolve(make_ctx(tmp_path, SEED, cutoff="2025-01-15T00:00:00Z"))
    assert "ami-0a1b2c3d4e5f60005" not in [a.id for a in layer.amis]


def test_arm64_and_eks_images(tmp_path: Path, moto_server: MotoServer) -> None:
    arm = base_image.resolve(
        make_ctx(tmp_path, '[base]\nimage = "ubuntu 22.04"\narch = "arm64"\nregions = ["us-east-1"]\n')
    )
    assert [a.id for a in arm.amis] == ["ami-0a1b2c3d4e5f60004"]
    eks = base_image.resolve(
        make_ctx(tmp_path, '[base]\nimage = "ubuntu-eks 22.04 1.29"\nregions = ["us-east-1", "us-west-2"]\n')
    )
    assert [a.id for a in eks.amis] == ["ami-0a1b2c3d4e5f60006", "ami-0f9e8d7c6b5a40003"]


def test_ssm_source_takes_canonicals_current_image_when_it_predates_the_cutoff(
    tmp_path: Path, moto_server: MotoServer
) -> None:
    text = SEED + 'source = "ssm"\n'
    layer = base_image.resolve(make_ctx(tmp_path, text, cutoff="2025-02-01T00:00:00Z"))
    assert [a.id for a in layer.amis] == ["ami-0a1b2c3d4e5f60002", "ami-0f9e8d7c6b5a40002"]
    east, west = layer.amis
    assert east.ssm_parameter == "/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id"
    assert (east.ssm_version, east.ssm_modified) == (2, "2024-12-06T12:00:00Z")
    assert (west.ssm_version, west.ssm_modified) == (2, "2025-01-24T12:30:00Z")


def test_ssm_source_takes_the_version_the_parameter_held_at_the_cutoff(tmp_path: Path, moto_server: MotoServer) -> None:
    # us-west-2's parameter moved to ami-…40002 on 2025-01-24, after the cutoff: its history names ami-…40001
    text = SEED + 'source = "ssm"\n'
    layer = base_image.resolve(make_ctx(tmp_path, text, cutoff="2025-01-15T00:00:00Z"))
    assert [(a.id, a.ssm_version, a.ssm_modified) for a in layer.amis] == [
        ("ami-0a1b2c3d4e5f60002", 2, "2024-12-06T12:00:00Z"),
        ("ami-0f9e8d7c6b5a40001", 1, "2024-12-06T12:30:00Z"),
    ]


def test_ssm_history_is_read_past_its_first_page(tmp_path: Path, moto_server: MotoServer) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ssm.models import ssm_backends

    name = "/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id"
    ssm_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]._parameters[name].clear()
    versions = [
        {"version": n, "value": "ami-0a1b2c3d4e5f60001", "modified": f"2024-10-{n // 24 + 1:02d}T{n % 24:02d}:00:00Z"}
        for n in range(1, 59)
    ]
    versions.append({"version": 59, "value": "ami-0a1b2c3d4e5f60002", "modified": "2024-12-06T12:00:00Z"})
    versions.append({"version": 60, "value": "ami-0a1b2c3d4e5f60003", "modified": "2025-01-24T12:00:00Z"})
    seed_parameter("us-east-1", name, versions)
    text = '[base]\nimage = "ubuntu 22.04"\nregions = ["us-east-1"]\nsource = "ssm"\n'
    layer = base_image.resolve(make_ctx(tmp_path, text, cutoff="2025-01-15T00:00:00Z"))
    # version 59 is on the second page of 50
    assert [(a.id, a.ssm_version) for a in layer.amis] == [("ami-0a1b2c3d4e5f60002", 59)]


def test_ssm_source_refuses_a_cutoff_before_the_parameters_history(tmp_path: Path, moto_server: MotoServer) -> None:
    text = SEED + 'source = "ssm"\n'
    assert_input_error(
        base_image.resolve,
        make_ctx(tmp_path, text, cutoff="2024-10-01T00:00:00Z"),
        "base.source",
        "SSM /aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id in us-west-2 "
        "held no value before the cutoff 2024-10-01T00:00:00Z; the oldest version SSM keeps, 1, was written "
        "2024-12-06T12:30:00Z",
    )


def test_an_ssm_lock_is_kept_for_the_same_parameter_and_cutoff(
    tmp_path: Path, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = SEED + 'source = "ssm"\n'
    first = base_image.resolve(make_ctx(tmp_path, text, cutoff="2025-01-15T00:00:00Z"))
    lock = Lock(name="seed", intent_sha256="0" * 64, universe=Universe(cutoff="2025-01-15T00:00:00Z", source="intent"))
    lock.base = first
    # with AWS unreachable, the locked answer stands: SSM's history is asked once
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    aws.reset()
    assert base_image.resolve(make_ctx(tmp_path, text, cutoff="2025-01-15T00:00:00Z", previous=lock)) == first
    # a lock of the same image found by name is not an answer for the parameter
    by_name = Lock(
        name="seed", intent_sha256="0" * 64, universe=Universe(cutoff="2025-01-15T00:00:00Z", source="intent")
    )
    by_name.base = dataclasses.replace(
        first,
        amis=[dataclasses.replace(a, ssm_parameter=None, ssm_version=None, ssm_modified=None) for a in first.amis],
    )
    with pytest.raises(UpstreamError, match="SSM us-east-1: GetParameter"):
        base_image.resolve(make_ctx(tmp_path, text, cutoff="2025-01-15T00:00:00Z", previous=by_name))


def test_ssm_parameter_naming_another_owners_image_is_refused(tmp_path: Path, moto_server: MotoServer) -> None:
    text = '[base]\nimage = "ubuntu 22.04"\nregions = ["eu-west-1"]\nsource = "ssm"\n'
    with pytest.raises(
        UpstreamError, match="names ami-0d0d0d0d0d0d00001, which is not a ubuntu 22.04 amd64 image owned by Canonical"
    ):
        base_image.resolve(make_ctx(tmp_path, text))


def test_a_raw_ami_id_is_recorded_as_it_is(tmp_path: Path, moto_server: MotoServer) -> None:
    layer = base_image.resolve(make_ctx(tmp_path, '[base]\nimage = "ami-0f9e8d7c6b5a40002"\nregions = ["us-west-2"]\n'))
    assert layer.arch is None
    assert [(a.id, a.creation_date) for a in layer.amis] == [("ami-0f9e8d7c6b5a40002", "2025-01-24T10:30:00Z")]


def test_previous_amis_are_kept_for_the_same_universe(
    tmp_path: Path, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = base_image.resolve(make_ctx(tmp_path, SEED))
    lock = Lock(name="seed", intent_sha256="0" * 64, universe=Universe(cutoff="2025-01-15T00:00:00Z", source="intent"))
    lock.base = first
    # with AWS unreachable, the recorded answer still stands
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    aws.reset()
    again = base_image.resolve(make_ctx(tmp_path, SEED, previous=lock))
    assert again == first
    with pytest.raises(UpstreamError, match="EC2 us-east-1: DescribeImages"):
        base_image.resolve(make_ctx(tmp_path, SEED, previous=lock, refresh=["base"]))


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        (
            '[base]\nimage = "ubuntu 22.04"\nregions = ["us-east-1"]\n',
            "base.image",
            "no ubuntu 22.04 amd64 image by Canonical (099720109477) created before 2024-01-01T00:00:00Z in us-east-1 "
            "(3 newer)",
        ),
        (
            '[base]\nimage = "ubuntu 23.04"\nregions = ["us-east-1"]\n',
            "base.image",
            "unknown Ubuntu release '23.04'; expected one of: 20.04, 22.04, 24.04",
        ),
        (
            '[base]\nimage = "ubunto 22.04"\nregions = ["us-east-1"]\n',
            "base.image",
            "unknown image 'ubunto' (did you mean 'ubuntu'?)",
        ),
        (
            '[base]\nimage = "ubuntu-eks 22.04"\nregions = ["us-east-1"]\n',
            "base.image",
            "expected a Kubernetes version after the release",
        ),
        ('[base]\nimage = "ami-12345"\nregions = ["us-east-1"]\n', "base.image", "expected an AMI id such as"),
        (
            '[base]\nimage = "ami-0123456789abcdef0"\nregions = ["us-east-1", "us-west-2"]\n',
            "base.regions",
            "ami-0123456789abcdef0 exists in one region only",
        ),
        (
            '[base]\nimage = "ami-0123456789abcdef0"\nregions = ["us-east-1"]\n',
            "base.image",
            "ami-0123456789abcdef0 not found in us-east-1",
        ),
        (
            '[base]\nimage = "ubuntu 22.04"\nregions = ["us-east-9x"]\n',
            "base.regions[0]",
            "expected an AWS commercial region",
        ),
        ('[base]\nimage = "ubuntu 22.04"\nregions = ["us-east-1", "us-east-1"]\n', "base.regions[1]", "listed twice"),
        ('[base]\nimage = "ubuntu 22.04"\nregions = []\n', "base.regions", "expected a non-empty array"),
        (
            '[base]\nimage = "ubuntu 22.04"\nregions = ["us-east-1"]\narch = "x86"\n',
            "base.arch",
            "expected one of: amd64, arm64",
        ),
        ('[base]\nimages = "ubuntu 22.04"\n', "base.images", "unknown key (did you mean 'image'?)"),
        (
            '[base]\nimage = "ubuntu 22.04"\nregions = ["us-east-1"]\nsource = "ssn"\n',
            "base.source",
            "expected one of: describe-images, ssm",
        ),
        (
            '[base]\nimage = "ubuntu 24.04"\nregions = ["us-east-1"]\nsource = "ssm"\n',
            "base.image",
            "Canonical publishes no SSM parameter /aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/"
            "ebs-gp3/ami-id in us-east-1",
        ),
    ],
)
def test_bad_input_is_one_clear_line(
    tmp_path: Path, moto_server: MotoServer, text: str, key: str, expected: str
) -> None:
    assert_input_error(base_image.resolve, make_ctx(tmp_path, text, cutoff="2024-01-01T00:00:00Z"), key, expected)
