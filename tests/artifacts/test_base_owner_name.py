"""`[base] owner + name` and Amazon's named images, answered by a recording of DLAMI-like images.

tests/fixtures/aws-dlami holds seed 004's five "Deep Learning Base AMI with Single
CUDA (Amazon Linux 2023)" images in us-east-1 (ids, names and dates as the seed's
describe-images table gives them), a look-alike of the same name from another
account, a labelled synthetic us-west-2 series, and two public describe-images
records quoted whole (README.md there). The replay serves them on loopback in EC2's
own protocol, and the real boto3 client asks it, as `lock update --replay` does.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from imagelock.intent.base import parse
from tests.imagelock_testing import tree_digest

from .conftest import FIXTURES
from .test_base_image_replay import without_credentials, write_intent

RECORDING = FIXTURES / "aws-dlami"
DLAMI = "Deep Learning Base AMI with Single CUDA (Amazon Linux 2023) *"
BOTH = 'regions = ["us-east-1", "us-west-2"]\n'
BY_NAME = f'owner = "amazon"\nname = "{DLAMI}"\n' + BOTH


def _update(lock_cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cutoff: str, base: str):
    without_credentials(monkeypatch, tmp_path)
    intent = write_intent(tmp_path / "x", cutoff, base)
    before = tree_digest(tmp_path / "x")
    run = lock_cli("update", str(intent), "--replay", str(RECORDING))
    return intent, run, before


def _amis(intent: Path) -> list[dict]:
    return tomllib.loads(intent.with_suffix(".lock").read_text())["base"]["amis"]


@pytest.mark.parametrize(
    ("cutoff", "east", "west"),
    [
        # between the 20251212 and 20251216 releases, in both regions
        ("2025-12-15T00:00:00Z", "ami-081e81b655efbb639", "ami-0d1a0000000051212"),
        # the look-alike (20251218, another account) is the newest name before the cutoff: never chosen
        ("2025-12-19T00:00:00Z", "ami-09f5f5e0999e6246c", "ami-0d1a0000000051212"),
        # us-east-1's 20251219 was created at 16:34, us-west-2's at 18:02: the same instant splits them
        ("2025-12-19T17:00:00Z", "ami-01a45bc7e19f2bb26", "ami-0d1a0000000051212"),
        ("2026-01-01T00:00:00Z", "ami-01a45bc7e19f2bb26", "ami-0d1a0000000051219"),
    ],
)
def test_the_cutoff_picks_the_newest_image_before_it_per_region(
    cutoff: str, east: str, west: str, tmp_path: Path, lock_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    intent, run, _ = _update(lock_cli, monkeypatch, tmp_path, cutoff, BY_NAME)
    assert run.code == 0, run.err
    assert [(a["region"], a["id"]) for a in _amis(intent)] == [("us-east-1", east), ("us-west-2", west)]


def test_the_owner_is_the_pin_by_alias_or_by_account(tmp_path: Path, lock_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    base = f'owner = "898082745236"\nname = "{DLAMI}"\nregions = ["us-east-1"]\n'
    intent, run, _ = _update(lock_cli, monkeypatch, tmp_path / "a", "2025-12-19T00:00:00Z", base)
    assert run.code == 0, run.err
    assert [a["id"] for a in _amis(intent)] == ["ami-09f5f5e0999e6246c"]
    # and the other account's image is found only when that account is named
    base = f'owner = "111122223333"\nname = "{DLAMI}"\nregions = ["us-east-1"]\n'
    intent, run, _ = _update(lock_cli, monkeypatch, tmp_path / "b", "2025-12-19T00:00:00Z", base)
    assert run.code == 0, run.err
    assert [a["id"] for a in _amis(intent)] == ["ami-0badbadbadbad1218"]


def test_the_lock_records_what_the_image_states(tmp_path: Path, lock_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    intent, run, _ = _update(lock_cli, monkeypatch, tmp_path, "2025-12-15T00:00:00Z", BY_NAME)
    assert run.code == 0, run.err
    base = tomllib.loads(intent.with_suffix(".lock").read_text())["base"]
    assert (base["image"], base["owner"], base["arch"]) == (DLAMI, "amazon", "amd64")
    east = base["amis"][0]
    assert east == {
        "region": "us-east-1",
        "id": "ami-081e81b655efbb639",
        "name": "Deep Learning Base AMI with Single CUDA (Amazon Linux 2023) 20251212",
        "creation-date": "2025-12-12T15:10:10Z",
        "owner": "898082745236",
        "root-device": "/dev/xvda",
        "description": east["description"],
        "supported-instances": [
            "g4dn",
            "g5",
            "g6",
            "gr6",
            "g6e",
            "p4d",
            "p4de",
            "p5",
            "p5e",
            "p5en",
            "p6-b200",
            "p6-b300",
        ],
    }
    assert east["description"].startswith("Supported EC2 instances: G4dn, G5")
    # the single-CUDA DLAMI states no driver or CUDA version in its name or description: none is recorded


def test_a_cutoff_before_every_match_is_one_line(tmp_path: Path, lock_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    intent, run, before = _update(lock_cli, monkeypatch, tmp_path, "2025-12-01T00:00:00Z", BY_NAME)
    assert run.code == 2
    assert run.err.strip() == (
        f"lock: error: {intent}: base.name: no image named '{DLAMI}' (amd64) by amazon created before "
        "2025-12-01T00:00:00Z in us-east-1 (5 newer)"
    )
    assert tree_digest(tmp_path / "x") == before


def test_amazon_linux_2023_by_its_short_name(tmp_path: Path, lock_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    base = 'image = "amazon linux 2023"\nregions = ["us-east-1"]\n'
    intent, run, _ = _update(lock_cli, monkeypatch, tmp_path, "2024-01-01T00:00:00Z", base)
    assert run.code == 0, run.err
    lock = tomllib.loads(intent.with_suffix(".lock").read_text())["base"]
    assert lock["image"] == "amazon-linux 2023" and "owner" not in lock
    assert [(a["id"], a["name"]) for a in lock["amis"]] == [
        ("ami-04fb7beeed4da358b", "al2023-ami-2023.2.20231016.0-kernel-6.1-x86_64")
    ]


def test_the_image_s_instance_families_judge_the_targets(
    tmp_path: Path, lock_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the AL2 DLAMI lists G4dn, G5, G6, Gr6, P4d, P4de, P5: not G6e
    name = "Deep Learning OSS Nvidia Driver AMI (Amazon Linux 2) Version *"
    base = f'owner = "amazon"\nname = "{name}"\nregions = ["us-east-1"]\n'
    intent, run, _ = _update(
        lock_cli, monkeypatch, tmp_path / "ok", "2025-01-01T00:00:00Z", base + 'instance-types = ["g5.xlarge"]\n'
    )
    assert run.code == 0, run.err
    intent, run, before = _update(
        lock_cli, monkeypatch, tmp_path / "no", "2025-01-01T00:00:00Z", base + 'instance-types = ["g6e.xlarge"]\n'
    )
    assert run.code == 1
    assert "[base] g6e.xlarge" in run.out + run.err
    assert "g6e, which it does not list (ami-0c4b8684fc96c1de0 (us-east-1))" in run.out + run.err
    assert not intent.with_suffix(".lock").exists() and tree_digest(tmp_path / "no" / "x") == before


def test_packer_logs_into_amazon_linux_as_ec2_user(tmp_path: Path, lock_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    intent, run, _ = _update(lock_cli, monkeypatch, tmp_path, "2025-12-15T00:00:00Z", BY_NAME)
    assert run.code == 0, run.err
    out = tmp_path / "build"
    generated = lock_cli("generate", str(intent.with_suffix(".lock")), "-o", str(out))
    assert generated.code == 0, generated.err
    template = (out / "image.pkr.hcl").read_text()
    assert 'variable "ssh_username" {\n  type    = string\n  default = "ec2-user"\n}' in template
    assert '"us-east-1" = "ami-081e81b655efbb639"' in template and '"us-east-1" = "/dev/xvda"' in template


# --- the intent, read strictly ----------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "key", "expected"),
    [
        (f'name = "{DLAMI}"\n' + BOTH, "base.owner", "expected the account that publishes the image"),
        ('owner = "amazon"\n' + BOTH, "base.name", "expected the image name to look for"),
        (
            f'owner = "Amazon Web Services"\nname = "{DLAMI}"\n' + BOTH,
            "base.owner",
            "expected a 12-digit AWS account id or one of: amazon, aws-marketplace, found 'Amazon Web Services'",
        ),
        (f'owner = "12345"\nname = "{DLAMI}"\n' + BOTH, "base.owner", "expected a 12-digit AWS account id"),
        ('owner = "amazon"\nname = "DLAMI {latest}"\n' + BOTH, "base.name", "expected an AMI name of 3-128"),
        ('owner = "amazon"\nname = "x"\n' + BOTH, "base.name", "expected an AMI name of 3-128"),
        ('owner = "amazon"\nname = ["a*"]\n' + BOTH, "base.name", "expected an AMI name of 3-128"),
        (f'image = "ubuntu 22.04"\n{BY_NAME}', "base.image", "give either image, or owner and name, not both"),
        (BY_NAME + 'source = "ssm"\n', "base.source", "found by name: leave source out"),
        (f'owner = "amazon"\nname = "{DLAMI}"\nregions = ["us-east-1", "us-east-1"]\n', "base.regions[1]", "twice"),
        ('image = "amazon-linux 2022"\n' + BOTH, "base.image", "unknown Amazon Linux release '2022'"),
        ('image = "parallelcluster latest"\n' + BOTH, "base.image", "expected a ParallelCluster 3 version"),
        ('image = "amazon-eks 1.2"\n' + BOTH, "base.image", 'as in "amazon-eks 1.29"'),
        ('image = "amazon-eks-gpu 1.29"\narch = "arm64"\n' + BOTH, "base.arch", "amd64 only"),
        ('image = "amazon-linux 2023"\nsource = "ssm"\n' + BOTH, "base.source", "leave source out"),
        ('image = "amazn-linux 2023"\n' + BOTH, "base.image", "unknown image 'amazn-linux'"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_key(
    base: str, key: str, expected: str, tmp_path: Path, lock_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    intent, run, before = _update(lock_cli, monkeypatch, tmp_path, "2025-12-15T00:00:00Z", base)
    assert run.code == 2
    assert run.err.startswith(f"lock: error: {intent}: {key}: ") and expected in run.err, run.err
    assert "\n" not in run.err.strip() and "Traceback" not in run.err
    assert tree_digest(tmp_path / "x") == before


@pytest.mark.parametrize(
    ("image", "arch", "owner", "pattern"),
    [
        ("amazon-linux 2023", "amd64", "amazon", "al2023-ami-2023.*-kernel-6.1-x86_64"),
        ("amazon-linux 2023", "arm64", "amazon", "al2023-ami-2023.*-kernel-6.1-arm64"),
        ("Amazon Linux 2", "amd64", "amazon", "amzn2-ami-kernel-5.10-hvm-*-x86_64-gp2"),
        ("parallelcluster 3.7.0", "amd64", "amazon", "aws-parallelcluster-3.7.0-amzn2-*"),
        ("amazon-eks 1.24", "amd64", "amazon", "amazon-eks-node-1.24-v*"),
        ("amazon-eks 1.29", "arm64", "amazon", "amazon-eks-arm64-node-1.29-v*"),
        ("amazon-eks-gpu 1.29", "amd64", "amazon", "amazon-eks-gpu-node-1.29-v*"),
        ("ubuntu 22.04", "amd64", "099720109477", "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*"),
    ],
)
def test_the_named_images_owner_and_pattern(image: str, arch: str, owner: str, pattern: str) -> None:
    parsed = parse({"image": image, "arch": arch, "regions": ["us-east-1"]}, Path("i.toml"))
    assert parsed is not None and (parsed.owner, parsed.name_pattern) == (owner, pattern)
