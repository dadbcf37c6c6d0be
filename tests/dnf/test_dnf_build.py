"""The build of a dnf layer: bootstrap.sh carries each .rpm as quoted data and passes bash -n and shellcheck;
its rpm staging code, run for real, fetches each .rpm by address, checks size and sha256, and accepts only
a signature by the locked key (rpmkeys with a private database), refusing a foreign or missing signature."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.dnf.conftest import Repos, write_intent
from tests.dnf.rpmrepo import Rpm, RpmKey, build_rpms


@pytest.fixture
def generated(tmp_path: Path, repos: Repos, rpm_key: RpmKey, lock_cli) -> Path:
    intent = write_intent(tmp_path, repos, rpm_key.armored, ["gcc14", "epochy"])
    assert lock_cli("update", str(intent)).code == 0
    out = tmp_path / "generated"
    run = lock_cli("generate", str(intent.with_suffix(".lock")), "-o", str(out))
    assert run.code == 0, run.err
    return out / "bootstrap.sh"


def test_bootstrap_carries_the_rpms_and_is_shellcheck_clean(generated: Path, repos: Repos) -> None:
    script = generated.read_text()
    assert "\nstep_rpm\n" in script
    rows = re.search(r"readonly -a RPM_PACKAGES=\(\n(.*?)\n\)", script, re.S)
    assert rows is not None
    lines = rows.group(1).splitlines()
    assert len(lines) == 4 and lines[1].startswith("  epochy 1:1.0-1 noarch epochy-1.0-1.noarch.rpm ")
    assert lines[1].endswith(f" core {repos.url('core')}/Packages/epochy-1.0-1.noarch.rpm")
    assert "  core '-----BEGIN PGP PUBLIC KEY BLOCK-----'" in script
    assert subprocess.run(["bash", "-n", str(generated)], capture_output=True).returncode == 0
    lint = subprocess.run(
        ["shellcheck", "--severity=style", "--shell=bash", str(generated)], capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout


def _stage_harness(script: str, stage: Path) -> str:
    """The generated script's data, its fetch and verify helpers and its rpm section, without the steps that
    change the machine: stage_rpms runs for real, as root or not, and touches nothing outside `stage`."""
    data = script[script.index("readonly IMAGE_NAME=") : script.index("# --- everything below")]
    helpers = script[script.index("sha256_of() {") : script.index("check_lock_file() {")]
    rpm = script[script.index("readonly RPM_ROW=") : script.index("step_rpm() {")]
    return (
        "set -euo pipefail\n" + data + "log() { printf 'imagelock: %s\\n' \"$*\" >&2; }\n"
        "die() { printf 'imagelock: FAILED: %s\\n' \"$*\" >&2; exit 1; }\n"
        f"STAGE={stage}\nMIRROR=''\nROOT=''\n" + helpers.replace("readonly MIRROR=${MIRROR%/}", "") + rpm
        + 'rows=(); for ((i = 0; i < ${#RPM_PACKAGES[@]}; i += RPM_ROW)); do rows+=("$i"); done\n'
        'stage_rpms "${rows[@]}"\nprintf "%s\\n" "${RPMS[@]}"\n'
    )  # fmt: skip


def _run_stage(generated: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    harness = tmp_path / "stage.sh"
    harness.write_text(_stage_harness(generated.read_text(), tmp_path / "stage"))
    return subprocess.run(["bash", str(harness)], capture_output=True, text=True)


def test_rpm_staging_verifies_hash_and_signature_for_real(generated: Path, tmp_path: Path, repos: Repos) -> None:
    run = _run_stage(generated, tmp_path)
    assert run.returncode == 0, run.stderr
    staged = [Path(line) for line in run.stdout.splitlines()]
    assert {p.name for p in staged} == {
        "gcc14-14.2.1-1.x86_64.rpm", "libgcc14-14.2.1-1.x86_64.rpm", "binutils-2.41-1.x86_64.rpm",
        "epochy-1.0-1.noarch.rpm",
    }  # fmt: skip
    assert "fetched and verified 4 .rpms (sha256 and signature)" in run.stderr


def test_rpm_signed_by_another_key_is_rejected(
    generated: Path, tmp_path: Path, repos: Repos, stranger_key: RpmKey
) -> None:
    """Same bytes as locked would pass the sha256; so the lock is re-made over a repository whose rpm was
    re-signed by a stranger (and re-indexed): its sha256 is then the locked one, its signature is not."""
    packages = repos.path("core") / "Packages"
    [rebuilt] = build_rpms([Rpm("epochy", "1.0", epoch=1)], tmp_path / "evil", tmp_path / "evil-build", stranger_key)
    shutil.copy(rebuilt, packages / rebuilt.name)
    script = generated.read_text()
    row = re.search(r"  epochy 1:1.0-1 noarch epochy-1.0-1.noarch.rpm ([0-9a-f]{64}) ([0-9]+) ", script)
    assert row is not None
    data = rebuilt.read_bytes()
    script = script.replace(row.group(1), hashlib.sha256(data).hexdigest()).replace(
        f"{row.group(1)} {row.group(2)} ", f"{hashlib.sha256(data).hexdigest()} {len(data)} "
    )
    script = script.replace(f"{row.group(2)} core", f"{len(data)} core")
    generated.write_text(script)
    run = _run_stage(generated, tmp_path)
    assert run.returncode != 0
    assert "dnf package epochy: not signed by the locked key of repository core" in run.stderr


def test_rpm_with_other_bytes_is_rejected(generated: Path, tmp_path: Path, repos: Repos) -> None:
    target = repos.path("core") / "Packages" / "binutils-2.41-1.x86_64.rpm"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    run = _run_stage(generated, tmp_path)
    assert run.returncode != 0 and "dnf package binutils 2.41-1: sha256 mismatch" in run.stderr


def test_lock_mirror_copies_every_rpm_by_sha256_and_staging_reads_it_there(
    generated: Path, tmp_path: Path, repos: Repos, lock_cli
) -> None:
    lock = tmp_path / "intent" / "image.lock"
    mirror = tmp_path / "mirror"
    run = lock_cli("mirror", str(lock), "--to", str(mirror))
    assert run.code == 0, run.out + run.err
    table = tomllib.loads(lock.read_text())
    for p in table["dnf"]["packages"]:
        stored = mirror / "sha256" / p["sha256"]
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == p["sha256"]
    shutil.rmtree(repos.path("core") / "Packages")  # the repository is gone: the mirror alone serves
    harness = tmp_path / "stage.sh"
    harness.write_text(_stage_harness(generated.read_text(), tmp_path / "stage"))
    env = {**os.environ, "IMAGELOCK_MIRROR": str(mirror)}  # what an operator sets, as bootstrap.sh reads it
    staged = subprocess.run(["bash", str(harness)], capture_output=True, text=True, env=env)
    assert staged.returncode == 0, staged.stderr
    assert "fetched and verified 4 .rpms" in staged.stderr
