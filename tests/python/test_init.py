"""`lock init`: the one line users type becomes an intent that reads back."""

from __future__ import annotations

from pathlib import Path

from imagelock import domains


def test_one_line_intent(tmp_path: Path, lock_cli) -> None:
    out = tmp_path / "gpu.toml"
    run = lock_cli("init", "cu124 torch 2.6 + vllm 0.8.0", "--name", "gpu", "-o", str(out))
    assert run.code == 0, run.err
    parsed = domains.read_intent(out)
    assert parsed.name == "gpu"
    assert parsed.python is not None
    assert [str(r) for r in parsed.python.requirements] == ["torch==2.6.*", "vllm==0.8.0"]
    assert parsed.python.torch is not None and parsed.python.torch.cuda == "cu124"
    assert parsed.python.version == "3.11"
    assert parsed.python.platform == "x86_64-manylinux_2_35"
    assert [str(r) for r in parsed.python.bootstrap] == ["pip", "setuptools", "wheel"]


def test_python_and_ubuntu_words(tmp_path: Path, lock_cli) -> None:
    out = tmp_path / "x.toml"
    assert lock_cli("init", "python 3.12 + ubuntu 24.04 + transformers>=4.45", "-o", str(out)).code == 0
    parsed = domains.read_intent(out)
    assert parsed.python.version == "3.12"
    assert parsed.python.platform == "x86_64-manylinux_2_39"
    assert [str(r) for r in parsed.python.requirements] == ["transformers>=4.45"]


def test_init_refuses_to_overwrite(tmp_path: Path, lock_cli) -> None:
    out = tmp_path / "x.toml"
    out.write_text("mine\n")
    run = lock_cli("init", "vllm", "-o", str(out))
    assert run.code == 2
    assert run.err.strip() == f"lock: error: {out}: already exists (use --force to overwrite)"
    assert out.read_text() == "mine\n"


def test_unreadable_spec_is_one_line(tmp_path: Path, lock_cli) -> None:
    out = tmp_path / "x.toml"
    run = lock_cli("init", "ubuntu 18.04", "-o", str(out))
    assert run.code == 2
    assert "expected Ubuntu 20.04, 22.04, 24.04" in run.err
    assert not out.exists()


def test_known_conflict_is_refused_with_its_fix(tmp_path: Path, lock_cli) -> None:
    """vllm 0.6.6.post1's published metadata says `Requires-Dist: torch==2.5.1` (recorded in
    imagelock/rules/data/pinned_requires.json): `torch 2.6` beside it can never be locked, and no index is asked."""
    out = tmp_path / "gpu.toml"
    run = lock_cli("init", "cu124 torch 2.6 + vllm 0.6.6.post1", "--name", "gpu", "-o", str(out))
    assert run.code == 1, run.err
    lines = run.out.splitlines()
    assert lines[0] == (
        'lock init: "cu124 torch 2.6 + vllm 0.6.6.post1" cannot be locked (1 known conflict); nothing was written'
    )
    assert lines[1] == (
        "[pinned-requires] vllm==0.6.6.post1 and torch==2.6.*: vllm 0.6.6.post1 requires torch==2.5.1; "
        "you asked for torch==2.6.*; fix: torch==2.5.1 or vllm==0.8.0 (it requires torch==2.6.0)"
    )
    assert lines[2].startswith("  source: vllm 0.6.6.post1's published metadata https://files.pythonhosted.org/")
    assert "vllm-0.6.6.post1-cp38-abi3-manylinux1_x86_64.whl.metadata (sha256 " in lines[2]
    assert len(lines) == 3 and run.err == ""
    assert not out.exists()


def test_every_known_conflict_gets_its_line(tmp_path: Path, lock_cli) -> None:
    out = tmp_path / "gpu.toml"
    out.write_text("mine\n")
    run = lock_cli("init", "cu124 torch 2.6 + torchvision 0.21.0 + vllm 0.6.6.post1", "-o", str(out), "--force")
    assert run.code == 1
    problems = [line for line in run.out.splitlines() if line.startswith("[pinned-requires]")]
    assert [line.split(":")[0] for line in problems] == [
        "[pinned-requires] vllm==0.6.6.post1 and torch==2.6.*",
        "[pinned-requires] vllm==0.6.6.post1 and torchvision==0.21.0",
    ]
    assert "fix: torchvision==0.20.1 or vllm==0.8.0 (it requires torchvision==0.21.0)" in problems[1]
    assert out.read_text() == "mine\n"


def test_pins_that_agree_are_written(tmp_path: Path, lock_cli) -> None:
    """The same table says nothing where the pins agree, nor about a release it does not hold."""
    for spec in ("cu124 torch 2.5.1 + vllm 0.6.6.post1", "cu124 torch 2.6 + vllm 0.8.3"):
        out = tmp_path / "x.toml"
        run = lock_cli("init", spec, "-o", str(out), "--force")
        assert run.code == 0, run.out
        assert out.exists()


def test_exact_pins_a_cross_layer_rule_refuses_are_refused(tmp_path: Path, lock_cli) -> None:
    """torchvision 0.20.1 belongs to torch 2.5 (PyTorch's release table, imagelock/rules/torch_family.py)."""
    out = tmp_path / "x.toml"
    run = lock_cli("init", "cu124 torch 2.6.0 + torchvision 0.20.1", "-o", str(out))
    assert run.code == 1
    lines = run.out.splitlines()
    assert (
        lines[0]
        == 'lock init: "cu124 torch 2.6.0 + torchvision 0.20.1" cannot be locked (1 known conflict); nothing was written'
    )
    assert lines[1].startswith(
        "[torch-release] torchvision 0.20.1+cu124 with torch 2.6.0+cu124: torch 2.6 goes with torchvision 0.21.*"
    )
    assert lines[2].startswith("  source: pytorch/vision README")
    assert not out.exists()
