"""The Python engines behind one contract: the same request gets the same answer from uv and pip-tools,
neither engine knows the other or the domain, and both read one output format."""

from __future__ import annotations

import ast
import hashlib
import platform
import sys
from pathlib import Path

import pytest
from imagelock_testing import ROOT
from indexbuilder import Dist, build_snapshot

from imagelock.domains.python import simple_index
from imagelock.engines.python.compiled import clean_report, parse_requirements
from imagelock.engines.python.contract import Engine, EngineRequest
from imagelock.engines.python.piptools import PipToolsEngine, host_mismatch
from imagelock.engines.python.uv import ROOT_PROJECT, UvEngine
from imagelock.replay.server import ReplayServer, Snapshot

ENGINES = ROOT / "imagelock" / "engines" / "python"
PACKAGE = "imagelock.engines.python"
SHARED = {f"{PACKAGE}.contract", f"{PACKAGE}.compiled"}


def _imports(path: Path) -> set[str]:
    """Every module a source file imports, wherever the import statement sits."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if node.module == PACKAGE:  # `from imagelock.engines.python import uv` imports a module
                found.update(f"{PACKAGE}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("path", sorted(ENGINES.glob("*.py")), ids=lambda p: p.name)
def test_an_engine_module_imports_no_other_engine_nor_the_domain(path: Path) -> None:
    own = f"{PACKAGE}.{path.stem}"
    imported = _imports(path)
    engines = {m for m in imported if m.startswith(f"{PACKAGE}.")} - SHARED - {own}
    assert not engines, f"{path.name} imports {engines}: shared pieces belong in contract.py or compiled.py"
    upward = {m for m in imported if m.startswith(("imagelock.domains", "imagelock.replay", "imagelock.commands"))}
    assert not upward, f"{path.name} imports {upward}: an engine is handed plain values, not the update context"


@pytest.mark.parametrize(
    ("text", "root", "expected"),
    [
        # uv: the synthetic project stands for the request
        (
            f"torch==2.5.1+cu124       # via {ROOT_PROJECT}, torchaudio, vllm\nTyping_Extensions==4.12.2 # via torch\n",
            ROOT_PROJECT,
            {"torch": ("2.5.1+cu124", ["", "torchaudio", "vllm"]), "typing-extensions": ("4.12.2", ["torch"])},
        ),
        # pip-compile: `-r <file>` stands for the request; options and comments are not pins
        (
            "--index-url https://example.invalid/simple\n"
            "# a comment\n"
            "beta==2.0  # via -r /tmp/work/requirements.in\n"
            "gamma==1.5  # via beta\n"
            "pip==24.1.2\n",
            "-r",
            {"beta": ("2.0", [""]), "gamma": ("1.5", ["beta"]), "pip": ("24.1.2", [])},
        ),
    ],
    ids=["uv", "pip-compile"],
)
def test_compiled_pins_and_their_dependents(text: str, root: str, expected: dict[str, tuple[str, list[str]]]) -> None:
    packages = parse_requirements(text, root=root)
    assert {n: (p.version, p.dependents) for n, p in packages.items()} == expected


def test_a_report_loses_uv_decoration_and_hints() -> None:
    report = (
        "  × No solution found when resolving dependencies:\n"
        "  ╰─▶ Because alpha==1.0 depends on beta>2 and you require alpha==1.0, we can conclude...\n"
        "\n"
        "      hint: beta was requested with a pre-release marker\n"
    )
    assert clean_report(report) == (
        "No solution found when resolving dependencies:\n"
        "Because alpha==1.0 depends on beta>2 and you require alpha==1.0, we can "
        "conclude..."
    )


def test_pip_tools_names_only_the_differences_between_host_and_target() -> None:
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    libc, glibc = platform.libc_ver()
    if libc != "glibc":
        pytest.skip("the target is a glibc platform")
    same = f"{platform.machine()}-manylinux_{glibc.replace('.', '_')}"
    assert host_mismatch(here, same) is None
    assert PipToolsEngine.caveats(here, same) == [
        "pip-tools cannot honour the upload-time cutoff; versions are as of now"
    ]
    assert host_mismatch("2.7", same) == f"Python {here} here, 2.7 on the target"
    assert UvEngine.caveats("2.7", same) == []


DISTS = [
    Dist("alpha", "1.0", "2024-01-01T00:00:00Z"),
    Dist("beta", "1.0", "2024-01-01T00:00:00Z"),
    Dist("beta", "2.0", "2024-02-01T00:00:00Z", ["gamma>=1"]),
    Dist("gamma", "1.5", "2024-01-01T00:00:00Z"),
]


def _answer(engine: Engine, index: str, workdir: Path) -> dict[str, tuple[str, list[str], list[tuple[str, str]]]]:
    request = EngineRequest(
        requirements=["alpha", "beta"],
        python_version="3.11",
        platform="x86_64-manylinux_2_35",
        cutoff="2025-01-01T00:00:00Z",
        default_index=index,
    )
    resolved = engine.resolve(request, workdir)
    return {n: (p.version, p.dependents, [(w.filename, w.sha256) for w in p.wheels]) for n, p in resolved.items()}


def test_uv_and_pip_tools_give_one_request_the_same_answer(tmp_path: Path) -> None:
    snapshot = build_snapshot(tmp_path / "snap", DISTS)
    sha = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in (snapshot / "pypi" / "files").iterdir()}
    engines: list[Engine] = [
        UvEngine(tmp_path / "uv-cache"),
        PipToolsEngine(tmp_path / "pip-cache", simple_index.project_files),
    ]
    with ReplayServer(Snapshot.open(snapshot), port=0) as server:
        index = server.local_index(None)
        assert index is not None
        answers = [_answer(engine, index, tmp_path / f"work-{i}") for i, engine in enumerate(engines)]
    expected = {
        "alpha": ("1.0", [""], [("alpha-1.0-py3-none-any.whl", sha["alpha-1.0-py3-none-any.whl"])]),
        "beta": ("2.0", [""], [("beta-2.0-py3-none-any.whl", sha["beta-2.0-py3-none-any.whl"])]),
        "gamma": ("1.5", ["beta"], [("gamma-1.5-py3-none-any.whl", sha["gamma-1.5-py3-none-any.whl"])]),
    }
    assert answers == [expected, expected]


def test_a_uv_closure_is_the_resolution_without_its_files(tmp_path: Path) -> None:
    snapshot = build_snapshot(tmp_path / "snap", DISTS)
    engine = UvEngine(tmp_path / "uv-cache")
    with ReplayServer(Snapshot.open(snapshot), port=0) as server:
        request = EngineRequest(
            requirements=["beta"],
            python_version="3.11",
            platform="x86_64-manylinux_2_35",
            cutoff="2025-01-01T00:00:00Z",
            default_index=server.local_index(None),
        )
        closure = engine.closure(request, tmp_path / "closure")
        full = engine.resolve(request, tmp_path / "full")
    assert (
        {n: (p.version, p.dependents) for n, p in closure.items()}
        == {n: (p.version, p.dependents) for n, p in full.items()}
        == {"beta": ("2.0", [""]), "gamma": ("1.5", ["beta"])}
    )
    assert all(not p.wheels for p in closure.values())
    assert all(len(p.wheels) == 1 for p in full.values())


def test_uv_resolves_for_an_absent_interpreter_without_trying_to_download_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil
    import subprocess
    import time

    from imagelock.engines.python import uv

    absent = "3.14"
    if shutil.which(f"python{absent}"):
        pytest.skip(f"python{absent} is installed here")
    calls: list[tuple[list[str], dict[str, str]]] = []
    real_run = subprocess.run

    def recording_run(args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append((list(args), dict(kwargs["env"])))
        return real_run(args, **kwargs)

    monkeypatch.setattr(uv.subprocess, "run", recording_run)
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "automatic")  # the user's setting does not reach uv
    snapshot = build_snapshot(tmp_path / "snap", DISTS)
    engine = UvEngine(tmp_path / "uv-cache")
    with ReplayServer(Snapshot.open(snapshot), port=0) as server:
        index = server.local_index(None)
        assert index is not None
        installed_answer = _answer(engine, index, tmp_path / "installed")
        assert calls
        for args, _env in calls:
            assert "--no-python-downloads" in args
            assert args[args.index("--python-version") + 1] == "3.11"  # _answer's request
        # the same request for a target whose interpreter is absent
        calls.clear()
        request = EngineRequest(
            requirements=["alpha", "beta"],
            python_version=absent,
            platform="x86_64-manylinux_2_35",
            cutoff="2025-01-01T00:00:00Z",
            default_index=index,
        )
        started = time.monotonic()
        resolved = engine.resolve(request, tmp_path / "target")
        elapsed = time.monotonic() - started
    assert calls
    for args, env in calls:
        assert "--no-python-downloads" in args
        assert args[args.index("--python-version") + 1] == absent
        assert env["UV_PYTHON_DOWNLOADS"] == "never"
    assert elapsed < 8, f"{elapsed:.1f} s: uv waited on something (a Python download?)"
    answer = {n: (p.version, p.dependents, [(w.filename, w.sha256) for w in p.wheels]) for n, p in resolved.items()}
    assert answer == installed_answer  # pure wheels: the same lock as for an installed interpreter
