"""One small rpm universe (packages, a base image, a request) resolved by Debian's dnf and by `lock update`.

The property test (test_dnf_property.py) draws universes at random; test_dnf_agreement.py keeps each one that
once disagreed as a named case. Both run them here: the packages are built as real signed rpms in one
repository served on loopback, the base image is an rpm database made with `rpm --justdb`, dnf runs with
`--installroot --releasever --assumeno install`, and `lock update` runs in-process on the same inputs.
"""

from __future__ import annotations

import contextlib
import io
import tomllib
from dataclasses import dataclass
from pathlib import Path

from imagelock import cli
from tests.apt.aptrepo import RepoServer
from tests.dnf import scenario
from tests.dnf.rpmrepo import DnfAnswer, Rpm, RpmKey, base_manifest, build_repo, dnf_install, install_base


@dataclass(frozen=True)
class Universe:
    rpms: list[Rpm]
    base: list[tuple[str, str]]  # (name, version) installed in the base image (release 1, noarch)
    request: list[str]


@dataclass
class Outcome:
    dnf: DnfAnswer
    code: int  # lock update's exit code
    ours: set[tuple[str, str, str]]  # (name, version-release, arch) the lock holds
    printed: str  # what lock update printed (stdout, then stderr)

    @property
    def dnf_failed(self) -> bool:
        """dnf refused the request. A "Problem:" alone is not a refusal: with best=False dnf prints the
        problem of the best candidate it skipped, then installs the transaction above it."""
        return any(line.startswith("Error:") for line in self.dnf.output.splitlines())

    def check(self, context: str) -> None:
        """Both refuse (dnf with an error, `lock update` with "no", exit 1), or both install the same set."""
        where = f"{context}\n--- dnf:\n{self.dnf.output}\n--- lock update (exit {self.code}):\n{self.printed}"
        if self.dnf_failed:
            assert self.code == 1, where
        else:
            assert self.code == 0, where
            assert not self.dnf.removes, where
            assert self.ours == self.dnf.installs, where


def _ours(
    folder: Path, url: str, key: Path, request: list[str], manifest: Path
) -> tuple[int, set[tuple[str, str, str]], str]:
    intent = folder / "intent" / "image.toml"
    intent.parent.mkdir()
    packages = ", ".join(f'"{p}"' for p in request)
    intent.write_text(
        f'name = "universe"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n[dnf]\nreleasever = "{scenario.RELEASEVER}"\n'
        f'packages = [{packages}]\nbase-manifest = "{manifest}"\n'
        f'[[dnf.repos]]\nid = "core"\nbaseurl = "{url}"\ngpgkey = "{key}"\n'
    )
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["update", str(intent)])
    printed = out.getvalue() + err.getvalue()
    if code != 0:
        return code, set(), printed
    table = tomllib.loads(intent.with_suffix(".lock").read_text())["dnf"]
    ours = {(p["name"], f"{p['version']}-{p['release']}", p["arch"]) for p in table.get("packages", [])}
    return 0, ours, printed


def resolve_both(folder: Path, universe: Universe, key: RpmKey) -> Outcome:
    """Build the universe under `folder` (which must be empty or absent), and ask dnf and `lock update`."""
    repo = folder / "served" / scenario.RELEASEVER / "core"
    build_repo(repo, universe.rpms, key)
    root = folder / "root"
    install_base(root, [repo / "Packages" / f"{name}-{version}-1.noarch.rpm" for name, version in universe.base])
    manifest = folder / "base.rpms"
    manifest.write_text(base_manifest(root))
    with RepoServer(folder / "served") as server:
        url = f"{server.url}/$releasever/core"
        answer = dnf_install(folder / "dnf", root, {"core": (url, key.armored)}, universe.request, scenario.RELEASEVER)
        code, ours, printed = _ours(folder, url, key.armored, universe.request, manifest)
    return Outcome(answer, code, ours, printed)
