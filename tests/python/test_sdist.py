"""Packages that ship only a source distribution: refused by name unless the intent allows them (`allow-sdist`),
then locked with the sdist's sha256 and the build packages it declares, pinned and hashed (docs/python-envs.md).

The index is a loopback replay of real files: a real sdist built here (a setuptools project whose
pyproject.toml declares its build requirements) and tiny real wheels (tests/indexbuilder.py).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import pytest
from imagelock_testing import tree_digest
from indexbuilder import Dist, build_snapshot

from imagelock import domains
from imagelock.domains import python as python_domain
from imagelock.lock import codec as lockfile

BUILD_SYSTEM = '[build-system]\nrequires = ["buildtool>=1"]\nbuild-backend = "buildtool.api"\n'
DISTS = [
    Dist("app", "1.0", "2024-01-01T00:00:00Z", ["srconly==2.0"]),
    Dist("srconly", "2.0", "2024-01-01T00:00:00Z", ["alpha"], sdist=True, build_system=BUILD_SYSTEM),
    Dist("alpha", "1.0", "2024-01-01T00:00:00Z"),
    Dist("buildtool", "1.0", "2024-01-01T00:00:00Z", ["helper"]),
    Dist("buildtool", "1.5", "2024-03-01T00:00:00Z", ["helper"]),
    Dist("buildtool", "2.0", "2025-01-01T00:00:00Z", ["helper"]),  # after the cutoff: never locked
    Dist("helper", "1.0", "2024-01-01T00:00:00Z"),
]
INTENT = """\
name = "src"
[universe]
cutoff = "2024-06-01T00:00:00Z"
[python]
requirements = ["app"]
bootstrap = []
"""


def _snapshot(tmp_path: Path) -> Path:
    return build_snapshot(tmp_path / "snap", DISTS)


def test_an_sdist_only_dependency_is_refused_by_name_with_the_key_to_allow_it(tmp_path: Path, lock_cli) -> None:
    snapshot = _snapshot(tmp_path)
    intent = tmp_path / "src.toml"
    intent.write_text(INTENT)
    before = tree_digest(tmp_path)
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 2, run.err
    (line,) = run.err.strip().splitlines()  # one line, not a conflict report
    assert line == (
        f"lock: error: {intent}: python.allow-sdist: srconly ships no wheel for Python 3.11 x86_64-manylinux_2_35, "
        "only a source distribution; to lock it and build it on the image from hashed build packages, allow it "
        'by name: allow-sdist = ["srconly"]; nothing was written'
    )
    assert tree_digest(tmp_path) == before  # no lock, nothing else


def test_an_env_names_its_own_key_when_its_sdist_is_refused(tmp_path: Path, lock_cli) -> None:
    snapshot = _snapshot(tmp_path)
    intent = tmp_path / "src.toml"
    intent.write_text(
        'name = "src"\n[universe]\ncutoff = "2024-06-01T00:00:00Z"\n[python]\nbootstrap = []\n'
        '[python.envs.serve]\nrequirements = ["app"]\n[python.envs.other]\nrequirements = ["alpha"]\n'
    )
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 2, run.err
    assert f"{intent}: python.envs.serve.allow-sdist: srconly ships no wheel" in run.err
    assert not (tmp_path / "src.lock").exists()


def test_an_allowed_sdist_is_locked_with_its_sha256_and_its_build_packages(tmp_path: Path, lock_cli) -> None:
    snapshot = _snapshot(tmp_path)
    intent = tmp_path / "src.toml"
    intent.write_text(INTENT + 'allow-sdist = ["SrcOnly"]\n')  # PEP 503: any spelling names the project
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 0, run.err
    lock_path = tmp_path / "src.lock"
    table = tomllib.loads(lock_path.read_text())["python"]
    packages = {p["name"]: p for p in table["packages"]}
    assert sorted(packages) == ["alpha", "app", "srconly"]
    served = snapshot / "pypi" / "files" / "srconly-2.0.tar.gz"
    sdist = packages["srconly"]
    assert sdist["wheel"]["filename"] == "srconly-2.0.tar.gz"
    assert sdist["wheel"]["sha256"] == hashlib.sha256(served.read_bytes()).hexdigest()
    assert sdist["wheel"]["size"] == served.stat().st_size
    assert sdist["wheel"]["url"] == "https://files.example.invalid/srconly-2.0.tar.gz"
    assert sdist["build-requires"] == ["buildtool>=1"]  # read from the sdist's pyproject.toml
    assert "build-requires" not in packages["alpha"]
    # The build packages: the declared one and its dependency, wheels, as of the cutoff, hashed.
    build = {p["name"]: p for p in table["build-packages"]}
    assert {n: p["version"] for n, p in build.items()} == {"buildtool": "1.5", "helper": "1.0"}
    for name, package in build.items():
        wheel = snapshot / "pypi" / "files" / package["wheel"]["filename"]
        assert package["wheel"]["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest(), name
    assert build["buildtool"]["dependencies"] == ["helper"]
    assert "buildtool" not in packages  # not in the venv

    lock, _ = domains.read_lock(lock_path)
    kinds = {a.name: a.kind for a in domains.artifacts(lock)}
    assert kinds["srconly-2.0.tar.gz"] == "sdist" and kinds["buildtool-1.5-py3-none-any.whl"] == "wheel"
    assert len(kinds) == 5  # every file the build fetches is an artifact `lock mirror` copies

    checked = lock_cli("check", str(intent))
    assert checked.code == 0, checked.err
    assert "not reproducible: python package srconly 2.0: built on the image from its sdist" in checked.out
    assert lock_cli("check", str(intent), "--strict").code == 1  # the built wheel is not pinned: a finding

    generated = tmp_path / "gen"
    assert lock_cli("generate", str(lock_path), "-o", str(generated)).code == 0
    pylock = tomllib.loads((generated / "pylock.toml").read_text())
    (entry,) = [p for p in pylock["packages"] if p["name"] == "srconly"]
    assert entry["sdist"]["hashes"] == {"sha256": sdist["wheel"]["sha256"]} and "wheels" not in entry
    assert [b["name"] for b in pylock["tool"]["imagelock"]["build-packages"]] == ["buildtool", "helper"]
    requirements = (generated / "requirements.txt").read_text()
    assert f"srconly==2.0 --hash=sha256:{sdist['wheel']['sha256']}" in requirements
    assert (
        "#   pip install --require-hashes --no-deps --only-binary :all: --no-binary srconly --no-build-isolation "
        "-r requirements.txt\n"
    ) in requirements
    assert f"#   buildtool==1.5 --hash=sha256:{build['buildtool']['wheel']['sha256']}" in requirements
    sbom = json.loads((generated / "sbom.cdx.json").read_text())
    roles = {
        c["name"]: [p["value"] for p in c.get("properties", []) if p["name"] == "imagelock:role"]
        for c in sbom["components"]
        if c.get("purl", "").startswith("pkg:pypi/")
    }
    assert roles == {"alpha": [], "app": [], "srconly": [], "buildtool": ["build"], "helper": ["build"]}
    # the dependency graph: a build package needs the other build packages, never a venv's rows
    refs = {c["bom-ref"]: c["name"] for c in sbom["components"]}
    needs = {
        refs[d["ref"]]: {refs[t] for t in d.get("dependsOn", [])} for d in sbom["dependencies"] if d["ref"] in refs
    }
    assert needs.get("buildtool") == {"helper"}
    script = (generated / "bootstrap.sh").read_text()
    assert "default buildtool 1.5 buildtool-1.5-py3-none-any.whl" in script


def test_the_build_requirements_of_a_project_without_pyproject_are_pep_517s_default(tmp_path: Path, lock_cli) -> None:
    snapshot = build_snapshot(
        tmp_path / "snap",
        [
            Dist("legacy", "1.0", "2024-01-01T00:00:00Z", sdist=True),
            Dist("setuptools", "68.0", "2024-01-01T00:00:00Z"),
            Dist("wheel", "0.42", "2024-01-01T00:00:00Z"),
        ],
    )
    intent = tmp_path / "legacy.toml"
    intent.write_text(INTENT.replace('["app"]', '["legacy"]') + 'allow-sdist = ["legacy"]\n')
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 0, run.err
    table = tomllib.loads((tmp_path / "legacy.lock").read_text())["python"]
    assert table["packages"][0]["build-requires"] == ["setuptools>=40.8.0", "wheel"]
    assert sorted(p["name"] for p in table["build-packages"]) == ["setuptools", "wheel"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('allow-sdist = "srconly"\n', "python.allow-sdist: expected an array of strings"),
        (
            'allow-sdist = ["srconly==2.0"]\n',
            "python.allow-sdist[0]: expected a project name such as \"antlr4-python3-runtime\", found 'srconly==2.0'",
        ),
        (
            'allow-sdist = ["Src_Only", "src-only"]\n',
            "python.allow-sdist[1]: src-only is already allowed as 'Src_Only'",
        ),
    ],
)
def test_a_malformed_allow_sdist_is_one_line_exit_2_and_nothing_written(
    tmp_path: Path, lock_cli, text: str, message: str
) -> None:
    snapshot = _snapshot(tmp_path)
    intent = tmp_path / "src.toml"
    intent.write_text(INTENT + text)
    before = tree_digest(tmp_path)
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 2, run.err
    assert run.err.strip().splitlines() == [f"lock: error: {intent}: {message}"]
    assert tree_digest(tmp_path) == before


def test_the_pip_tools_engine_refuses_allow_sdist(tmp_path: Path, lock_cli) -> None:
    snapshot = _snapshot(tmp_path)
    intent = tmp_path / "src.toml"
    intent.write_text(INTENT.replace('cutoff = "2024-06-01T00:00:00Z"', "") + 'allow-sdist = ["srconly"]\n')
    before = tree_digest(tmp_path)
    run = lock_cli("update", str(intent), "--engine", "pip-tools", "--replay", str(snapshot))
    assert run.code == 2, run.err
    assert run.err.strip().splitlines() == [
        f"lock: error: {intent}: python.allow-sdist: the pip-tools engine cannot lock a source distribution; "
        "use the default engine, uv"
    ]
    assert tree_digest(tmp_path) == before


def test_an_allowed_package_with_a_wheel_for_the_target_is_locked_as_that_wheel(tmp_path: Path, lock_cli) -> None:
    """`allow-sdist` allows an sdist, it does not force one: the wheel wins where the target has one."""
    snapshot = build_snapshot(
        tmp_path / "snap",
        [Dist("both", "1.0", "2024-01-01T00:00:00Z", sdist=True), Dist("both", "1.0", "2024-01-01T00:00:00Z")],
    )
    intent = tmp_path / "both.toml"
    intent.write_text(INTENT.replace('["app"]', '["both"]') + 'allow-sdist = ["both"]\n')
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 0, run.err
    table = tomllib.loads((tmp_path / "both.lock").read_text())["python"]
    (package,) = table["packages"]
    assert package["wheel"]["filename"] == "both-1.0-py3-none-any.whl"
    assert "build-requires" not in package and "build-packages" not in table


def test_generate_refuses_a_build_package_that_is_not_a_wheel(tmp_path: Path, lock_cli) -> None:
    """Nothing builds the builders: a lock edited to hold an sdist among its build packages is refused."""
    snapshot = _snapshot(tmp_path)
    intent = tmp_path / "src.toml"
    intent.write_text(INTENT + 'allow-sdist = ["srconly"]\n')
    assert lock_cli("update", str(intent), "--replay", str(snapshot)).code == 0
    lock_path = tmp_path / "src.lock"
    lock, _ = domains.read_lock(lock_path)
    assert lock.python is not None
    builder = lock.python.build_packages[0]
    builder.wheel.filename = f"{builder.name}-{builder.version}.tar.gz"
    lock_path.write_text(lockfile.dumps(lock))  # its digest recomputed, as an editor could
    before = tree_digest(tmp_path)
    run = lock_cli("generate", str(lock_path), "-o", str(tmp_path / "gen"))
    assert run.code == 2, run.err
    assert run.err.strip().splitlines() == [
        f"lock: error: {lock_path}: python.build-packages[0].wheel.filename: "
        "'buildtool-1.5.tar.gz' is not a wheel file name"
    ]
    assert tree_digest(tmp_path) == before


def test_envs_inherit_allow_sdist_and_each_locks_its_own_build_packages(tmp_path: Path, lock_cli) -> None:
    snapshot = _snapshot(tmp_path)
    intent = tmp_path / "src.toml"
    intent.write_text(
        'name = "src"\n[universe]\ncutoff = "2024-06-01T00:00:00Z"\n[python]\nbootstrap = []\n'
        'allow-sdist = ["srconly"]\n[python.envs.serve]\nrequirements = ["app"]\n'
        '[python.envs.other]\nrequirements = ["alpha"]\n'
    )
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 0, run.err
    envs = {e["name"]: e for e in tomllib.loads((tmp_path / "src.lock").read_text())["python"]["envs"]}
    assert [p["name"] for p in envs["serve"]["build-packages"]] == ["buildtool", "helper"]
    assert "build-packages" not in envs["other"]  # a name the env does not install changes nothing
    generated = tmp_path / "gen"
    assert lock_cli("generate", str(tmp_path / "src.lock"), "-o", str(generated)).code == 0
    assert "serve buildtool 1.5 buildtool-1.5-py3-none-any.whl" in (generated / "bootstrap.sh").read_text()
    lock, _ = domains.read_lock(tmp_path / "src.lock")
    assert lock.python is not None
    keys = [item.key for item in python_domain.items(lock.python)]
    assert "serve/build/buildtool" in keys and "serve/srconly" in keys  # `lock diff` rows
    assert not [k for k in keys if k.startswith("other/build/")]


def test_an_update_keeps_the_locked_build_packages_until_upgrade_moves_them(tmp_path: Path, lock_cli) -> None:
    snapshot = _snapshot(tmp_path)
    intent = tmp_path / "src.toml"
    lock = tmp_path / "src.lock"
    intent.write_text(INTENT + 'allow-sdist = ["srconly"]\nconstraints = ["buildtool<1.5"]\n')
    assert lock_cli("update", str(intent), "--replay", str(snapshot)).code == 0

    def buildtool() -> str:
        (found,) = [p for p in tomllib.loads(lock.read_text())["python"]["build-packages"] if p["name"] == "buildtool"]
        return found["version"]

    assert buildtool() == "1.0"  # the env's constraints bound its build packages too
    intent.write_text(INTENT + 'allow-sdist = ["srconly"]\n')
    assert lock_cli("update", str(intent), "--replay", str(snapshot)).code == 0
    assert buildtool() == "1.0"  # what is locked stays
    assert lock_cli("update", str(intent), "--replay", str(snapshot), "--upgrade").code == 0
    assert buildtool() == "1.5"
