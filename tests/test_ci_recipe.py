"""docs/ci.md's workflows run as written: install, `lock check`, and a scheduled refresh that moves something.

Every ```yaml block of docs/ci.md marked `# docs-test` is parsed; its `run:` steps
run in order under GitHub's shell (`bash -eo pipefail`), in a copy of the seed
named as the recipe names its lock. `uses:` steps are GitHub's: setup-python is
this interpreter, checkout is the copy, the pull request is the body file.
Offline: the package is installed, from a bare git repository of this checkout at
its HEAD commit, into a fresh venv that sees the already-installed dependencies;
`lock update` reads its upstreams from snapshots/seed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "ci.md"
MARK = "# docs-test:"


def _workflows() -> list[dict]:
    blocks = re.findall(r"^```yaml\n(.*?)^```", DOC.read_text(encoding="utf-8"), flags=re.M | re.S)
    return [yaml.safe_load(block) for block in blocks if any(line.startswith(MARK) for line in block.splitlines())]


def test_the_doc_never_installs_imagelock_by_bare_name() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert not re.search(r"pip install (-U )?imagelock\b(?! @)", text.replace("`pip install imagelock` would", ""))
    for workflow in _workflows():
        assert re.fullmatch(r"imagelock @ git\+https://\S+/imagelock@v\d+\.\d+\.\d+", workflow["env"]["IMAGELOCK"])


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A venv with imagelock installed from `git+file://` at this checkout's HEAD, as the recipe installs it."""
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    base = tmp_path_factory.mktemp("ci-recipe")
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    bare = base / "imagelock.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(ROOT), str(bare)], check=True)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    # pip before 23.3 wants a host in a git+file URL; git reads file://localhost/ as file:///
    return venv, f"imagelock @ git+file://localhost{bare}@{commit}"


def _run_steps(workflow: dict, checkout: Path, venv: Path, package: str, tmp: Path) -> dict[str, str]:
    """Every `run:` step of every job, in order; returns what the steps wrote to $GITHUB_OUTPUT."""
    output = tmp / "github-output"
    output.write_text("")
    env = {
        **os.environ,
        **workflow.get("env", {}),
        "IMAGELOCK": package,
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "VIRTUAL_ENV": str(venv),
        "PIP_NO_INDEX": "1",  # offline: the dependencies are the ones already installed
        "PIP_NO_BUILD_ISOLATION": "0",  # pip's spelling of --no-build-isolation
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "RUNNER_TEMP": str(tmp),
        "GITHUB_OUTPUT": str(output),
    }
    env.pop("PYTHONPATH", None)  # `lock` must be the installed one, not this checkout
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if "run" not in step:
                continue
            script = step["run"]
            assert "${{" not in script, f"a tested step uses a GitHub expression: {script!r}"
            script = re.sub(r"(lock update \S+)", rf"\1 --replay {ROOT / 'snapshots' / 'seed'}", script)
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                cwd=checkout,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, f"step failed ({done.returncode}):\n{script}\n{done.stdout}\n{done.stderr}"
    return dict(line.split("=", 1) for line in output.read_text().splitlines() if line)


def _checkout(tmp: Path) -> Path:
    """A project that locks the seed under the recipe's name, locks/gpu-worker.*."""
    checkout = tmp / "project"
    (checkout / "locks").mkdir(parents=True)
    shutil.copytree(ROOT / "locks" / "keys", checkout / "locks" / "keys")
    shutil.copy(ROOT / "locks" / "seed.toml", checkout / "locks" / "gpu-worker.toml")
    shutil.copy(ROOT / "locks" / "seed.lock", checkout / "locks" / "gpu-worker.lock")
    return checkout


def test_the_marked_workflows_are_the_check_and_the_refresh() -> None:
    jobs = [name for workflow in _workflows() for name in workflow["jobs"]]
    assert jobs == ["lock-check", "lock-refresh"]


def test_check_recipe_installs_and_checks(installed: tuple[Path, str], tmp_path: Path) -> None:
    venv, package = installed
    checkout = _checkout(tmp_path)
    _run_steps(_workflows()[0], checkout, venv, package, tmp_path)
    assert list(venv.glob("lib/python*/site-packages/imagelock/cli.py"))  # installed into the venv, not found here
    # the installed `lock` tells an edited lock from the intent's
    lock = checkout / "locks" / "gpu-worker.lock"
    lock.write_text(lock.read_text().replace('"torch==2.5.1+cu124"', '"torch==2.5.2+cu124"'))
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run(
        [str(venv / "bin" / "lock"), "check", "locks/gpu-worker.toml"], cwd=checkout, env=env, capture_output=True
    )
    assert done.returncode == 1, done


def test_refresh_recipe_moves_the_cutoff_and_writes_the_pr_body(installed: tuple[Path, str], tmp_path: Path) -> None:
    venv, package = installed
    checkout = _checkout(tmp_path)
    before = (checkout / "locks" / "gpu-worker.lock").read_text()
    outputs = _run_steps(_workflows()[1], checkout, venv, package, tmp_path)
    assert outputs == {"changed": "true"}
    intent = (checkout / "locks" / "gpu-worker.toml").read_text()
    moved = re.search(r'^cutoff = "([^"]+)"', intent, flags=re.M)
    assert moved and moved.group(1) > "2025-05-01T00:00:00Z"
    after = (checkout / "locks" / "gpu-worker.lock").read_text()
    assert after != before and f'cutoff = "{moved.group(1)}"' in after
    body = (tmp_path / "pr-body.md").read_text()
    assert body.startswith("## Lock refresh")
    assert f"| changed | `cutoff` | 2025-05-01T00:00:00Z | {moved.group(1)} |" in body
    assert "Version: 1.0.0 → **1.0.1**" in body


def test_refresh_recipe_moves_an_unpinned_cutoff_with_the_flag(
    installed: tuple[Path, str], tmp_path: Path, lock_cli
) -> None:
    """An intent that pins no cutoff: the recipe's other branch, `lock update --upgrade --cutoff DATE`."""
    venv, package = installed
    checkout = _checkout(tmp_path)
    intent = checkout / "locks" / "gpu-worker.toml"
    intent.write_text(re.sub(r'^cutoff = "[^"]*"\n', "", intent.read_text(), flags=re.M))
    snapshot = str(ROOT / "snapshots" / "seed")
    made = lock_cli("update", str(intent), "--cutoff", "2025-05-01T00:00:00Z", "--replay", snapshot)
    assert made.code == 0, made.err
    outputs = _run_steps(_workflows()[1], checkout, venv, package, tmp_path)
    assert outputs == {"changed": "true"}
    assert not re.search(r"^cutoff = ", intent.read_text(), flags=re.M)  # still pins none: moved by the flag
    body = (tmp_path / "pr-body.md").read_text()
    assert re.search(r"\| changed \| `cutoff` \| 2025-05-01T00:00:00Z \| 20\d\d-\d\d-\d\dT00:00:00Z \|", body)


def test_wheel_recipe_builds_and_installs(tmp_path: Path) -> None:
    """The doc's wheel commands, run as written in a clean clone (offline: the build backend installed here)."""
    (block,) = [
        b
        for b in re.findall(r"^```sh\n(.*?)^```", DOC.read_text(encoding="utf-8"), flags=re.M | re.S)
        if "pip wheel" in b
    ]
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "imagelock"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "PIP_NO_INDEX": "1",
        "PIP_NO_BUILD_ISOLATION": "0",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", block], cwd=clone, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    help_ = subprocess.run([str(venv / "bin" / "lock"), "--help"], env=env, capture_output=True, text=True)
    assert help_.returncode == 0 and "collect" in help_.stdout
