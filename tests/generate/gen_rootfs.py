"""A throwaway Debian root filesystem for running generated scripts, built with mmdebstrap.

The tarball is built once from this machine's own apt sources (so no archive
host is named here) and cached; each test unpacks a fresh copy and runs
commands in it with chroot. The chroot shares the host's network namespace, so
servers the test starts on 127.0.0.1 are reachable from inside.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tarfile
from pathlib import Path

# What the generated bootstrap.sh needs on a machine before its apt layer runs (and sudo, to test
# its re-exec as root from a login user, as on cloud images).
INCLUDE = ("python3-venv", "curl", "ca-certificates", "sudo")


def host_sources() -> list[Path]:
    """This machine's apt sources: deb822 files first, then one-line lists."""
    folder = Path("/etc/apt/sources.list.d")
    found = sorted(folder.glob("*.sources")) if folder.is_dir() else []
    if not found:
        found = [
            p
            for p in [Path("/etc/apt/sources.list"), *sorted(folder.glob("*.list"))]
            if p.is_file() and any(line.startswith("deb ") for line in p.read_text().splitlines())
        ]
    if not found:
        raise RuntimeError("no apt sources on this machine (/etc/apt/sources.list.d/*.sources or sources.list)")
    return found


def codename() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip('"')
    raise RuntimeError("/etc/os-release names no VERSION_CODENAME")


def cache_dir() -> Path:
    base = os.environ.get("IMAGELOCK_E2E_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "imagelock-e2e"
    )
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def tarball() -> Path:
    """The cached rootfs tarball, built on first use (about 25 s)."""
    suite = codename()
    sources = host_sources()
    key = hashlib.sha256("\n".join([suite, *INCLUDE, *(p.read_text() for p in sources)]).encode()).hexdigest()[:16]
    target = cache_dir() / f"{suite}-minbase-{key}.tar"
    if target.exists():
        return target
    partial = target.with_suffix(".partial.tar")
    command = [
        "mmdebstrap",
        "--quiet",
        "--variant=minbase",
        f"--include={','.join(INCLUDE)}",
        suite,
        str(partial),
        *[str(p) for p in sources],
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"mmdebstrap failed ({result.returncode}):\n{result.stderr[-3000:]}")
    partial.rename(target)
    for stale in cache_dir().glob(f"{suite}-minbase-*.tar"):
        if stale != target:
            stale.unlink()  # built from other sources or packages: never used again
    return target


def unpack(into: Path) -> Path:
    into.mkdir(parents=True)
    with tarfile.open(tarball()) as archive:
        archive.extractall(into, filter="fully_trusted")
    return into


def add_sudo_user(root: Path, name: str) -> None:
    """A login user who may sudo without a password, like a cloud image's default user."""
    subprocess.run(["chroot", str(root), "useradd", "--create-home", name], check=True, capture_output=True)
    rule = root / "etc" / "sudoers.d" / name
    rule.write_text(f"{name} ALL=(ALL) NOPASSWD:ALL\n")
    rule.chmod(0o440)


def run(
    root: Path, *argv: str, env: dict[str, str] | None = None, user: str | None = None, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    """Run a command inside the root filesystem, with a clean environment (as root, or as `user`)."""
    clean = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": f"/home/{user}" if user else "/root",
        "LANG": "C.UTF-8",
        **(env or {}),
    }
    chroot = ["chroot", f"--userspec={user}:{user}"] if user else ["chroot"]
    return subprocess.run([*chroot, str(root), *argv], env=clean, capture_output=True, text=True, timeout=timeout)
