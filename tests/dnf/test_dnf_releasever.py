"""`releasever = "latest"`: universe.cutoff chooses the AL2023 release version from the release list
(releasemd.xml), served on loopback beside the signed repositories; a list that is not one refuses the
update in one line (exit 2, nothing written).

The list is tests/fixtures/al2023-releases/releasemd.xml: real AL2023 release versions in the file's
format (sources in its README). Every release version is served the same signed repositories."""

from __future__ import annotations

import datetime as dt
import shutil
import tomllib
from pathlib import Path

import pytest

from imagelock.formats import releasemd
from tests.dnf import scenario
from tests.dnf.conftest import Repos, write_intent
from tests.dnf.rpmrepo import RpmKey
from tests.imagelock_testing import tree_digest

RELEASES = Path(__file__).parent.parent / "fixtures" / "al2023-releases" / "releasemd.xml"


def _serve_every_release(repos: Repos) -> None:
    """Each release version of the list names the same signed repositories (a symlink per version)."""
    shutil.copy(RELEASES, repos.root / "releasemd.xml")
    for release in releasemd.parse(RELEASES.read_bytes()):
        if release.version != scenario.RELEASEVER:
            (repos.root / release.version).symlink_to(repos.root / scenario.RELEASEVER)


def _intent(tmp_path: Path, repos: Repos, key: Path, cutoff: str, listing: str = "releasemd.xml") -> Path:
    path = write_intent(tmp_path, repos, key, ["gcc14"])
    text = path.read_text()
    text = text.replace('cutoff = "2025-01-01T00:00:00Z"', f'cutoff = "{cutoff}"')
    text = text.replace(
        f'releasever = "{scenario.RELEASEVER}"',
        f'releasever = "latest"\nrelease-list = "{repos.server.url}/{listing}"',
    )
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("cutoff", "chosen"),
    [
        ("2024-12-12T23:59:59Z", "2023.6.20241121"),  # during the day 20241212 names: not yet
        ("2024-12-13T00:00:00Z", "2023.6.20241212"),  # at the end of that day
        ("2025-01-10T00:00:00Z", "2023.6.20250107"),  # after it: 20250107 is out, 20250115 is not
        ("2025-12-19T00:00:00Z", "2023.9.20251208"),  # seed 004's window: minor 9
        ("2027-01-01T00:00:00Z", "2023.10.20260105"),  # the newest in the list
    ],
)
def test_cutoff_chooses_the_release_version(
    tmp_path: Path, repos: Repos, rpm_key: RpmKey, lock_cli, cutoff: str, chosen: str
) -> None:
    _serve_every_release(repos)
    intent = _intent(tmp_path, repos, rpm_key.armored, cutoff)
    run = lock_cli("update", str(intent))
    assert run.code == 0, run.err
    table = tomllib.loads(intent.with_suffix(".lock").read_text())["dnf"]
    assert table["releasever"] == chosen
    assert table["repos"][0]["baseurl"] == f"{repos.server.url}/{chosen}/x86_64/core"
    assert table["release-list"] == f"{repos.server.url}/releasemd.xml"
    assert len(table["release-list-sha256"]) == 64
    assert f"releasever {chosen}" in run.out
    check = lock_cli("check", str(intent))
    assert check.code == 0, check.out + check.err
    assert f"not verified: dnf releasever {chosen}: chosen from" in check.out + check.err
    again = lock_cli("update", str(intent))  # same intent, same cutoff: the lock is kept as it is
    assert again.code == 0 and tomllib.loads(intent.with_suffix(".lock").read_text())["dnf"]["releasever"] == chosen


MALFORMED = {
    "not-xml": b"<root><releases><release version=",
    # aquasecurity/vuln-list-update amazon/testdata/fixtures/releasemd_invalid.xml, verbatim
    "no-release": b'<?xml version="1.0" encoding="utf8"?>\n<root>\n</root>\n',
    "not-a-version": b'<root><releases><release version="latest"/></releases></root>',
    "not-a-date": b'<root><releases><release version="2023.6.20241399"/></releases></root>',
    "an-update-without-version": b'<root><releases><release version="2023.6.20241212">'
    b"<update><release_notes>x</release_notes></update></release></releases></root>",
    "html": b"<html><body>Access Denied</body></html>",
    "entities": b'<!DOCTYPE root [<!ENTITY a "2023.6.20241212">]><root/>',
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_release_list_is_one_line_exit_2_nothing_written(
    tmp_path: Path, repos: Repos, rpm_key: RpmKey, lock_cli, case: str
) -> None:
    (repos.root / "bad.xml").write_bytes(MALFORMED[case])
    intent = _intent(tmp_path, repos, rpm_key.armored, "2025-01-10T00:00:00Z", "bad.xml")
    before = tree_digest(intent.parent)
    run = lock_cli("update", str(intent))
    assert run.code == 2, run.out + run.err
    assert tree_digest(intent.parent) == before
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1, run.err
    assert "bad.xml: not a release list" in lines[0], lines[0]


def test_a_missing_release_list_and_a_cutoff_before_every_release_are_refused(
    tmp_path: Path, repos: Repos, rpm_key: RpmKey, lock_cli
) -> None:
    _serve_every_release(repos)
    for listing, cutoff, says in (
        ("nowhere.xml", "2025-01-10T00:00:00Z", "nowhere.xml"),
        ("releasemd.xml", "2024-01-01T00:00:00Z", "no release in"),
    ):
        intent = _intent(tmp_path, repos, rpm_key.armored, cutoff, listing)
        before = tree_digest(intent.parent)
        run = lock_cli("update", str(intent))
        assert run.code == 2, run.out + run.err
        assert tree_digest(intent.parent) == before
        lines = [line for line in run.err.splitlines() if line.strip()]
        assert len(lines) == 1 and says in lines[0], run.err


def test_release_list_is_read_only_for_latest(tmp_path: Path, repos: Repos, rpm_key: RpmKey, lock_cli) -> None:
    intent = write_intent(tmp_path, repos, rpm_key.armored, ["gcc14"], dnf=f'release-list = "{repos.server.url}/x"')
    run = lock_cli("update", str(intent))
    assert run.code == 2 and "dnf.release-list" in run.err and "latest" in run.err


def test_the_newest_release_is_the_one_whose_whole_day_precedes_the_cutoff() -> None:
    releases = releasemd.parse(RELEASES.read_bytes())
    assert [r.version for r in releases][:3] == ["2023.6.20241111", "2023.6.20241121", "2023.6.20241212"]
    at = dt.datetime(2025, 11, 18, tzinfo=dt.UTC)
    chosen = releasemd.newest_before(releases, at)
    assert chosen is not None and chosen.version == "2023.9.20251117"
    assert releasemd.newest_before(releases, dt.datetime(2024, 11, 11, 23, tzinfo=dt.UTC)) is None


def test_upgrade_moves_a_latest_releasever_and_the_pr_body_says_minor(
    tmp_path: Path, repos: Repos, rpm_key: RpmKey, lock_cli
) -> None:
    """The refresh ritual's step 3: with the cutoff at update time, `--upgrade` takes the newest release."""
    _serve_every_release(repos)
    intent = _intent(tmp_path, repos, rpm_key.armored, "unused")
    intent.write_text(intent.read_text().replace('[universe]\ncutoff = "unused"\n', ""))
    lock = intent.with_suffix(".lock")
    first = lock_cli("update", str(intent), "--cutoff", "2024-12-13T00:00:00Z")
    assert first.code == 0, first.err
    assert tomllib.loads(lock.read_text())["dnf"]["releasever"] == "2023.6.20241212"
    kept = lock_cli("update", str(intent))  # no movement asked: the recorded cutoff and releasever stay
    assert kept.code == 0 and tomllib.loads(lock.read_text())["dnf"]["releasever"] == "2023.6.20241212"
    before = tmp_path / "before.lock"
    before.write_bytes(lock.read_bytes())
    moved = lock_cli("update", str(intent), "--upgrade")  # the cutoff moves to now: the newest release
    assert moved.code == 0, moved.err
    table = tomllib.loads(lock.read_text())
    assert table["dnf"]["releasever"] == "2023.10.20260105" and table["version"] == "1.1.0"
    body = lock_cli("diff", str(before), str(lock), "--format", "markdown")
    assert body.code == 1
    assert "- Version: 1.0.0 → **1.1.0** (minor: dnf moved (1 item))" in body.out
    assert "| changed | `releasever` | 2023.6.20241212 | 2023.10.20260105 |" in body.out
