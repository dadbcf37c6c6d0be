"""Run the real apt against an archive, with a private state directory.

Nothing of the machine's own apt configuration is read: APT_CONFIG points at
a file that moves Dir (and with it sources, lists, cache and apt.conf.d) into
a temporary directory, and the dpkg status file is ours.

By default this is the machine's apt-get; `setup(..., runner=...)` makes every
later command of that tree run another one, such as jammy's apt-get 2.4
unpacked by tools/jammy_apt.py (`<runner> apt-get ...`).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

_INST = re.compile(r"^Inst (\S+?)(?::\S+)? (?:\[\S+\] )?\((\S+) .*\[(\S+)\]\)", re.MULTILINE)
_REMV = re.compile(r"^Remv (\S+?)(?::\S+)? \[(\S+)\]", re.MULTILINE)
RUNNER = "IMAGELOCK_APT_RUNNER"  # in the environment setup() returns: the runner of another apt-get


def setup(
    root: Path,
    url: str,
    keyring: Path | None,
    suites: list[str],
    components: list[str],
    arch: str = "amd64",
    status: str = "",
    foreign: tuple[str, ...] = (),
    runner: Path | None = None,
    extra_sources: str = "",
    preferences: str = "",
    list_archive: bool = True,
) -> dict[str, str]:
    """Write the private apt tree and run `apt-get update`; returns the environment to run apt with.

    With `runner`, that apt-get and every later one of this tree (`command`, `simulate`) is
    `<runner> apt-get`, e.g. jammy's apt-get from tools/jammy_apt.py. `extra_sources` are more
    sources.list lines (another repository), `preferences` an apt preferences file. With `list_archive`
    false, sources.list does not name the archive: a source under root/etc/apt/sources.list.d must (what
    a build wrote there).
    """
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
    entries = [f"deb [arch={arches} {option}] {url} {s} {' '.join(components)}\n" for s in suites]
    (root / "etc/apt/sources.list").write_text("".join(entries if list_archive else []) + extra_sources)
    (root / "etc/apt/preferences.d/test").write_text(preferences)
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
    env.pop(RUNNER, None)
    if runner is not None:
        env[RUNNER] = str(runner)
    subprocess.run(command(env, ["-q", "update"]), env=env, check=True, capture_output=True, timeout=300)
    return env


def command(env: dict[str, str], args: list[str]) -> list[str]:
    """`apt-get ARGS` as the tree `env` belongs to runs it (the machine's, or through its runner)."""
    runner = env.get(RUNNER)
    return [runner, "apt-get", *args] if runner else ["apt-get", *args]


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


def removes(stdout: str) -> set[tuple[str, str]]:
    """{(name, version)} of the `Remv` lines of a simulated install (what apt would take away)."""
    return {(m[1], m[2]) for m in _REMV.finditer(stdout)}


def simulate(env: dict[str, str], packages: list[str]) -> tuple[int, set[tuple[str, str, str]], str]:
    """`apt-get install --simulate`: (exit code, {(name, version, arch)} it would install, output)."""
    argv = command(env, simulate_command(packages)[1:])
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    return result.returncode, installs(result.stdout), output


def status_stanza(name: str, version: str, arch: str, provides: str = "", fields: dict[str, str] | None = None) -> str:
    """A dpkg status record of an installed package; `fields` adds relations (Depends, Breaks ...)."""
    lines = [
        f"Package: {name}",
        "Status: install ok installed",
        "Maintainer: x <x@invalid>",
        f"Architecture: {arch}",
        f"Version: {version}",
    ]
    if provides:
        lines.append(f"Provides: {provides}")
    lines += [f"{key}: {value}" for key, value in (fields or {}).items()]
    lines.append("Description: base image package")
    return "\n".join(lines) + "\n\n"
