"""`[dnf.choose] gcc = "newest-numbered"`: the family's highest-numbered real name (gcc14 over gcc11 over gcc),
with its companions at the same number, chosen from a real signed repository on loopback; Debian's dnf, asked
for the chosen names on the same repository, installs exactly what the lock holds. The lock records what was
asked and what it resolved to, keeps the name until `--upgrade`, and `lock diff` shows a new name."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apt.aptrepo import RepoServer
from tests.dnf import scenario
from tests.dnf.rpmrepo import Rpm, RpmKey, build_repo, dnf_install
from tests.imagelock_testing import tree_digest

NEWER = "2023.7.20250331"  # a later release version: the same repository, and gcc14 in it

OLD = [
    Rpm("gcc", "11.4.1", arch="x86_64"),
    Rpm("gcc-c++", "11.4.1", arch="x86_64", requires=["gcc = 11.4.1-1"]),
    Rpm("gcc11", "11.5.0", arch="x86_64"),
    Rpm("gcc11-c++", "11.5.0", arch="x86_64", requires=["gcc11 = 11.5.0-1"]),
    Rpm("gcc-toolset-13", "13.0"),  # not a number of gcc: a dash follows the name
    Rpm("gccgo", "11.4.1", arch="x86_64"),
    Rpm("python3", "3.9.16", arch="x86_64"),
    Rpm("python3-pip", "21.3.1", requires=["python3"]),
    Rpm("python3.11", "3.11.6", arch="x86_64"),
    Rpm("python3.11-pip", "22.3.1", requires=["python3.11"]),
    Rpm("python3.12", "3.12.0", arch="x86_64"),  # no python3.12-pip: passed over when pip comes with it
    Rpm("python39", "3.9.0", arch="x86_64"),  # not python3 number 9: after a digit, a number needs a dot
]
NEW = [
    *OLD,
    Rpm("gcc14", "14.2.1", arch="x86_64", requires=["libgcc14 = 14.2.1-1"]),
    Rpm("gcc14-c++", "14.2.1", arch="x86_64", requires=["gcc14 = 14.2.1-1"]),
    Rpm("libgcc14", "14.2.1", arch="x86_64"),
    Rpm("gcc15", "15.0.1", arch="x86_64"),  # no gcc15-c++: passed over when gcc-c++ comes with it
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, rpm_key: RpmKey) -> Iterator[RepoServer]:
    root = tmp_path_factory.mktemp("numbered")
    build_repo(root / scenario.RELEASEVER / scenario.BASEARCH / "core", OLD, rpm_key)
    build_repo(root / NEWER / scenario.BASEARCH / "core", NEW, rpm_key)
    with RepoServer(root) as server:
        yield server


def _intent(tmp_path: Path, server: RepoServer, key: Path, choose: str, *, releasever: str = NEWER) -> Path:
    path = tmp_path / "intent" / "image.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        f'name = "numbered"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n[dnf]\nreleasever = "{releasever}"\n'
        f'[dnf.choose]\n{choose}\n[[dnf.repos]]\nid = "core"\nbaseurl = "{server.url}/$releasever/$basearch/core"\n'
        f'gpgkey = "{key}"\n'
    )
    return path


def _dnf(intent: Path) -> dict:
    return tomllib.loads(intent.with_suffix(".lock").read_text())["dnf"]


def _installed(table: dict) -> set[tuple[str, str, str]]:
    return {(p["name"], f"{p['version']}-{p['release']}", p["arch"]) for p in table["packages"]}


@pytest.mark.parametrize(
    ("choose", "names"),
    [
        ('gcc = "newest-numbered"', ["gcc15"]),
        ('gcc = { rule = "newest-numbered", with = ["gcc-c++"] }', ["gcc14", "gcc14-c++"]),
        ('python3 = "newest-numbered"', ["python3.12"]),
        ('python3 = { rule = "newest-numbered", with = ["python3-pip"] }', ["python3.11", "python3.11-pip"]),
    ],
)
def test_newest_numbered_is_a_real_name_dnf_installs(
    tmp_path: Path, served: RepoServer, rpm_key: RpmKey, lock_cli, choose: str, names: list[str]
) -> None:
    intent = _intent(tmp_path, served, rpm_key.armored, choose)
    run = lock_cli("update", str(intent))
    assert run.code == 0, run.err
    table = _dnf(intent)
    family = choose.split(" ", 1)[0]
    [chosen] = table["chosen"]
    assert (chosen["family"], chosen["rule"], chosen["names"]) == (family, "newest-numbered", names)
    requested = {p["name"]: p["original"] for p in table["packages"] if p.get("requested")}
    assert set(requested) == set(names)
    assert requested[names[0]] == f"newest-numbered {family}"
    # the oracle: dnf, asked for the chosen names on the same signed repository, installs what the lock holds
    url = f"{served.url}/$releasever/$basearch/core"
    answer = dnf_install(tmp_path / "dnf", tmp_path / "root", {"core": (url, rpm_key.armored)}, names, NEWER)
    assert answer.code == 1 and not answer.removes, answer.output  # 1: --assumeno declined the transaction
    assert answer.installs == _installed(table), answer.output
    assert lock_cli("check", str(intent)).code == 0


def test_the_choice_is_kept_until_upgrade_and_diff_shows_the_new_name(
    tmp_path: Path, served: RepoServer, rpm_key: RpmKey, lock_cli
) -> None:
    choose = 'gcc = { rule = "newest-numbered", with = ["gcc-c++"] }'
    intent = _intent(tmp_path, served, rpm_key.armored, choose, releasever=scenario.RELEASEVER)
    assert lock_cli("update", str(intent)).code == 0
    assert _dnf(intent)["chosen"][0]["names"] == ["gcc11", "gcc11-c++"]
    before = tmp_path / "before.lock"
    before.write_bytes(intent.with_suffix(".lock").read_bytes())
    # a later release version offers gcc14: an update keeps gcc11, which it still offers
    _intent(tmp_path, served, rpm_key.armored, choose)
    assert lock_cli("update", str(intent)).code == 0
    kept = _dnf(intent)
    assert kept["releasever"] == NEWER and kept["chosen"][0]["names"] == ["gcc11", "gcc11-c++"]
    assert {p["name"] for p in kept["packages"]} == {"gcc11", "gcc11-c++"}
    # --upgrade takes the newer numbered name
    run = lock_cli("update", str(intent), "--upgrade")
    assert run.code == 0, run.err
    assert _dnf(intent)["chosen"][0]["names"] == ["gcc14", "gcc14-c++"]
    diff = lock_cli("diff", str(before), str(intent.with_suffix(".lock")))
    assert "newest-numbered gcc" in diff.out and "gcc11 gcc11-c++ -> gcc14 gcc14-c++" in diff.out, diff.out
    markdown = lock_cli("diff", str(before), str(intent.with_suffix(".lock")), "--format", "markdown").out
    assert "| changed | **`newest-numbered gcc`** | gcc11 gcc11-c++ | gcc14 gcc14-c++ |" in markdown, markdown


@pytest.mark.parametrize(
    ("choose", "key", "expected"),
    [
        ('gcc = "newest"', "dnf.choose.gcc", "expected \"newest-numbered\", or { rule = \"newest-numbered\", with = [\"gcc-devel\"] }; found 'newest'"),
        ('gcc = { rule = "newest-numbered", with = ["clang-c++"] }', "dnf.choose.gcc.with[0]", "expected a name of the family, 'gcc' and a suffix (such as \"gcc-devel\"), found 'clang-c++'"),
        ('gcc = { rule = "newest-numbered", also = ["gcc-c++"] }', "dnf.choose.gcc.also", "unknown key; expected one of: rule, with"),
        ('"gcc*" = "newest-numbered"', "dnf.choose.gcc*", "expected a package name as the family, found 'gcc*'"),
        ('clang = "newest-numbered"', "dnf.choose.clang", "no 'clang' or numbered 'clang' package in the repositories at releasever 2023.7.20250331"),
        ('python3 = { rule = "newest-numbered", with = ["python3-wheel"] }', "dnf.choose.python3", "no 'python3' or numbered 'python3' package with python3-wheel at the same number in the repositories at releasever 2023.7.20250331"),
    ],
)  # fmt: skip
def test_a_wrong_choice_is_refused_in_one_line(
    tmp_path: Path, served: RepoServer, rpm_key: RpmKey, lock_cli, choose: str, key: str, expected: str
) -> None:
    intent = _intent(tmp_path, served, rpm_key.armored, choose)
    before = tree_digest(intent.parent)
    run = lock_cli("update", str(intent))
    assert run.code == 2, run.out + run.err
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"lock: error: {intent}: {key}: "), run.err
    assert expected in lines[0], lines[0]
    assert tree_digest(intent.parent) == before
