"""Every user mistake: one line naming file, key and expectation; exit 2; nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from imagelock_testing import SEED_SNAPSHOT, tree_digest

BASE = """\
name = "t"
[universe]
cutoff = "2025-05-01T00:00:00Z"
[python]
requirements = {requirements}
bootstrap = []
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.toml"
    path.write_bytes(text.encode())
    return path


def _fails(lock_cli, tmp_path: Path, intent: Path, *extra: str) -> str:
    before = tree_digest(tmp_path)
    run = lock_cli("update", str(intent), *extra)
    assert run.code == 2, (run.out, run.err)
    assert tree_digest(tmp_path) == before, "nothing may be written on bad input"
    assert "Traceback" not in run.err
    lines = [line for line in run.err.splitlines() if line]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "t"\n[python\n', "t.toml: not valid TOML"),
        ("[pyton]\nrequirements = []\n", "t.toml: pyton: unknown key (did you mean 'python'?)"),
        ("[python]\nrequirments = []\n", "t.toml: python.requirments: unknown key (did you mean 'requirements'?)"),
        ('[python]\nrequirements = ["torch>=>2"]\n', "t.toml: python.requirements[0]: 'torch>=>2' is not a PEP 508"),
        ('[python]\nrequirements = "vllm"\n', "t.toml: python.requirements: expected an array of strings"),
        ('[python.torch]\ncuda = "cu125"\n', "t.toml: python.torch.cuda: unknown CUDA flavour 'cu125' (did you mean"),
        ('[python]\nversion = "3"\n', 't.toml: python.version: expected a Python minor version such as "3.11"'),
        ('[python]\nplatform = "win_amd64"\n', "t.toml: python.platform: expected a target such as"),
        ('[universe]\ncutoff = "yesterday"\n', "t.toml: universe.cutoff: expected an RFC 3339 time"),
        (
            '[python]\nrequirements = ["torch==2.6.0+cu121"]\n[python.torch]\ncuda = "cu124"\n',
            "t.toml: python.requirements[0]: torch==2.6.0+cu121 names the +cu121 build but python.torch.cuda is 'cu124'",
        ),
        (
            '[python]\nrequirements = ["a"]\n[[python.index]]\nname = "x"\nurl = "https://x.invalid/simple"\n',
            "t.toml: python.index[0].packages: expected the packages that may come from this index",
        ),
    ],
)
def test_malformed_intents(tmp_path: Path, lock_cli, text: str, message: str) -> None:
    intent = _write(tmp_path, text)
    line = _fails(lock_cli, tmp_path, intent)
    assert line.startswith(f"lock: error: {intent.parent}/{message}") or message in line, line


def test_package_not_on_its_index(tmp_path: Path, lock_cli) -> None:
    intent = _write(tmp_path, BASE.format(requirements='["vllm==0.6.6.post1", "vllmm"]'))
    line = _fails(lock_cli, tmp_path, intent, "--replay", str(SEED_SNAPSHOT))
    assert line == f"lock: error: {intent}: python.requirements[1]: no project 'vllmm' on index 'pypi'"


def test_version_that_does_not_exist_lists_the_nearest(tmp_path: Path, lock_cli) -> None:
    intent = _write(tmp_path, BASE.format(requirements='["safetensors==0.4.4"]'))
    line = _fails(lock_cli, tmp_path, intent, "--replay", str(SEED_SNAPSHOT))
    assert line.startswith(
        f"lock: error: {intent}: python.requirements[0]: safetensors==0.4.4: no such version "
        "on index 'pypi' before the cutoff 2025-05-01T00:00:00Z; nearest: "
    )
    assert "0.4.3" in line


def test_unreachable_index_names_it_and_writes_nothing(tmp_path: Path, lock_cli) -> None:
    text = BASE.format(requirements='["internal-tool"]') + (
        '[[python.index]]\nname = "internal"\nurl = "http://127.0.0.1:9/simple"\npackages = ["internal-tool"]\n'
    )
    intent = _write(tmp_path, text)
    line = _fails(lock_cli, tmp_path, intent)
    assert line.startswith("lock: error: index 'internal' (http://127.0.0.1:9/simple) unreachable: ")
    assert line.endswith("; nothing was written")


def test_existing_lock_is_not_changed_by_a_failed_update(tmp_path: Path, lock_cli) -> None:
    intent = _write(tmp_path, BASE.format(requirements='["vllmm"]'))
    (tmp_path / "t.lock").write_text("keep me\n")
    _fails(lock_cli, tmp_path, intent, "--replay", str(SEED_SNAPSHOT))
    assert (tmp_path / "t.lock").read_text() == "keep me\n"


def test_unknown_option_is_one_line_exit_2(lock_cli) -> None:
    run = lock_cli("update", "x.toml", "--frobnicate")
    assert run.code == 2
    assert "unrecognized arguments: --frobnicate" in run.err


def test_missing_intent(tmp_path: Path, lock_cli) -> None:
    line = _fails(lock_cli, tmp_path, tmp_path / "absent.toml")
    assert line == f"lock: error: {tmp_path / 'absent.toml'}: no such intent file (create one with `lock init`)"


@pytest.mark.parametrize("flag", ["--only", "--refresh"])
def test_only_or_refresh_names_an_unknown_domain(tmp_path: Path, lock_cli, flag: str) -> None:
    intent = _write(tmp_path, BASE.format(requirements="[]"))
    line = _fails(lock_cli, tmp_path, intent, flag, "pyhton")
    assert line.startswith(f"lock: error: {flag}: unknown domain 'pyhton' (did you mean 'python'?)")


def test_mirror_is_not_an_intent_key(tmp_path: Path, lock_cli) -> None:
    """The mirror is where `lock mirror` put the artifacts, recorded in the lock; an intent naming one is refused."""
    intent = _write(tmp_path, BASE.format(requirements="[]") + '\n[mirror]\nurl = "s3://bucket/prefix"\n')
    line = _fails(lock_cli, tmp_path, intent, "--dry-run")
    assert line == (
        f"lock: error: {intent}: mirror: unknown key; expected one of: name, universe, variants, python, apt, "
        "kernel, dnf, nvidia, models, files, containers, base, ansible, output"
    )


def test_check_refuses_a_bad_section_as_update_does(tmp_path: Path, lock_cli) -> None:
    intent = _write(tmp_path, BASE.format(requirements="[]") + '\n[nvidia]\ncuda = "twelve"\n')
    before = tree_digest(tmp_path)
    run = lock_cli("check", str(intent))
    assert (run.code, run.out) == (2, "")
    assert (
        run.err.strip() == f'lock: error: {intent}: nvidia.cuda: expected a CUDA version such as "12.4.1", '
        "found 'twelve'"
    )
    assert tree_digest(tmp_path) == before
