"""The Amazon Linux example (locks/dlami.toml, seed 004's DLAMI image) runs offline like the seed example,
and `lock update --upgrade` on it with a later recorded universe is seed 004's refresh ritual: the newer
DLAMI of the same series, the instance types checked again, and a PR body with a minor version bump."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest
from imagelock_testing import ROOT

LATER = ROOT / "tests" / "fixtures" / "aws-dlami"  # the same series up to 20251219, and a look-alike


@pytest.fixture()
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example's intent, lock and snapshot, at the paths the docs give them, in a scratch directory."""
    (tmp_path / "locks").mkdir()
    for name in ("dlami.toml", "dlami.lock"):
        shutil.copy(ROOT / "locks" / name, tmp_path / "locks" / name)
    shutil.copytree(ROOT / "snapshots" / "dlami", tmp_path / "snapshots" / "dlami")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_example_runs_offline_as_documented(example: Path, lock_cli) -> None:
    committed = (example / "locks" / "dlami.lock").read_text()
    update = lock_cli("update", "locks/dlami.toml", "--replay", "snapshots/dlami")
    assert update.code == 0, update.err
    assert (example / "locks" / "dlami.lock").read_text() == committed  # the committed lock is what it makes
    check = lock_cli("check", "locks/dlami.toml")
    assert check.code == 0, check.out + check.err
    generate = lock_cli("generate", "locks/dlami.lock", "-o", "build/dlami")
    assert generate.code == 0, generate.err
    packer = (example / "build" / "dlami" / "image.pkr.hcl").read_text()
    assert '"us-east-1" = "ami-081e81b655efbb639"' in packer  # the 20251212 release, the newest before the cutoff
    assert 'default = "ec2-user"' in packer  # Amazon Linux's login, not Ubuntu's


def test_upgrade_with_a_later_universe_is_the_refresh_ritual_with_a_minor_bump(example: Path, lock_cli) -> None:
    shutil.copy(example / "locks" / "dlami.lock", example / "before.lock")
    run = lock_cli("update", "locks/dlami.toml", "--upgrade", "--replay", str(LATER))
    assert run.code == 0, run.err
    lock = tomllib.loads((example / "locks" / "dlami.lock").read_text())
    [ami] = lock["base"]["amis"]
    # the newest DLAMI of the series (not the newer-looking one another account publishes), still for g5
    assert (ami["id"], ami["name"][-8:]) == ("ami-01a45bc7e19f2bb26", "20251219")
    assert lock["version"] == "1.1.0"
    body = lock_cli("diff", "before.lock", "locks/dlami.lock", "--format", "markdown")
    assert body.code == 1  # they differ
    text = body.out
    assert text.startswith("## Lock refresh")
    assert "- Version: 1.0.0 → **1.1.0** (minor: a newer release of the same base image (`ami us-east-1`))" in text
    assert "| changed | `ami us-east-1` | ami-081e81b655efbb639 | ami-01a45bc7e19f2bb26 |" in text


def test_moving_to_another_instance_family_is_a_major_bump(example: Path, lock_cli) -> None:
    intent = example / "locks" / "dlami.toml"
    shutil.copy(example / "locks" / "dlami.lock", example / "before.lock")
    intent.write_text(intent.read_text().replace('["g5.xlarge"]', '["p5.48xlarge"]'))
    run = lock_cli("update", "locks/dlami.toml", "--upgrade", "--replay", str(LATER))
    assert run.code == 0, run.err
    assert tomllib.loads((example / "locks" / "dlami.lock").read_text())["version"] == "2.0.0"
    body = lock_cli("diff", "before.lock", "locks/dlami.lock", "--format", "markdown").out
    assert "**2.0.0** (major: a new generation (base `instance family p5`, base `instance family g5`))" in body


def test_upgrade_refuses_an_instance_type_the_newer_image_does_not_list(example: Path, lock_cli) -> None:
    """Step 2 on every refresh: the image's stated families judge the intent's instance types."""
    intent = example / "locks" / "dlami.toml"
    intent.write_text(intent.read_text().replace('["g5.xlarge"]', '["p3.2xlarge"]'))
    before = (example / "locks" / "dlami.lock").read_text()
    run = lock_cli("update", "locks/dlami.toml", "--upgrade", "--replay", str(LATER))
    assert run.code == 1, run.out + run.err
    assert "p3" in run.out + run.err, run.out + run.err
    assert (example / "locks" / "dlami.lock").read_text() == before
