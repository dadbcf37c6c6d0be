"""A base-image upgrade never leaves a broken image: regressions found by the jammy oracle, on small archives.

tests/apt/test_jammy_oracle.py compares imagelock with jammy's own apt-get over
Ubuntu 22.04's release-pocket base image (live). What it found is kept here on
small signed archives, with a base image whose dpkg status carries the
installed versions' dependencies (as a real one does), checked against the
machine's apt-get. The packages have no shared source, so apt >= 2.5 (which
also upgrades an upgraded package's sibling binaries) and jammy's 2.4 agree.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import pytest

from imagelock import cli
from tests.apt import realapt
from tests.apt.aptrepo import Key, RepoServer, write_suite
from tests.apt.helpers import locked, write_intent


def _stanza(name: str, version: str, **fields: str) -> str:
    lines = [f"Package: {name}", f"Version: {version}", "Architecture: amd64", "Priority: optional"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in fields.items()]
    lines += [
        f"Filename: pool/{name}_{version}_amd64.deb",
        "Size: 1000",
        "SHA256: " + "ab" * 32,
        f"Description: {name}",
    ]
    return "\n".join(lines) + "\n"


RELATIONS = ("Depends", "Pre-Depends", "Provides", "Conflicts", "Breaks")


def _status(stanzas: list[str], installed: list[tuple[str, str]]) -> str:
    """The dpkg status of the base image: each installed version with its relations as the archive lists them."""
    records = {}
    for text in stanzas:
        fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", text, re.MULTILINE))
        records[(fields["Package"], fields["Version"])] = fields
    out = []
    for name, version in installed:
        fields = records[(name, version)]
        out.append(
            realapt.status_stanza(name, version, "amd64", fields={k: fields[k] for k in RELATIONS if k in fields})
        )
    return "".join(out)


def _run(
    archive_key: Key, stable: list[str], updates: list[str], request: list[str], installed: list[tuple[str, str]]
) -> tuple[int, set[tuple[str, str, str]], str, int, Path, str]:
    """apt-get and `lock update` on one archive, base image and request."""
    folder = Path(tempfile.mkdtemp(prefix="apt-base-"))
    root = folder / "repo"
    write_suite(root, "stable", {"amd64": "\n".join(stable).encode()}, archive_key, by_hash=False)
    write_suite(root, "updates", {"amd64": "\n".join(updates).encode()}, archive_key, by_hash=False)
    with RepoServer(root) as server:
        status = _status(stable + updates, installed)
        env = realapt.setup(
            folder / "apt", server.url, archive_key.keyring, ["stable", "updates"], ["main"], status=status
        )
        code, theirs, output = realapt.simulate(env, request)
        manifest = folder / "base.txt"
        manifest.write_text("".join(f"{name}\t{version}\n" for name, version in installed))
        intent = write_intent(folder, server.url, archive_key.keyring, request, base_manifest=str(manifest))
        ours_code = cli.main(["update", str(intent)])
    return code, theirs, output, ours_code, intent, folder


# libgcc-s1 needs gcc-12-base at exactly its own version: upgrading gcc-12-base for gcc-12 upgrades libgcc-s1
# (jammy: gcc-12 from jammy-updates over the release pocket's libgcc-s1 and libstdc++6).
PINNED_SIBLING = (
    [
        _stanza("base", "1.0"),
        _stanza("lib", "1.0", Depends="base (= 1.0)"),
        _stanza("libxx", "1.0", Depends="base (= 1.0), lib (>= 1.0)"),
        _stanza("tool", "1.0"),
    ],
    [
        _stanza("base", "2.0"),
        _stanza("lib", "2.0", Depends="base (= 2.0)"),
        _stanza("libxx", "2.0", Depends="base (= 2.0), lib (>= 2.0)"),
        _stanza("tool", "2.0", Depends="base (>= 2.0)"),
    ],
    ["tool"],
    [("base", "1.0"), ("lib", "1.0"), ("libxx", "1.0")],
)
# The requested package is itself installed: libpython3.10-stdlib's upgrade takes python3.10 (= its version)
# along, and python3.10's new version needs python3.10-minimal, whose upgrade takes nothing more.
REQUESTED_UPGRADE = (
    [
        _stanza("stdlib", "1.0", Depends="minimal (= 1.0)"),
        _stanza("minimal", "1.0"),
        _stanza("python", "1.0", Depends="stdlib (= 1.0), pymin (= 1.0)"),
        _stanza("pymin", "1.0", Depends="minimal (= 1.0)"),
    ],
    [
        _stanza("stdlib", "2.0", Depends="minimal (= 2.0)"),
        _stanza("minimal", "2.0"),
        _stanza("python", "2.0", Depends="stdlib (= 2.0), pymin (= 2.0)"),
        _stanza("pymin", "2.0", Depends="minimal (= 2.0)"),
    ],
    ["stdlib"],
    [("stdlib", "1.0"), ("minimal", "1.0"), ("python", "1.0"), ("pymin", "1.0")],
)
# Each relation counts on its own: `base (<< 2.0)` breaks although `other` still meets its or-group, so apt
# upgrades `either`; `loose`'s `base (>= 1.0)` still holds and it stays.
PER_RELATION = (
    [
        _stanza("base", "1.0"),
        _stanza("loose", "1.0", Depends="base (>= 1.0)"),
        _stanza("either", "1.0", Depends="other | base (<< 2.0)"),
        _stanza("other", "1.0"),
        _stanza("tool", "1.0"),
    ],
    [
        _stanza("base", "2.0"),
        _stanza("loose", "2.0", Depends="base (>= 2.0)"),
        _stanza("either", "2.0", Depends="other | base (>= 2.0)"),
        _stanza("tool", "2.0", Depends="base (>= 2.0)"),
    ],
    ["tool"],
    [("base", "1.0"), ("loose", "1.0"), ("either", "1.0"), ("other", "1.0")],
)


def _two_dependents(first: str, second: str) -> tuple[list[str], list[str], list[str], list[tuple[str, str]]]:
    """Two installed packages break: the one apt's cache met first is upgraded (and expanded) first.

    r1's new version takes `x | y`, r2's takes `y`: after r2, y meets r1's group and x is not installed.
    """
    stable = [
        _stanza("base", "1.0"),
        _stanza(first, "1.0", Depends="base (= 1.0)"),
        _stanza(second, "1.0", Depends="base (= 1.0)"),
        _stanza("tool", "1.0"),
        _stanza("x", "1.0"),
        _stanza("y", "1.0"),
    ]
    updates = [
        _stanza("base", "2.0"),
        _stanza("r1", "2.0", Depends="base (= 2.0), x | y"),
        _stanza("r2", "2.0", Depends="base (= 2.0), y"),
        _stanza("tool", "2.0", Depends="base (>= 2.0)"),
    ]
    return stable, updates, ["tool"], [("base", "1.0"), ("r1", "1.0"), ("r2", "1.0")]


# A new package's Breaks on what the base image has: apt upgrades the installed package past it.
BREAKS_INSTALLED = (
    [_stanza("lib", "1.0"), _stanza("tool", "1.0")],
    [_stanza("lib", "2.0"), _stanza("tool", "2.0", Breaks="lib (<< 2.0)")],
    ["tool"],
    [("lib", "1.0")],
)
CASES = {
    "pinned-sibling": PINNED_SIBLING,
    "requested-upgrade": REQUESTED_UPGRADE,
    "per-relation": PER_RELATION,
    "dependents-in-cache-order": _two_dependents("r1", "r2"),
    "dependents-in-cache-order-reversed": _two_dependents("r2", "r1"),
    "breaks-installed": BREAKS_INSTALLED,
}


@pytest.mark.parametrize("case", list(CASES))
def test_upgrading_a_base_package_upgrades_what_it_would_break(archive_key: Key, case: str) -> None:
    stable, updates, request, installed = CASES[case]
    code, theirs, output, ours_code, intent, folder = _run(archive_key, stable, updates, request, installed)
    try:
        assert code == 0 and realapt.removes(output) == set(), output
        assert ours_code == 0, f"apt installed {sorted(theirs)}, imagelock refused"
        ours = {(p["name"], p["version"], p["arch"]) for p in locked(intent).values()}
        assert ours == theirs, output
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# Where apt keeps its choice and removes a base-image package instead, imagelock refuses, naming the chain.
REMOVALS = {
    "no-newer-version": (
        [_stanza("base", "1.0"), _stanza("lib", "1.0", Depends="base (= 1.0)"), _stanza("tool", "1.0")],
        [_stanza("base", "2.0"), _stanza("tool", "2.0", Depends="base (>= 2.0)")],
        "apt: upgrading base to 2.0 breaks the base image's lib=1.0 (it Depends: base (= 1.0)), and the archive "
        "has no newer lib: apt would remove lib from the image\ntool=2.0 (asked as 'tool') -> base=2.0",
    ),
    "newer-version-not-installable": (
        [_stanza("base", "1.0"), _stanza("lib", "1.0", Depends="base (= 1.0)"), _stanza("tool", "1.0")],
        [
            _stanza("base", "2.0"),
            _stanza("lib", "2.0", Depends="base (= 2.0), missing"),
            _stanza("tool", "2.0", Depends="base (>= 2.0)"),
        ],
        "apt: upgrading base to 2.0 breaks the base image's lib=1.0 (it Depends: base (= 1.0)), and lib 2.0 "
        "cannot be installed: apt would remove lib from the image\napt: cannot satisfy missing, needed by "
        "tool=2.0 (asked as 'tool') -> base=2.0 -> lib=2.0",
    ),
    # apt does not fall back to the other alternative: it upgrades base and removes lib
    "other-alternative-not-taken": (
        [
            _stanza("base", "1.0"),
            _stanza("lib", "1.0", Depends="base (= 1.0)"),
            _stanza("tool", "1.0"),
            _stanza("alt", "1.0"),
        ],
        [_stanza("base", "2.0"), _stanza("tool", "2.0", Depends="base (>= 2.0) | alt")],
        "apt: upgrading base to 2.0 breaks the base image's lib=1.0 (it Depends: base (= 1.0)), and the archive "
        "has no newer lib: apt would remove lib from the image",
    ),
    "breaks-every-version": (
        [_stanza("lib", "1.0"), _stanza("tool", "1.0")],
        [_stanza("lib", "2.0"), _stanza("tool", "2.0", Breaks="lib")],
        "apt: tool 2.0 Breaks: lib, which hits the base image's lib=1.0, and lib 2.0 is hit too: apt would "
        "remove lib from the image\ntool=2.0 (asked as 'tool')",
    ),
}


@pytest.mark.parametrize("case", list(REMOVALS))
def test_an_upgrade_apt_makes_by_removing_a_base_package_is_refused(archive_key: Key, capsys, case: str) -> None:
    stable, updates, message = REMOVALS[case]
    installed = [(name, "1.0") for name in ("base", "lib") if any(f"Package: {name}\n" in s for s in stable)]
    code, theirs, output, ours_code, intent, folder = _run(archive_key, stable, updates, ["tool"], installed)
    try:
        assert code == 0 and realapt.removes(output) == {("lib", "1.0")}, output
        out, err = capsys.readouterr()
        assert ours_code == 1, out + err
        assert message in out + err, out + err
        assert not intent.with_suffix(".lock").exists()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_installed_versions_the_archive_no_longer_lists_are_named(archive_key: Key, capsys) -> None:
    """A manifest version the archive dropped has unknown dependencies: the lock is written, with a warning."""
    stable = [_stanza("base", "1.0"), _stanza("lib", "1.1", Depends="base (= 1.1)"), _stanza("tool", "1.0")]
    updates = [_stanza("base", "2.0"), _stanza("tool", "2.0", Depends="base (>= 2.0)")]
    folder = Path(tempfile.mkdtemp(prefix="apt-base-"))
    try:
        root = folder / "repo"
        write_suite(root, "stable", {"amd64": "\n".join(stable).encode()}, archive_key, by_hash=False)
        write_suite(root, "updates", {"amd64": "\n".join(updates).encode()}, archive_key, by_hash=False)
        manifest = folder / "base.txt"
        manifest.write_text("base\t1.0\nlib\t1.0\n")  # lib 1.0 is not in the archive any more
        with RepoServer(root) as server:
            intent = write_intent(folder, server.url, archive_key.keyring, ["tool"], base_manifest=str(manifest))
            code = cli.main(["update", str(intent)])
        out, err = capsys.readouterr()
        assert code == 0, out + err
        assert (
            "warning: apt: the archive no longer lists 1 of the base image's installed versions (lib=1.0): "
            "whether upgrading base breaks them is not checked (their dependencies are unknown)"
        ) in err
    finally:
        shutil.rmtree(folder, ignore_errors=True)
