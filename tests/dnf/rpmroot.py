"""The generated rpm-test.sh run into a root filesystem on this machine (`--root DIR`), and that root's rpm
database read back where Amazon Linux keeps it."""

from __future__ import annotations

import subprocess
from pathlib import Path

DBPATH = "/var/lib/rpm"  # where AL2023 (and the drift collector) keep the rpm database


def generate(intent: Path, lock_cli) -> Path:
    """`lock update` then `lock generate` of an intent; the directory of the generated files."""
    run = lock_cli("update", str(intent))
    assert run.code == 0, run.out + run.err
    out = intent.parent.parent / "generated"
    run = lock_cli("generate", str(intent.with_suffix(".lock")), "-o", str(out))
    assert run.code == 0, run.err
    return out


def rpm_test_root(generated: Path, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(generated / "rpm-test.sh"), "--root", str(root)], capture_output=True, text=True, timeout=300
    )


def installed(root: Path) -> set[str]:
    query = ["rpm", "--root", str(root), "--dbpath", DBPATH, "-qa", "--qf", "%{NEVRA}\n"]
    return set(subprocess.run(query, capture_output=True, text=True, check=True).stdout.split())


def manifest(root: Path) -> str:
    """The root's `rpm -qa` in the format `[dnf] base-manifest` reads."""
    query = r"%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\t%{ARCH}\n"
    return subprocess.run(
        ["rpm", "--root", str(root), "--dbpath", DBPATH, "-qa", "--qf", query],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
