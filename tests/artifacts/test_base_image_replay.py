"""`lock update --replay` for the base image: recorded AWS answers stand in for EC2 and SSM.

The agreement tests seed one image set (tests/fixtures/aws/amis.json) into moto's
server and into a replay recording, run the real CLI against each, and demand the
same lock, or the same one-line error. boto3 talks real HTTP to both.
"""

from __future__ import annotations

import json
import tomllib
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from imagelock.commands.update import update
from imagelock.net import aws
from imagelock.replay.server import ReplayServer, Snapshot, _Handler
from tests.imagelock_testing import SEED_SNAPSHOT, tree_digest

from .aws_recording import write_snapshot
from .conftest import FIXTURES, MotoServer

SEED = json.loads((FIXTURES / "aws" / "amis.json").read_text())
SERVER = 'image = "ubuntu 22.04"\nregions = ["us-east-1", "us-west-2"]\n'

INTENTS = {
    "newest-before-cutoff": ("2025-01-15T00:00:00Z", SERVER),
    "later-cutoff": ("2025-02-01T00:00:00Z", SERVER),
    "arm64": ("2025-01-15T00:00:00Z", 'image = "ubuntu 22.04"\narch = "arm64"\nregions = ["us-east-1"]\n'),
    "eks": ("2025-01-15T00:00:00Z", 'image = "ubuntu-eks 22.04 1.29"\nregions = ["us-east-1", "us-west-2"]\n'),
    "ssm": ("2025-02-01T00:00:00Z", SERVER + 'source = "ssm"\n'),
    "raw-ami": ("2025-01-15T00:00:00Z", 'image = "ami-0f9e8d7c6b5a40002"\nregions = ["us-west-2"]\n'),
    # the same refusals, word for word
    "ssm-history": ("2025-01-15T00:00:00Z", SERVER + 'source = "ssm"\n'),  # us-west-2's value at the cutoff
    "ssm-before-history": ("2024-10-01T00:00:00Z", SERVER + 'source = "ssm"\n'),
    "ssm-names-a-decoy": ("2025-01-15T00:00:00Z", 'image = "ubuntu 22.04"\nregions = ["eu-west-1"]\nsource = "ssm"\n'),
    "ssm-unpublished": ("2025-01-15T00:00:00Z", 'image = "ubuntu 24.04"\nregions = ["us-east-1"]\nsource = "ssm"\n'),
    "nothing-before-cutoff": ("2024-01-01T00:00:00Z", SERVER),
    "raw-ami-unknown": ("2025-01-15T00:00:00Z", 'image = "ami-0123456789abcdef0"\nregions = ["us-east-1"]\n'),
}


def write_intent(folder: Path, cutoff: str, base: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "image.toml"
    path.write_text(f'name = "image"\n\n[universe]\ncutoff = "{cutoff}"\n\n[base]\n{base}')
    return path


def without_credentials(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """No credential anywhere boto3 looks (and AWS_ENDPOINT_URL left pointing at moto: replay must not follow it)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(folder / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(folder / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    aws.reset()


@pytest.mark.parametrize("case", list(INTENTS))
def test_replay_and_moto_give_the_same_answer(
    case: str, tmp_path: Path, moto_server: MotoServer, lock_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    cutoff, base = INTENTS[case]
    by_moto = write_intent(tmp_path / "moto", cutoff, base)
    moto = lock_cli("update", str(by_moto))
    snapshot = write_snapshot(tmp_path / "snapshot", SEED)
    by_replay = write_intent(tmp_path / "replay", cutoff, base)
    without_credentials(monkeypatch, tmp_path)
    before = tree_digest(tmp_path / "replay")
    replay = lock_cli("update", str(by_replay), "--replay", str(snapshot))
    assert replay.code == moto.code, (moto.err, replay.err)
    assert replay.err.replace(str(by_replay), "INTENT") == moto.err.replace(str(by_moto), "INTENT")
    if moto.code == 0:
        assert by_replay.with_suffix(".lock").read_text() == by_moto.with_suffix(".lock").read_text()
    else:
        assert moto.code == 2 and "\n" not in replay.err.strip()
        assert tree_digest(tmp_path / "replay") == before


def test_agreement_covers_the_decoy_and_the_cutoff(tmp_path: Path) -> None:
    # what the agreement above is about: these locks are not trivially empty
    snapshot = write_snapshot(tmp_path / "snapshot", SEED)
    intent = write_intent(tmp_path / "x", *INTENTS["newest-before-cutoff"])
    update(intent, replay=snapshot)
    amis = tomllib.loads(intent.with_suffix(".lock").read_text())["base"]["amis"]
    assert [(a["region"], a["id"]) for a in amis] == [
        ("us-east-1", "ami-0a1b2c3d4e5f60002"),
        ("us-west-2", "ami-0f9e8d7c6b5a40001"),
    ]


def _no_aws_recording(folder: Path) -> Path:
    folder.mkdir()
    (folder / "snapshot.json").write_text(json.dumps({"indexes": {}}))
    return folder


@pytest.mark.parametrize(
    ("make_snapshot", "base", "expected"),
    [
        # a region the recording lacks
        (
            lambda folder: write_snapshot(folder, SEED),
            'image = "ubuntu 22.04"\nregions = ["us-east-1", "eu-central-1"]\n',
            "base.regions[1]: eu-central-1 is not in the replayed snapshot "
            '(its snapshot.json lists the AWS recording under "aws")',
        ),
        # a snapshot with no AWS recording at all
        (
            _no_aws_recording,
            SERVER,
            "base.regions[0]: us-east-1 is not in the replayed snapshot "
            '(its snapshot.json lists the AWS recording under "aws")',
        ),
        # a raw AMI the recording lacks (ami-0a1b2c3d4e5f60002 is us-east-1's)
        (
            lambda folder: write_snapshot(folder, SEED),
            'image = "ami-0a1b2c3d4e5f60002"\nregions = ["us-west-2"]\n',
            "base.image: ami-0a1b2c3d4e5f60002 not found in us-west-2",
        ),
    ],
)
def test_what_the_recording_cannot_answer_is_one_line(
    tmp_path: Path, lock_cli, make_snapshot, base: str, expected: str
) -> None:
    snapshot = make_snapshot(tmp_path / "snapshot")
    intent = write_intent(tmp_path / "x", "2025-01-15T00:00:00Z", base)
    before = tree_digest(tmp_path)
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 2
    assert run.err.strip() == f"lock: error: {intent}: {expected}"
    assert tree_digest(tmp_path) == before


@pytest.mark.parametrize(
    ("recording", "key", "expected"),
    [
        ("{", None, "not valid JSON"),
        ('{"regions": []}', "regions", "expected a table of region"),
        ('{"regions": {"moon-1": {}}}', "regions.moon-1", "expected an AWS region"),
        (
            '{"regions": {"us-east-1": {"images": [{"ImageId": "ami-1"}]}}}',
            "regions.us-east-1.images[0].ImageId",
            "expected an AMI id",
        ),
        (
            '{"regions": {"us-east-1": {"images": [{"ImageId": "ami-0123456789abcdef0", "Owner": "x"}]}}}',
            "regions.us-east-1.images[0].Owner",
            "unknown DescribeImages field",
        ),
        (
            '{"regions": {"us-east-1": {"images": [{"ImageId": "ami-0123456789abcdef0", "Public": "yes"}]}}}',
            "regions.us-east-1.images[0].Public",
            "expected a boolean",
        ),
        ('{"regions": {"us-east-1": {"ssm": {"/a": 1}}}}', "regions.us-east-1.ssm./a", "expected a table of SSM"),
        (
            '{"regions": {"us-east-1": {"ssm": {"/a": [{"Version": 1, "Value": "x", "LastModifiedDate": "soon"}]}}}}',
            "regions.us-east-1.ssm./a[0].LastModifiedDate",
            "expected a UTC time",
        ),
        (
            '{"regions": {"us-east-1": {"ssm": {"/a": [{"Version": 1, "Value": "x", "LastModifiedDate": '
            '"2025-01-01T00:00:00Z"}, {"Version": 1, "Value": "y", "LastModifiedDate": "2025-01-02T00:00:00Z"}]}}}}',
            "regions.us-east-1.ssm./a[1].Version",
            "version 1 is recorded twice",
        ),
    ],
)
def test_a_malformed_recording_is_one_line(
    tmp_path: Path, lock_cli, recording: str, key: str | None, expected: str
) -> None:
    snapshot = write_snapshot(tmp_path / "snapshot", SEED)
    (snapshot / "aws" / "images.json").write_text(recording)
    intent = write_intent(tmp_path / "x", "2025-01-15T00:00:00Z", SERVER)
    before = tree_digest(tmp_path)
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 2
    where = f"{snapshot / 'aws' / 'images.json'}: " + (f"{key}: " if key else "")
    assert run.err.strip().startswith(f"lock: error: {where}") and expected in run.err, run.err
    assert "\n" not in run.err.strip()
    assert tree_digest(tmp_path) == before


def test_no_credential_is_read_or_sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, str]] = []

    class Watching(_Handler):
        def do_POST(self) -> None:  # noqa: N802
            seen.append(dict(self.headers))
            super().do_POST()

    # credentials in every place boto3 would look: none may reach the wire
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDSENTINELSENTINEL")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "sentinel-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "sentinel-token")
    aws.reset()
    snapshot = write_snapshot(tmp_path / "snapshot", SEED)
    intent = write_intent(tmp_path / "x", "2025-02-01T00:00:00Z", SERVER + 'source = "ssm"\n')
    handler: type[BaseHTTPRequestHandler] = Watching
    update(intent, replay=ReplayServer(Snapshot.open(snapshot), handler=handler))  # update() serves it
    assert len(seen) == 4  # GetParameter and DescribeImages, per region
    for headers in seen:
        assert "Authorization" not in headers and "X-Amz-Security-Token" not in headers
        assert "sentinel" not in json.dumps(headers).lower()
    assert "sentinel" not in intent.with_suffix(".lock").read_text().lower()


# --- the wire protocol, asked directly ------------------------------------------------


@pytest.fixture
def replayed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    without_credentials(monkeypatch, tmp_path)
    snapshot = write_snapshot(tmp_path / "snapshot", SEED)
    with ReplayServer(Snapshot.open(snapshot)) as server:
        yield lambda service, region="us-east-1": aws.client(
            service, region, endpoint_url=server.local_aws(region, service), unsigned=True
        )


def ids(answer: dict) -> list[str]:
    return sorted(image["ImageId"] for image in answer["Images"])


def test_filters_follow_aws_semantics(replayed) -> None:
    ec2 = replayed("ec2")
    jammy = "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-2024????"
    assert ids(ec2.describe_images(Filters=[{"Name": "name", "Values": [jammy]}])) == [
        "ami-0a1b2c3d4e5f60001",
        "ami-0a1b2c3d4e5f60002",
    ]
    # values of one filter are alternatives; filters all apply; owners are alternatives
    both = ec2.describe_images(
        Owners=["111122223333", "099720109477"],
        Filters=[
            {"Name": "name", "Values": ["*-20250110", "*-20250124"]},
            {"Name": "architecture", "Values": ["x86_64"]},
        ],
    )
    assert ids(both) == ["ami-0a1b2c3d4e5f60003", "ami-0a1b2c3d4e5f60005"]
    assert ids(ec2.describe_images(Owners=["099720109477"], Filters=[{"Name": "name", "Values": ["*-20250110"]}])) == []
    # `?` is exactly one character, matching is whole-value and case-sensitive, `\` escapes
    assert ids(ec2.describe_images(Filters=[{"Name": "name", "Values": ["ubuntu/images/*-2024120?"]}])) == [
        "ami-0a1b2c3d4e5f60002",
        "ami-0a1b2c3d4e5f60004",
    ]
    assert ids(ec2.describe_images(Filters=[{"Name": "name", "Values": ["ubuntu/images/*-202412?"]}])) == []
    assert ids(ec2.describe_images(Filters=[{"Name": "name", "Values": ["UBUNTU/*"]}])) == []
    assert ids(ec2.describe_images(Filters=[{"Name": "name", "Values": ["ubuntu/images/hvm-ssd/\\*"]}])) == []
    assert ids(
        ec2.describe_images(
            Filters=[
                {"Name": "creation-date", "Values": ["2024-12-06T*"]},
                {"Name": "is-public", "Values": ["true"]},
                {"Name": "owner-id", "Values": ["099720109477"]},
            ]
        )
    ) == ["ami-0a1b2c3d4e5f60002", "ami-0a1b2c3d4e5f60004"]
    # an id and an owner that disagree: an empty answer, not an error
    assert ids(ec2.describe_images(ImageIds=["ami-0a1b2c3d4e5f60005"], Owners=["099720109477"])) == []
    assert ids(ec2.describe_images(Owners=["self"])) == []


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        (
            {"ImageIds": ["ami-0123456789abcdef0"]},
            "InvalidAMIID.NotFound",
            "The image id '[ami-0123456789abcdef0]' does not exist",
        ),
        (
            {"ImageIds": ["ami-0a1b2c3d4e5f60001", "ami-00000000", "ami-11111111"]},
            "InvalidAMIID.NotFound",
            "The image ids '[ami-00000000, ami-11111111]' do not exist",
        ),
        ({"ImageIds": ["ami-12345"]}, "InvalidAMIID.Malformed", 'Invalid id: "ami-12345" (expecting "ami-...")'),
        ({"Filters": [{"Name": "colour", "Values": ["x"]}]}, "InvalidParameterValue", "The filter 'colour' is invalid"),
        (
            {"Filters": [{"Name": "tag:Name", "Values": ["x"]}]},
            "UnsupportedOperation",
            "the replayed recording does not answer the filter 'tag:Name'",
        ),
        (
            {"IncludeDeprecated": True},
            "UnsupportedOperation",
            "the replayed recording does not answer the parameter IncludeDeprecated",
        ),
    ],
)
def test_ec2_errors_are_ec2_errors(replayed, query: dict, code: str, message: str) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as caught:
        replayed("ec2").describe_images(**query)
    assert caught.value.response["Error"] == {"Code": code, "Message": message}
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_ssm_answers_per_region(replayed) -> None:
    import datetime as dt

    from botocore.exceptions import ClientError

    name = "/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id"
    assert replayed("ssm", "us-west-2").get_parameter(Name=name)["Parameter"] == {
        "Name": name,
        "Value": "ami-0f9e8d7c6b5a40002",
        "Version": 2,
        "LastModifiedDate": dt.datetime(2025, 1, 24, 12, 30, tzinfo=dt.UTC).astimezone(),
        "Type": "String",
    }
    with pytest.raises(ClientError) as caught:
        replayed("ssm").get_parameter(Name=name.replace("22.04", "24.04"))
    assert caught.value.response["Error"]["Code"] == "ParameterNotFound"
    with pytest.raises(ClientError) as caught:
        replayed("ssm").get_parameters(Names=[name])
    assert caught.value.response["Error"]["Code"] == "UnknownOperationException"


def test_ssm_history_pages_as_aws_does(replayed) -> None:
    from botocore.exceptions import ClientError

    name = "/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id"
    ssm = replayed("ssm", "us-west-2")
    first = ssm.get_parameter_history(Name=name, MaxResults=1)
    assert [p["Version"] for p in first["Parameters"]] == [1] and first["NextToken"]
    second = ssm.get_parameter_history(Name=name, MaxResults=1, NextToken=first["NextToken"])
    assert [p["Value"] for p in second["Parameters"]] == ["ami-0f9e8d7c6b5a40002"] and "NextToken" not in second
    pages = ssm.get_paginator("get_parameter_history").paginate(Name=name, PaginationConfig={"PageSize": 1})
    assert [p["Version"] for page in pages for p in page["Parameters"]] == [1, 2]
    with pytest.raises(ClientError) as caught:
        ssm.get_parameter_history(Name=name, NextToken="7")
    assert caught.value.response["Error"]["Code"] == "InvalidNextToken"


def test_a_parameter_recorded_without_its_history_is_refused_when_it_changed_after_the_cutoff(
    tmp_path: Path, lock_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bare value is GetParameter's value alone: no version, no date, no history (as AWS gives none for
    # public parameters): nothing says what the parameter held at the cutoff.
    without_credentials(monkeypatch, tmp_path)
    snapshot = write_snapshot(tmp_path / "snapshot", SEED)
    recording = json.loads((snapshot / "aws" / "images.json").read_text())
    name = "/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id"
    recording["regions"]["us-east-1"]["ssm"][name] = "ami-0a1b2c3d4e5f60002"
    (snapshot / "aws" / "images.json").write_text(json.dumps(recording))
    intent = write_intent(tmp_path / "x", "2025-01-15T00:00:00Z", SERVER + 'source = "ssm"\n')
    before = tree_digest(tmp_path)
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 2
    assert run.err.strip() == (
        f"lock: error: {intent}: base.source: SSM {name} in us-east-1 answers no version or date for its value, "
        "so nothing says it held it before the cutoff 2025-01-15T00:00:00Z, and SSM gives no history of it (GetParameterHistory: UnsupportedOperation: "
        f"the replayed recording holds no history of {name}); leave source out to take the newest image before "
        "the cutoff by name"
    )
    assert tree_digest(tmp_path) == before


# --- the seed's own recording ---------------------------------------------------------


def test_the_seed_recording_locks_the_seed_base(tmp_path: Path, lock_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    without_credentials(monkeypatch, tmp_path)
    intent = write_intent(
        tmp_path / "x", "2025-05-01T00:00:00Z", 'image = "ami-0f244b28200b93640"\nregions = ["eu-west-2"]\n'
    )
    run = lock_cli("update", str(intent), "--replay", str(SEED_SNAPSHOT))
    assert run.code == 0, run.err
    base = tomllib.loads(intent.with_suffix(".lock").read_text())["base"]
    assert base == {
        "image": "ami-0f244b28200b93640",
        "amis": [
            {
                "region": "eu-west-2",
                "id": "ami-0f244b28200b93640",
                "name": "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20240126",
                "creation-date": "2024-01-26T02:50:50Z",
                "owner": "099720109477",
                "root-device": "/dev/sda1",
            }
        ],
    }


def test_the_seed_recording_cannot_claim_a_newest_image(
    tmp_path: Path, lock_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one recorded image, without the architecture or state no source gives: a trimmed
    # recording cannot show which image was newest, so a named image is refused, not guessed
    without_credentials(monkeypatch, tmp_path)
    intent = write_intent(tmp_path / "x", "2025-05-01T00:00:00Z", 'image = "ubuntu 22.04"\nregions = ["eu-west-2"]\n')
    run = lock_cli("update", str(intent), "--replay", str(SEED_SNAPSHOT))
    assert run.code == 2
    assert run.err.strip() == (
        f"lock: error: {intent}: base.image: no ubuntu 22.04 amd64 image by Canonical "
        "(099720109477) created before 2025-05-01T00:00:00Z in eu-west-2"
    )
