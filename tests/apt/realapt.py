"""Run the real apt against an archive, with a private state directory.

Nothing of the machine's own apt configuration is read: APT_CONFIG points at
a file that moves Dir (and with it sources, lists, cache and apt.conf.d) into
a temporary directory, and the dpkg status file is ours.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

_INST = re.compile(r"^Inst (\S+?)(?::\S+)? (?:\[\S+\] )?\((\S+) .*\[(\S+)\]\)", re.MULTILINE)


def setup(
    root: Path,
    url: str,
    keyring: Path | None,
    suites: list[str],
    components: list[str],
    arch: str = "amd64",
    status: str = "",
    foreign: tuple[str, ...] = (),
) -> dict[str, str]:
    """Write the private apt tree and run `apt-get update`; returns the environment to run apt with."""
    for sub in (
        "etc/apt/apt.conf.d",
        "etc/apt/preferences.d",
        "etc/apt/sources.list.d",
        "etc/apt/trusted.gpg.d",
        "var/lib/apt/lists/partial",
        "var/cache/apt/archives/partial",
        "var/lib/dpkg",
        "var/log/apt",
    ):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "var/lib/dpkg/status").write_text(status)
    option = f"signed-by={keyring}" if keyring else "trusted=yes"
    arches = ",".join((arch, *foreign))
    (root / "etc/apt/sources.list").write_text(
        "".join(f"deb [arch={arches} {option}] {url} {s} {' '.join(components)}\n" for s in suites)
    )
    listed = " ".join(f'"{a}";' for a in (arch, *foreign))
    config = root / "apt.conf"
    config.write_text(
        f'Dir "{root}/";\n'
        f'Dir::State::status "{root}/var/lib/dpkg/status";\n'
        f'APT::Architecture "{arch}";\nAPT::Architectures {{ {listed} }};\n'
        'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n'
        'APT::Sandbox::User "root";\nDebug::NoLocking "true";\n'
        'Acquire::Languages "none";\nAcquire::Check-Valid-Until "false";\n'
        'Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled "false";\n'
    )
    env = {**os.environ, "APT_CONFIG": str(config), "LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "-q", "update"], env=env, check=True, capture_output=True, timeout=300)
    return env


ORDERING_FAILURES = ("Could not configure", "Couldn't configure", "Conf Broken", "MaxLoopCount")


def planned(output: str) -> set[str]:
    """The names apt lists as NEW, upgraded or downgraded (what it would unpack)."""
    names: set[str] = set()
    for match in re.finditer(
        r"The following (?:NEW )?packages will be (?:installed|upgraded|DOWNGRADED):\n"
        r"((?:  .*\n)+)",
        output,
    ):
        names.update(match.group(1).split())
    return names


def simulate_command(packages: list[str]) -> list[str]:
    """The apt-get command line that computes a closure (shared with bench/apt_bench.py, which measures it)."""
    return ["apt-get", "install", "--simulate", "-q", "--no-install-recommends", *packages]


def installs(stdout: str) -> set[tuple[str, str, str]]:
    """{(name, version, arch)} of the `Inst` lines of a simulated install."""
    return {(m[1], m[2], m[3]) for m in _INST.finditer(stdout)}


def simulate(env: dict[str, str], packages: list[str]) -> tuple[int, set[tuple[str, str, str]], str]:
    """`apt-get install --simulate`: (exit code, {(name, version, arch)} it would install, output)."""
    result = subprocess.run(simulate_command(packages), env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    return result.returncode, installs(result.stdout), output


def status_stanza(name: str, version: str, arch: str, provides: str = "") -> str:
    lines = [
        f"Package: {name}",
        "Status: install ok installed",
        "Maintainer: x <x@invalid>",
        f"Architecture: {arch}",
        f"Version: {version}",
    ]
    if provides:
        lines.append(f"Provides: {provides}")
    lines.append("Description: base image package")
    return "\n".join(lines) + "\n\n"
