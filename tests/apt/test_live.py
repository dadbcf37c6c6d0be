"""Live: the Debian archive this machine's apt uses, verified with the system's Debian keyring.

The mirror URL is read from the machine's own apt sources, never written here.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bench.apt_bench import KEYRING, REQUEST, system_source
from tests.apt import realapt
from tests.apt.helpers import lock_update, locked, write_intent

pytestmark = pytest.mark.live


def test_debian_archive_locks_what_apt_installs(tmp_path: Path, capsys) -> None:
    source = system_source(KEYRING)
    url, suites = source.url, tuple(source.suites)
    intent = write_intent(
        tmp_path,
        url,
        KEYRING,
        REQUEST,
        suites=suites,
        components=source.components,
        kernel={"flavour": "amd64", "packages": ["image", "headers"]},
    )
    code, out, err = lock_update(intent, capsys)
    assert code == 0, out + err
    lock = tomllib.loads(intent.with_suffix(".lock").read_text())
    ours = {(p["name"], p["version"], p["arch"]) for p in locked(intent).values()}
    assert all(len(p["sha256"]) == 64 and p["size"] > 0 for p in lock["apt"]["packages"])
    env = realapt.setup(tmp_path / "apt", url, KEYRING, list(suites), source.components)
    code, theirs, output = realapt.simulate(env, [*REQUEST, *lock["kernel"]["packages"]])
    assert code == 0, output
    assert ours == theirs
