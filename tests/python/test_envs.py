"""Several Python envs in one image: `[python.envs.<name>]`, each locked on its own in one lock.

Real components only: a loopback PEP 691/658 simple index of real wheels (indexbuilder, served by the
replay server) and the real uv, which is also the oracle: each env's pins must be what `uv pip compile`
gives for that env's own requirements and constraints alone.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from indexbuilder import Dist, build_snapshot

from imagelock.engines.python.uv import uv_binary
from imagelock.replay.server import ReplayServer, Snapshot

DISTS = [
    Dist("numpy", "1.0", "2024-01-01T00:00:00Z"),
    Dist("numpy", "2.0", "2024-03-01T00:00:00Z"),
    Dist("trainlib", "1.0", "2024-01-01T00:00:00Z", ["numpy>=1", "tqdm"]),
    Dist("tqdm", "4.0", "2024-01-01T00:00:00Z"),
    Dist("tqdm", "4.1", "2024-02-01T00:00:00Z"),
    Dist("servelib", "1.0", "2024-01-01T00:00:00Z", ["numpy"]),
    Dist("servelib", "1.1", "2024-02-01T00:00:00Z", ["numpy", "fastjson"]),
    Dist("fastjson", "3.0", "2024-01-01T00:00:00Z"),
]
CUTOFF = "2024-06-01T00:00:00Z"

# Shared in [python]: the target, no bootstrap tools, and a pin every env honours (numpy<2).
INTENT = """\
name = "multi"
[universe]
cutoff = "2024-06-01T00:00:00Z"
[python]
bootstrap = []
constraints = ["numpy<2"]
[python.envs.train]
requirements = ["trainlib"]
[python.envs.serve]
platform = "x86_64-manylinux_2_39"
venv = "/srv/serve"
requirements = ["servelib"]
constraints = ["fastjson==3.0"]
"""


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_snapshot(tmp_path_factory.mktemp("envs") / "snap", DISTS)


@pytest.fixture
def locked(tmp_path: Path, snapshot: Path, lock_cli) -> tuple[Path, Path]:
    intent = tmp_path / "multi.toml"
    intent.write_text(INTENT)
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 0, run.err
    return intent, tmp_path / "multi.lock"


def _envs(lock: Path) -> dict[str, dict]:
    return {e["name"]: e for e in tomllib.loads(lock.read_text())["python"]["envs"]}


def _pins(env: dict) -> dict[str, str]:
    return {p["name"]: p["version"] for p in env["packages"]}


def _uv_pins(
    snapshot: Path, work: Path, platform: str, requirements: list[str], constraints: list[str]
) -> dict[str, str]:
    """What the real uv resolves for these requirements alone, from the same index, as of the cutoff."""
    work.mkdir(parents=True)
    (work / "requirements.in").write_text("".join(f"{r}\n" for r in requirements))
    (work / "constraints.txt").write_text("".join(f"{c}\n" for c in constraints))
    with ReplayServer(Snapshot.open(snapshot)) as server:
        index = server.python_index(None, (None, "oracle"))
        assert index is not None
        out = subprocess.run(
            [
                uv_binary(),
                "pip",
                "compile",
                str(work / "requirements.in"),
                "-c",
                str(work / "constraints.txt"),
                "--python-version",
                "3.11",
                "--python-platform",
                platform,
                "--exclude-newer",
                CUTOFF,
                "--default-index",
                index,
                "--no-header",
                "--no-annotate",
                "--quiet",
                "--cache-dir",
                str(work / "cache"),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": "/usr/bin:/bin", "UV_NO_CONFIG": "1", "HOME": str(work)},
        ).stdout
    pins = {}
    for line in out.splitlines():
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip()] = version.strip()
    return pins


def test_two_envs_lock_in_one_update_each_as_uv_resolves_it_alone(locked, snapshot: Path, tmp_path: Path) -> None:
    _, lock = locked
    envs = _envs(lock)
    assert sorted(envs) == ["serve", "train"]
    train, serve = envs["train"], envs["serve"]
    # Inherited from [python], overridden per env; each env gets its own venv by its name.
    assert (train["platform"], train["venv"]) == ("x86_64-manylinux_2_35", "/opt/venvs/train")
    assert (serve["platform"], serve["venv"]) == ("x86_64-manylinux_2_39", "/srv/serve")
    assert train["intent-sha256"] != serve["intent-sha256"]
    # The shared constraint holds in both envs; serve's own constraint only in serve.
    assert _pins(train) == _uv_pins(snapshot, tmp_path / "uv-train", "x86_64-manylinux_2_35", ["trainlib"], ["numpy<2"])
    assert _pins(serve) == _uv_pins(
        snapshot, tmp_path / "uv-serve", "x86_64-manylinux_2_39", ["servelib"], ["numpy<2", "fastjson==3.0"]
    )
    assert _pins(train) == {"numpy": "1.0", "tqdm": "4.1", "trainlib": "1.0"}
    assert _pins(serve) == {"fastjson": "3.0", "numpy": "1.0", "servelib": "1.1"}
    assert "packages" not in tomllib.loads(lock.read_text())["python"]


def test_the_lock_is_fresh_and_an_update_keeps_it_byte_for_byte(locked, snapshot: Path, lock_cli) -> None:
    intent, lock = locked
    before = lock.read_bytes()
    run = lock_cli("check", str(intent))
    assert run.code == 0, run.out + run.err
    assert lock_cli("update", str(intent), "--replay", str(snapshot), "--only", "python").code == 0
    assert lock.read_bytes() == before


def test_changing_one_env_makes_check_name_that_env_only(locked, lock_cli) -> None:
    intent, _ = locked
    intent.write_text(INTENT.replace('requirements = ["trainlib"]', 'requirements = ["trainlib", "tqdm==4.0"]'))
    run = lock_cli("check", str(intent))
    assert run.code == 1
    stale = [line for line in run.out.splitlines() if "stale" in line]
    assert stale and all("'train'" in line for line in stale), run.out
    assert "serve" not in run.out


def test_a_shared_key_changes_every_env(locked, lock_cli) -> None:
    intent, _ = locked
    intent.write_text(INTENT.replace('constraints = ["numpy<2"]', 'constraints = ["numpy<3"]'))
    run = lock_cli("check", str(intent))
    assert run.code == 1
    assert "'serve'" in run.out and "'train'" in run.out


def test_only_one_env_moves_the_others_keep_their_pins(locked, snapshot: Path, lock_cli) -> None:
    intent, lock = locked
    serve_before = _envs(lock)["serve"]
    intent.write_text(INTENT.replace('requirements = ["trainlib"]', 'requirements = ["trainlib", "tqdm==4.0"]'))
    run = lock_cli("update", str(intent), "--replay", str(snapshot), "--only", "python.train")
    assert run.code == 0, run.err
    assert _pins(_envs(lock)["train"])["tqdm"] == "4.0"
    assert _envs(lock)["serve"] == serve_before
    assert lock_cli("check", str(intent)).code == 0


def test_only_names_an_env_the_intent_has(locked, snapshot: Path, lock_cli) -> None:
    intent, lock = locked
    before = lock.read_bytes()
    run = lock_cli("update", str(intent), "--replay", str(snapshot), "--only", "python.trian")
    assert run.code == 2
    assert "no python env 'trian'" in run.err and "did you mean 'train'?" in run.err
    assert lock.read_bytes() == before


def test_upgrade_package_moves_it_in_every_env_that_has_it(tmp_path: Path, snapshot: Path, lock_cli) -> None:
    intent = tmp_path / "multi.toml"
    intent.write_text(INTENT.replace('constraints = ["numpy<2"]\n', "", 1))
    lock = tmp_path / "multi.lock"
    old = build_snapshot(tmp_path / "old", [d for d in DISTS if d.version not in ("2.0", "1.1", "4.1")])
    assert lock_cli("update", str(intent), "--replay", str(old)).code == 0
    assert {_pins(e)["numpy"] for e in _envs(lock).values()} == {"1.0"}
    assert lock_cli("update", str(intent), "--replay", str(snapshot)).code == 0
    assert {_pins(e)["numpy"] for e in _envs(lock).values()} == {"1.0"}  # locked versions stay
    run = lock_cli("update", str(intent), "--replay", str(snapshot), "--upgrade-package", "numpy")
    assert run.code == 0, run.err
    envs = _envs(lock)
    assert {_pins(e)["numpy"] for e in envs.values()} == {"2.0"}
    assert _pins(envs["serve"])["servelib"] == "1.0"  # only what was named moved


def test_a_variant_takes_envs_by_name(locked) -> None:
    from imagelock import domains

    _, lock = locked
    parsed, _ = domains.read_lock(lock)
    assert parsed.python is not None
    serve = parsed.python.only(["serve"])
    assert [e.name for e in serve.environments()] == ["serve"]
    assert parsed.python.env("train") is not None and parsed.python.env("nope") is None
    with pytest.raises(KeyError, match="no python env 'gpu'"):
        parsed.python.only(["gpu"])


def test_diff_and_why_name_the_env(locked, snapshot: Path, tmp_path: Path, lock_cli) -> None:
    intent, lock = locked
    old = tmp_path / "old.lock"
    shutil.copy(lock, old)
    intent.write_text(INTENT.replace('requirements = ["trainlib"]', 'requirements = ["trainlib", "tqdm==4.0"]'))
    assert lock_cli("update", str(intent), "--replay", str(snapshot)).code == 0
    run = lock_cli("diff", str(old), str(lock))
    assert run.code in (0, 1), run.err
    assert "train/tqdm" in run.out and "serve/" not in run.out
    run = lock_cli("why", "numpy", "--lock", str(lock))
    assert run.code == 0, run.err
    assert "python.train: numpy 1.0" in run.out and "python.serve: numpy 1.0" in run.out


def _refused(lock_cli, tmp_path: Path, text: str) -> str:
    """The one line `lock update` answers a bad intent with: exit 2, and nothing written."""
    intent = tmp_path / "bad.toml"
    intent.write_text(text)
    before = sorted(p.name for p in tmp_path.iterdir())
    run = lock_cli("update", str(intent))
    assert run.code == 2, (run.out, run.err)
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "nothing may be written on bad input"
    lines = [line for line in run.err.splitlines() if line]
    assert len(lines) == 1 and "Traceback" not in run.err, lines
    return lines[0]


TWO = '[python]\nbootstrap = []\n[python.envs.train]\nrequirements = ["a"]\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            TWO + '[python.envs.serve]\nrequirements = ["b"]\nvenv = "/opt/venvs/train"\n',
            "bad.toml: python.envs.serve.venv: /opt/venvs/train is already the venv of env 'train': each env has its own",
        ),
        (
            '[python]\nvenv = "/opt/venv"\n[python.envs.a]\nrequirements = ["a"]\n[python.envs.b]\nrequirements = ["b"]\n',
            "bad.toml: python.venv: /opt/venv is already the venv of env 'a': each env has its own",
        ),
        (
            TWO + '[python.envs.serve]\nrequirments = ["b"]\n',
            "bad.toml: python.envs.serve.requirments: unknown key (did you mean 'requirements'?)",
        ),
        (
            TWO + '[python.envs.serve]\nversion = "3.12"\n',
            "bad.toml: python.envs.serve.requirements: missing: an env installs at least one requirement",
        ),
        (
            TWO + "[python.envs.serve]\nrequirements = []\n",
            "bad.toml: python.envs.serve.requirements: missing: an env installs at least one requirement",
        ),
        (
            TWO + '[python.envs."Serve.v2"]\nrequirements = ["b"]\n',
            "bad.toml: python.envs.Serve.v2: expected an env name of lower-case letters, digits and '-'",
        ),
        (
            '[python]\nrequirements = ["a"]\n[python.envs.train]\nrequirements = ["a"]\n',
            "bad.toml: python.requirements: with [python.envs], each env names its own requirements",
        ),
        ("[python]\nenvs = []\n", "bad.toml: python.envs: expected one table per env ([python.envs.<name>])"),
        ("[python]\nenvss = 1\n", "bad.toml: python.envss: unknown key (did you mean 'envs'?)"),
        (
            TWO + '[python.envs.serve]\nrequirements = ["b"]\nversion = "3"\n',
            'bad.toml: python.envs.serve.version: expected a Python minor version such as "3.11"',
        ),
        (
            '[python]\nversion = "3"\n[python.envs.train]\nrequirements = ["a"]\n',
            'bad.toml: python.version: expected a Python minor version such as "3.11"',
        ),
        (
            TWO
            + '[python.envs.serve]\nrequirements = ["torch==2.6.0+cu121"]\n[python.envs.serve.torch]\ncuda = "cu124"\n',
            "bad.toml: python.envs.serve.requirements[0]: torch==2.6.0+cu121 names the +cu121 build but "
            "python.envs.serve.torch.cuda is 'cu124'",
        ),
        (
            TWO + '[python.envs.serve]\nrequirements = ["b"]\nconstraints = ["c @ https://x.invalid/c.whl"]\n',
            "bad.toml: python.envs.serve.constraints[0]: 'c @ https://x.invalid/c.whl': direct URL requirements",
        ),
    ],
)
def test_bad_envs_are_one_line_naming_file_and_key(tmp_path: Path, lock_cli, text: str, message: str) -> None:
    assert _refused(lock_cli, tmp_path, text).startswith(f"lock: error: {tmp_path}/{message}"), message


def test_generate_writes_one_requirements_and_pylock_per_env_and_a_clean_bootstrap(
    locked, tmp_path: Path, lock_cli
) -> None:
    _, lock = locked
    out = tmp_path / "out"
    run = lock_cli("generate", str(lock), "-o", str(out))
    assert run.code == 0, run.err
    names = sorted(p.name for p in out.iterdir())
    assert {"pylock.train.toml", "pylock.serve.toml", "requirements-train.txt", "requirements-serve.txt"} <= set(names)
    assert "pylock.toml" not in names and "requirements.txt" not in names
    envs = _envs(lock)
    for name in ("train", "serve"):
        pylock = tomllib.loads((out / f"pylock.{name}.toml").read_text())
        assert pylock["lock-version"] == "1.0"
        assert {p["name"]: p["version"] for p in pylock["packages"]} == _pins(envs[name])
        assert pylock["tool"]["imagelock"]["env"] == name
        shas = {p["wheel"]["sha256"] for p in envs[name]["packages"]}
        assert {p["wheels"][0]["hashes"]["sha256"] for p in pylock["packages"]} == shas
        requirements = (out / f"requirements-{name}.txt").read_text()
        assert all(f"--hash=sha256:{sha}" in requirements for sha in shas)
        assert f"the venv {envs[name]['venv']} (env {name})" in requirements
    script = (out / "bootstrap.sh").read_text()
    # One row per env (name, interpreter, venv), one per wheel with its env first.
    assert "readonly -a PY_ENVS=(\n  serve 3.11 /srv/serve\n  train 3.11 /opt/venvs/train\n)" in script
    assert "\n  train numpy 1.0 numpy-1.0-py3-none-any.whl " in script
    assert "\n  serve numpy 1.0 numpy-1.0-py3-none-any.whl " in script
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is not installed: it is listed in .ci/apt-packages.txt"
    syntax = subprocess.run(["bash", "-n", str(out / "bootstrap.sh")], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    lint = subprocess.run(
        [shellcheck, "--severity=style", "--shell=bash", str(out / "bootstrap.sh")], capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout
    assert lock_cli("check", str(tmp_path / "multi.toml"), "--generated", str(out)).code == 0


def test_drift_audits_every_env_and_names_the_env_that_drifted(locked, tmp_path: Path, lock_cli) -> None:
    import json

    from imagelock import domains
    from imagelock.drift.synthetic import facts_for

    _, lock = locked
    parsed, _ = domains.read_lock(lock)
    facts = facts_for(parsed)
    assert [py["venv"] for py in facts["python_envs"]] == ["/srv/serve", "/opt/venvs/train"]
    clean = tmp_path / "clean.json"
    clean.write_text(json.dumps(facts))
    run = lock_cli("drift", str(lock), "--facts", str(clean))
    assert run.code == 0, run.out + run.err
    train = next(py for py in facts["python_envs"] if py["venv"] == "/opt/venvs/train")
    train["distributions"] = [d for d in train["distributions"] if d["name"] != "tqdm"]
    drifted = tmp_path / "drifted.json"
    drifted.write_text(json.dumps(facts))
    run = lock_cli("drift", str(lock), "--facts", str(drifted))
    assert run.code == 1, run.out + run.err
    assert "train/tqdm" in run.out and "serve/" not in run.out
    facts.pop("python_envs")
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps(facts))
    run = lock_cli("drift", str(lock), "--facts", str(missing))
    assert run.code == 2
    assert "the lock has a venv (/srv/serve, env serve) but the facts list none" in run.err


def test_the_collector_lists_every_env_venv(locked, tmp_path: Path) -> None:
    """The collector (standard library only, run on the machine) is asked for each env's venv by name."""
    from imagelock import domains
    from imagelock.drift import collector
    from imagelock.drift.compare import LockIndex, collector_args, compare

    _, lock = locked
    parsed, _ = domains.read_lock(lock)
    index = LockIndex(parsed)
    args = collector_args(index, False, 30)
    assert args.count("--venv") == 2 and "/opt/venvs/train" in args and "/srv/serve" in args
    root = tmp_path / "root"
    site = root / "opt/venvs/train/lib/python3.11/site-packages"
    site.mkdir(parents=True)
    for name, version in _pins(_envs(lock)["train"]).items():
        info = site / f"{name}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    facts = collector.collect(str(root), False, index.venvs, [], False, 30.0, [])
    assert [py["venv"] for py in facts["python_envs"]] == ["/srv/serve", "/opt/venvs/train"]
    findings = [(f.kind, f.subject) for f in compare(index, facts) if f.layer == "python"]
    assert findings == [("missing", "serve/venv")]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda layer: setattr(layer.envs[1], "venv", layer.envs[0].venv),
            "python.envs[1].venv: '/srv/serve' is already the venv of env 'serve'",
        ),
        (lambda layer: setattr(layer.envs[0], "name", "Serve.v2"), "python.envs[0].name: expected an env name"),
        (lambda layer: setattr(layer.envs[1], "name", "serve"), "python.envs[1]: duplicate entry (name = 'serve')"),
        (
            lambda layer: setattr(layer, "venv", "/opt/venvs/ai"),
            "python.venv: a Python layer with envs holds it in each env, not here",
        ),
    ],
)
def test_a_lock_with_bad_envs_is_refused_by_every_reader(locked, lock_cli, edit, message: str) -> None:
    """The validator every read of a lock runs: even with the digest recomputed (dumps), one line, exit 2."""
    from imagelock import domains
    from imagelock.lock import codec as lockfile

    intent, lock = locked
    parsed, _ = domains.read_lock(lock)
    edit(parsed.python)
    lock.write_text(lockfile.dumps(parsed))
    for argv in (("check", str(intent)), ("generate", str(lock), "-o", str(lock.parent / "out"))):
        run = lock_cli(*argv)
        assert run.code == 2, (argv, run.out, run.err)
        assert f"{lock}: {message}" in run.err, run.err
    assert not (lock.parent / "out").exists()


def test_an_edited_env_is_named_as_tampered(locked, lock_cli) -> None:
    intent, lock = locked
    text = lock.read_text()
    at = text.index('name = "tqdm"')
    lock.write_text(text[:at] + text[at:].replace('version = "4.1"', 'version = "4.2"', 1))
    run = lock_cli("check", str(intent))
    assert run.code == 1
    assert "entry python.envs[1].packages[1] (tqdm), field version" in run.out, run.out


def test_the_rules_judge_env_by_env_and_name_the_env(locked) -> None:
    """A wheel built for another interpreter in one env is that env's finding, named after it."""
    import dataclasses

    from imagelock import domains
    from imagelock import rules as compat

    _, lock = locked
    parsed, _ = domains.read_lock(lock)
    assert parsed.python is not None
    assert not compat.evaluate(parsed, compat.Targets()).violations
    serve = parsed.python.envs[0]
    numpy = next(p for p in serve.packages if p.name == "numpy")
    numpy.wheel = dataclasses.replace(numpy.wheel, filename="numpy-1.0-cp39-cp39-manylinux_2_17_x86_64.whl")
    lines = [f.one_line() for f in compat.evaluate(parsed, compat.Targets()).violations]
    assert len(lines) == 1 and "numpy 1.0 (env serve)" in lines[0], lines


def test_each_env_conflict_is_reported_with_its_env_and_nothing_is_written(
    tmp_path: Path, snapshot: Path, lock_cli
) -> None:
    intent = tmp_path / "multi.toml"
    intent.write_text(INTENT.replace('requirements = ["servelib"]', 'requirements = ["servelib", "numpy==2.0"]'))
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 1
    assert f"{intent}: python env 'serve': 1 conflict; nothing was written" in run.err + run.out
    assert "numpy==2.0 cannot be installed" in run.err + run.out
    assert "'train'" not in run.err + run.out
    assert not (tmp_path / "multi.lock").exists()
    intent.write_text(
        intent.read_text().replace('requirements = ["trainlib"]', 'requirements = ["trainlib", "numpy==2.0"]')
    )
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 1
    assert (
        "python env 'serve': 1 conflict; " in run.err + run.out
        and "python env 'train': 1 conflict; " in run.err + run.out
    )
    assert not (tmp_path / "multi.lock").exists()


def test_the_image_is_tagged_and_sized_for_every_env(locked) -> None:
    """Packer's tags name each torch any env locks; an accelerated wheel in any env asks for a GPU builder."""
    import dataclasses

    from imagelock import domains
    from imagelock.build import hardware, packer
    from imagelock.build.values import Values

    _, lock = locked
    parsed, _ = domains.read_lock(lock)
    assert parsed.python is not None and not hardware.needs_gpu(parsed)
    for env, version in zip(parsed.python.envs, ("2.5.1+cu124", "2.6.0+cu124"), strict=True):
        numpy = next(p for p in env.packages if p.name == "numpy")
        env.packages.append(dataclasses.replace(numpy, name="torch", version=version))
    assert hardware.needs_gpu(parsed)
    tags = dict(packer._tags(parsed, Values(lock), "[]"))
    assert tags["Torch"] == "2.5.1+cu124 2.6.0+cu124"


def test_an_env_added_or_dropped_is_named_by_check(locked, lock_cli) -> None:
    intent, _ = locked
    intent.write_text(INTENT + '[python.envs.tools]\nrequirements = ["tqdm"]\n')
    run = lock_cli("check", str(intent))
    assert run.code == 1
    assert "asks for python env 'tools', which the lock does not hold" in run.out
    assert "'train'" not in run.out and "'serve'" not in run.out
    intent.write_text(INTENT[: INTENT.index("[python.envs.serve]")])
    run = lock_cli("check", str(intent))
    assert run.code == 1
    assert "the lock holds python env 'serve', which" in run.out and "'train'" not in run.out
