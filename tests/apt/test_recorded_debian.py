"""Real data offline: recorded, trimmed Debian bookworm stanzas (real hashes), re-signed on loopback.

The fixture was recorded from the live archive with the closure apt and
imagelock both computed there (tests/fixtures/apt/bookworm/provenance.json);
resolving the trimmed fixture offline must give that same closure, the same
as apt on the fixture, with the archive's own SHA256 and sizes in the lock.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apt import realapt
from tests.apt.aptrepo import Key, RepoServer, write_suite
from tests.apt.helpers import lock_update, locked, write_intent

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "apt" / "bookworm"
SUITES = ("bookworm", "bookworm-updates")
PROVENANCE = json.loads((FIXTURE / "provenance.json").read_text())


@pytest.fixture()
def recorded(tmp_path: Path, archive_key: Key) -> Iterator[RepoServer]:
    root = tmp_path / "debian"
    for suite in SUITES:
        write_suite(root, suite, {"amd64": (FIXTURE / f"{suite}.Packages").read_bytes()}, archive_key)
    with RepoServer(root) as server:
        yield server


def _recorded_stanzas() -> dict[tuple[str, str], dict[str, str]]:
    out = {}
    for suite in SUITES:
        for block in (FIXTURE / f"{suite}.Packages").read_text().split("\n\n"):
            fields = dict(re.findall(r"^([A-Za-z0-9-]+): (.*)$", block, re.M))
            if fields:
                out[(fields["Package"], fields["Version"])] = fields
    return out


def test_recorded_closure_resolves_offline_as_it_did_live(
    tmp_path: Path, recorded: RepoServer, archive_key: Key, capsys
) -> None:
    request = [n for n in PROVENANCE["request"] if not n.startswith("linux-")]
    kernel = next(n for n in PROVENANCE["request"] if n.startswith("linux-image-"))
    release = kernel.removeprefix("linux-image-")
    intent = write_intent(
        tmp_path,
        recorded.url,
        archive_key.keyring,
        request,
        suites=SUITES,
        kernel={"version": release, "packages": ["image", "headers"]},
    )
    code, out, err = lock_update(intent, capsys)
    assert code == 0, out + err
    packages = locked(intent)
    assert sorted(f"{p['name']}={p['version']}" for p in packages.values()) == PROVENANCE["closure"]
    stanzas = _recorded_stanzas()
    for p in packages.values():
        real = stanzas[(p["name"], p["version"])]
        assert (p["sha256"], p["size"], p["filename"]) == (real["SHA256"], int(real["Size"]), real["Filename"])
    lock = tomllib.loads(intent.with_suffix(".lock").read_text())
    assert lock["kernel"]["packages"] == [f"linux-image-{release}", f"linux-headers-{release}"]

    env = realapt.setup(tmp_path / "apt", recorded.url, archive_key.keyring, list(SUITES), ["main"])
    code, theirs, output = realapt.simulate(env, PROVENANCE["request"])
    assert code == 0, output
    assert {(p["name"], p["version"], p["arch"]) for p in packages.values()} == theirs
