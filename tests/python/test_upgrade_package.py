"""Locked versions stay put; --upgrade-package moves only what it names."""

from __future__ import annotations

import tomllib
from pathlib import Path

from indexbuilder import Dist, build_snapshot

INTENT = """\
name = "small"
[universe]
cutoff = "{cutoff}"
[python]
requirements = ["alpha", "beta"]
bootstrap = []
"""


def _versions(lock: Path) -> dict[str, str]:
    return {p["name"]: p["version"] for p in tomllib.loads(lock.read_text())["python"]["packages"]}


def test_upgrade_package_moves_only_the_named_package(tmp_path: Path, lock_cli) -> None:
    snapshot = build_snapshot(
        tmp_path / "snap",
        [
            Dist("alpha", "1.0", "2024-01-01T00:00:00Z"),
            Dist("alpha", "2.0", "2025-01-01T00:00:00Z"),
            Dist("beta", "1.0", "2024-01-01T00:00:00Z", ["gamma>=1"]),
            Dist("beta", "2.0", "2025-01-01T00:00:00Z"),
            Dist("gamma", "1.0", "2024-01-01T00:00:00Z"),
        ],
    )
    intent = tmp_path / "small.toml"
    lock = tmp_path / "small.lock"
    intent.write_text(INTENT.format(cutoff="2024-06-01T00:00:00Z"))
    assert lock_cli("update", str(intent), "--replay", str(snapshot)).code == 0
    assert _versions(lock) == {"alpha": "1.0", "beta": "1.0", "gamma": "1.0"}
    locked = tomllib.loads(lock.read_text())["python"]["packages"]
    assert next(p for p in locked if p["name"] == "beta")["dependencies"] == ["gamma"]
    assert (
        next(p for p in locked if p["name"] == "alpha")["wheel"]["url"]
        == "https://files.example.invalid/alpha-1.0-py3-none-any.whl"
    )

    # The universe moves forward, but what is locked stays locked...
    intent.write_text(INTENT.format(cutoff="2025-06-01T00:00:00Z"))
    assert lock_cli("update", str(intent), "--replay", str(snapshot)).code == 0
    assert _versions(lock) == {"alpha": "1.0", "beta": "1.0", "gamma": "1.0"}
    # ...until one package is asked to move: only it does.
    assert lock_cli("update", str(intent), "--replay", str(snapshot), "--upgrade-package", "alpha").code == 0
    assert _versions(lock) == {"alpha": "2.0", "beta": "1.0", "gamma": "1.0"}
    assert lock_cli("update", str(intent), "--replay", str(snapshot), "--upgrade").code == 0
    assert _versions(lock) == {"alpha": "2.0", "beta": "2.0"}


def test_absent_cutoff_records_the_update_time_and_keeps_it(tmp_path: Path, lock_cli) -> None:
    snapshot = build_snapshot(tmp_path / "snap", [Dist("alpha", "1.0", "2024-01-01T00:00:00Z")])
    intent = tmp_path / "small.toml"
    intent.write_text('name = "small"\n[python]\nrequirements = ["alpha"]\nbootstrap = []\n')
    assert lock_cli("update", str(intent), "--replay", str(snapshot)).code == 0
    first = (tmp_path / "small.lock").read_bytes()
    universe = tomllib.loads(first.decode())["universe"]
    assert universe["source"] == "update-time"
    assert lock_cli("update", str(intent), "--replay", str(snapshot)).code == 0
    assert (tmp_path / "small.lock").read_bytes() == first


def test_index_credentials_never_reach_the_lock_or_the_output(tmp_path: Path, capfd) -> None:
    from imagelock.cli import main
    from imagelock.replay.server import ReplayServer, Snapshot

    snapshot = build_snapshot(
        tmp_path / "snap", [Dist("alpha", "1.0", "2024-01-01T00:00:00Z"), Dist("beta", "1.0", "2024-01-01T00:00:00Z")]
    )
    with ReplayServer(Snapshot.open(snapshot), port=0) as server:
        secret_url = server.index_url("pypi").replace("http://", "http://deploy:s3cr3t-t0ken@")
        intent = tmp_path / "small.toml"
        intent.write_text(
            INTENT.format(cutoff="2024-06-01T00:00:00Z").replace(
                "bootstrap = []", f'bootstrap = []\nindex-url = "{secret_url}"'
            )
        )
        assert main(["update", str(intent)]) == 0
        # and an error naming the index does not show the token either
        intent.write_text(intent.read_text().replace('"alpha", "beta"', '"alpha==9"'))
        assert main(["update", str(intent)]) in (1, 2)
    out, err = capfd.readouterr()
    lock_text = (tmp_path / "small.lock").read_text()
    assert "s3cr3t" not in lock_text and "s3cr3t" not in out and "s3cr3t" not in err
    assert "alpha-1.0-py3-none-any.whl" in lock_text


def test_upgrade_package_naming_no_locked_package_is_refused(tmp_path: Path, lock_cli) -> None:
    snapshot = build_snapshot(
        tmp_path / "snap",
        [Dist("alpha", "1.0", "2024-01-01T00:00:00Z"), Dist("beta", "1.0", "2024-01-01T00:00:00Z", ["gamma"])]
        + [Dist("gamma", "1.0", "2024-01-01T00:00:00Z")],
    )
    intent = tmp_path / "small.toml"
    lock = tmp_path / "small.lock"
    intent.write_text(INTENT.format(cutoff="2024-06-01T00:00:00Z"))
    assert lock_cli("update", str(intent), "--replay", str(snapshot)).code == 0
    before = lock.read_bytes()
    run = lock_cli("update", str(intent), "--replay", str(snapshot), "--upgrade-package", "gama")
    assert run.code == 2
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert "--upgrade-package: no package 'gama' in the lock (did you mean 'gamma'?)" in lines[0]
    assert "its packages: alpha, beta, gamma; nothing was written" in lines[0]
    assert lock.read_bytes() == before
    # a transitive package of the lock is a valid name
    assert lock_cli("update", str(intent), "--replay", str(snapshot), "--upgrade-package", "Gamma").code == 0
