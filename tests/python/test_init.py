"""`lock init`: the one line users type becomes an intent that reads back."""

from __future__ import annotations

from pathlib import Path

from imagelock import domains


def test_one_line_intent(tmp_path: Path, lock_cli) -> None:
    out = tmp_path / "gpu.toml"
    run = lock_cli("init", "cu124 torch 2.6 + vllm 0.6.6.post1", "--name", "gpu", "-o", str(out))
    assert run.code == 0, run.err
    parsed = domains.read_intent(out)
    assert parsed.name == "gpu"
    assert parsed.python is not None
    assert [str(r) for r in parsed.python.requirements] == ["torch==2.6.*", "vllm==0.6.6.post1"]
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
