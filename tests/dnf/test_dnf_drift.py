"""Drift of a dnf layer: the real collector reads a root filesystem's rpm database (`rpm -qa` with header
digests), and `lock drift --root` compares it with the lock: clean when the locked rpms are installed, a
finding for a missing package and one for another version."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from imagelock import domains
from imagelock.drift import collector
from tests.dnf.conftest import Repos, write_intent
from tests.dnf.rpmrepo import RpmKey, install_base


def _locked_root(tmp_path: Path, repos: Repos, rpm_key: RpmKey, lock_cli, names: list[str]) -> tuple[Path, Path]:
    intent = write_intent(tmp_path, repos, rpm_key.armored, ["gcc14", "kernel-devel"])
    assert lock_cli("update", str(intent)).code == 0
    root = tmp_path / "machine"
    packages = repos.path("core") / "Packages"
    install_base(root, [next(packages.glob(f"{name}.*.rpm")) for name in names], dbpath="/var/lib/rpm")
    lock_path = intent.with_suffix(".lock")
    lock, _ = domains.read_lock(lock_path)
    fingerprint = root / "etc" / "imagelock"  # as bootstrap.sh's step_fingerprint leaves it
    fingerprint.mkdir(parents=True)
    shutil.copy(lock_path, fingerprint / "lock.toml")
    (fingerprint / "lock.digest").write_text(lock.digest() + "\n")
    (fingerprint / "image").write_text(lock.image_name() + "\n")
    return lock_path, root


def test_collector_lists_the_rpm_database_with_header_digests(
    tmp_path: Path, repos: Repos, rpm_key: RpmKey, lock_cli
) -> None:
    _, root = _locked_root(tmp_path, repos, rpm_key, lock_cli, ["gcc14-14.2.1-1", "binutils-2.41-1"])
    out = subprocess.run([sys.executable, collector.__file__, "--root", str(root)], capture_output=True, check=True)
    facts = json.loads(out.stdout)
    rows = {tuple(r[:3]): r[3] for r in facts["rpm"]}
    assert set(rows) == {("binutils", "2.41-1", "x86_64"), ("gcc14", "14.2.1-1", "x86_64")}
    header = subprocess.run(
        ["rpm", "-qp", "--qf", "%{SHA256HEADER}", str(repos.path("core") / "Packages/gcc14-14.2.1-1.x86_64.rpm")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert rows[("gcc14", "14.2.1-1", "x86_64")] == header


def test_drift_is_clean_then_finds_missing_and_other_versions(
    tmp_path: Path, repos: Repos, rpm_key: RpmKey, lock_cli
) -> None:
    locked = ["gcc14-14.2.1-1", "libgcc14-14.2.1-1", "binutils-2.41-1", "kernel-devel-6.1.2-1"]
    lock, root = _locked_root(tmp_path, repos, rpm_key, lock_cli, [*locked, "kernel-devel-6.1.1-1"])
    run = lock_cli("drift", str(lock), "--root", str(root), "--json")
    assert run.code == 0, run.out + run.err
    subprocess.run(
        ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "-e", "--justdb", "--nodeps", "binutils"], check=True
    )
    subprocess.run(
        ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "-e", "--justdb", "--nodeps", "kernel-devel-6.1.2-1"],
        check=True,
    )
    run = lock_cli("drift", str(lock), "--root", str(root), "--json")
    assert run.code == 1, run.out + run.err
    report = json.loads(run.out)
    findings = {(f["layer"], f["kind"], f["subject"]) for m in report["machines"] for f in m["findings"]}
    assert findings == {
        ("dnf", "missing", "binutils.x86_64"),
        ("dnf", "changed-version", "kernel-devel.x86_64"),
    }, run.out
