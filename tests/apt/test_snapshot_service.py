"""`[apt] snapshot-service`: universe.cutoff selects the archive's state on Ubuntu's or Debian's snapshot
service, each served on loopback in its real URL layout (tests/apt/snapshots.py); the lock records the
upstream archive, the service and the snapshot, and the build tries the snapshot's pool, then upstream's."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest
from imagelock_testing import tree_digest

from imagelock import cli, domains
from imagelock.domains.apt import deb_urls
from tests.apt.aptrepo import Deb, Key, build_repo
from tests.apt.helpers import lock_update, locked, write_intent
from tests.apt.snapshots import SnapshotServices

# Two imports of one archive: `tool` moved from 1.0 to 2.0 between them. The Release files are signed
# now, so the imports are dated after now: a snapshot never serves a Release newer than itself.
EARLY, LATE = "20990101T000000Z", "20990601T120000Z"
LAYOUTS = {
    "ubuntu": "{url}/ubuntu/@SNAPSHOTID@",
    "debian": "{url}/archive/debian/@SNAPSHOTID@",
}


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory, archive_key: Key) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("imports")
    early = build_repo(root / EARLY, {"stable": [Deb("tool", "1.0"), Deb("lib", "1.0")]}, archive_key)
    late = build_repo(root / LATE, {"stable": [Deb("tool", "2.0"), Deb("lib", "1.0")]}, archive_key)
    return {EARLY: early, LATE: late}


def _update(tmp_path: Path, services: SnapshotServices, layout: str, key: Key, capsys, **apt: object):
    intent = write_intent(
        tmp_path,
        f"{services.url}/upstream",
        key.keyring,
        ["tool"],
        suites=("stable",),
        snapshot_service=LAYOUTS[layout].format(url=services.url),
        **apt,
    )
    return intent, lock_update(intent, capsys)


@pytest.mark.parametrize("layout", ["ubuntu", "debian"])
@pytest.mark.parametrize(
    ("cutoff", "stamp", "version"),
    [
        ("2099-03-01T00:00:00Z", "20990301T000000Z", "1.0"),  # between the imports: the early one
        ("2099-06-01T12:00:00Z", LATE, "2.0"),  # exactly the late import
        ("2099-12-31T00:00:00Z", "20991231T000000Z", "2.0"),
    ],
)
def test_the_cutoff_selects_the_state_of_the_archive(
    tmp_path: Path,
    states: dict[str, Path],
    archive_key: Key,
    capsys,
    layout: str,
    cutoff: str,
    stamp: str,
    version: str,
) -> None:
    with SnapshotServices(states, upstream=states[LATE]) as services:
        intent, (code, out, err) = _update(
            tmp_path, services, layout, archive_key, capsys, cutoff=cutoff, snapshot=True
        )
    assert code == 0, err
    assert locked(intent)["tool"]["version"] == version
    apt = tomllib.loads(intent.with_suffix(".lock").read_text())["apt"]
    served = LAYOUTS[layout].format(url=services.url).replace("@SNAPSHOTID@", stamp)
    assert (apt["archive"], apt["snapshot"], apt["snapshot-service"]) == (
        f"{services.url}/upstream",
        stamp,
        LAYOUTS[layout].format(url=services.url),
    )
    assert [s["uri"] for s in apt["sources"]] == [served]
    # Every index came from the snapshot, none from the live archive.
    assert not any(p.startswith("/upstream/") for p in services.requests)
    # The build tries the snapshot's pool, then the upstream's.
    lock, _ = domains.read_lock(intent.with_suffix(".lock"))
    tool = next(p for p in lock.apt.packages if p.name == "tool")
    assert deb_urls(lock.apt)(tool) == (f"{served}/{tool.filename}", f"{services.url}/upstream/{tool.filename}")
    # ... and `lock check` finds nothing read live.
    run = cli.main(["check", str(intent)])
    out, _ = capsys.readouterr()
    assert run == 0 and "read live" not in out and "signed Release is dated" not in out


def test_debian_redirects_a_directory_to_its_import_and_serves_files_from_it(
    states: dict[str, Path],
) -> None:
    """The look-alike itself, as the real frontend answers (a regression guard for the layout above)."""
    import requests

    with SnapshotServices(states, upstream=states[LATE]) as services:
        directory = requests.get(f"{services.url}/archive/debian/20990301T000000Z/dists/", allow_redirects=False)
        file = requests.get(f"{services.url}/archive/debian/20990301T000000Z/dists/stable/InRelease")
        before = requests.get(f"{services.url}/archive/debian/20980101T000000Z/dists/stable/InRelease")
    assert (directory.status_code, directory.headers["Location"]) == (301, f"/archive/debian/{EARLY}/dists/")
    assert file.content == (states[EARLY] / "dists/stable/InRelease").read_bytes()
    assert before.status_code == 404


def test_a_snapshot_serving_a_newer_release_is_refused(
    tmp_path: Path, states: dict[str, Path], archive_key: Key, capsys
) -> None:
    """An import stamped before its Release was signed is not that snapshot: refused, nothing written."""
    with SnapshotServices({"20200101T000000Z": states[EARLY]}, upstream=states[LATE]) as services:
        intent, (code, out, err) = _update(
            tmp_path, services, "ubuntu", archive_key, capsys, snapshot="20200101T000000Z"
        )
    assert code == 2
    [line] = err.splitlines()
    assert "after snapshot 20200101T000000Z: this is not that snapshot" in line
    assert not intent.with_suffix(".lock").exists()


@pytest.mark.parametrize(
    ("service", "extra", "key", "expected"),
    [
        ("https://snapshot.example/ubuntu", {"snapshot": True}, "apt.snapshot-service", "with @SNAPSHOTID@"),
        ("ftp://snapshot.example/@SNAPSHOTID@", {"snapshot": True}, "apt.snapshot-service", "with @SNAPSHOTID@"),
        (
            "https://s.example/@SNAPSHOTID@/@SNAPSHOTID@",
            {"snapshot": True},
            "apt.snapshot-service",
            "with @SNAPSHOTID@",
        ),
        ("https://snapshot.example/ubuntu/@SNAPSHOTID@", {}, "apt.snapshot", "needs the snapshot to read"),
        (7, {"snapshot": True}, "apt.snapshot-service", "found 7"),
    ],
)
def test_a_bad_snapshot_service_is_one_line(
    tmp_path: Path, capsys, service: object, extra: dict[str, object], key: str, expected: str
) -> None:
    intent = write_intent(tmp_path, "https://archive.example/ubuntu", None, ["tool"], snapshot_service=service, **extra)
    before = tree_digest(tmp_path)
    code, out, err = lock_update(intent, capsys)
    assert code == 2
    [line] = err.splitlines()
    assert line.startswith(f"lock: error: {intent}: {key}: ") and expected in line
    assert tree_digest(tmp_path) == before


def test_the_fallback_to_the_upstream_pool_is_what_mirror_and_bootstrap_read(
    tmp_path: Path, states: dict[str, Path], archive_key: Key, capsys
) -> None:
    """bootstrap.sh's rows carry both pool URLs, in that order."""
    with SnapshotServices(states, upstream=states[LATE]) as services:
        intent, (code, out, err) = _update(
            tmp_path, services, "debian", archive_key, capsys, snapshot="20990301T000000Z"
        )
        assert code == 0, err
    generated = tmp_path / "generated"
    assert cli.main(["generate", str(intent.with_suffix(".lock")), "-o", str(generated)]) == 0
    capsys.readouterr()
    script = (generated / "bootstrap.sh").read_text()
    row = next(line for line in script.splitlines() if line.startswith("  tool "))
    assert row.split()[-2:] == [
        f"{services.url}/archive/debian/20990301T000000Z/pool/stable/tool_1.0_amd64.deb",
        f"{services.url}/upstream/pool/stable/tool_1.0_amd64.deb",
    ]
    shutil.rmtree(generated)
