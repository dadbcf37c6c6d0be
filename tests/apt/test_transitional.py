"""A requested package its archive describes as transitional is recorded so, and `lock check` says the
image gets what it depends on instead (the noble `nvidia-driver-570-server` case, for any package)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from imagelock import cli
from tests.apt.aptrepo import Deb, Key, RepoServer, build_repo
from tests.apt.helpers import lock_update, write_intent

TRANSITIONAL = Deb(
    "libssl-old",
    "3.0",
    fields={"Depends": "libssl3t64", "Description": "transitional package for libssl3t64"},
)


def test_a_transitional_request_is_recorded_and_found(tmp_path: Path, archive_key: Key, capsys) -> None:
    root = build_repo(
        tmp_path / "repo", {"stable": [TRANSITIONAL, Deb("libssl3t64", "3.0"), Deb("curl", "8.0")]}, archive_key
    )
    with RepoServer(root) as server:
        intent = write_intent(
            tmp_path,
            server.url,
            archive_key.keyring,
            ["libssl-old", "curl"],
            suites=("stable",),
            cutoff="2099-01-01T00:00:00Z",
        )
        code, out, err = lock_update(intent, capsys)
    assert code == 0, err
    packages = {p["name"]: p for p in tomllib.loads(intent.with_suffix(".lock").read_text())["apt"]["packages"]}
    assert packages["libssl-old"]["transitional"] is True
    assert "transitional" not in packages["curl"] and "transitional" not in packages["libssl3t64"]
    strict = cli.main(["check", "--strict", str(intent)])
    out, _ = capsys.readouterr()
    assert strict == 1
    [line] = [line for line in out.splitlines() if ": not as asked: " in line]
    assert line.endswith(
        "not as asked: apt libssl-old 3.0: the archive describes it as a transitional package: the image gets what "
        "it depends on (libssl3t64); fix: ask for the package it stands in for by name (`lock why libssl-old` "
        "shows the chain)"
    )
