"""Every locked wheel accepts the image's Python version."""

from __future__ import annotations

from imagelock.lock.model import Lock
from imagelock.rules import Targets, evaluate, wheel_tags


def test_seed_wheels_accept_python_3_11(seed_lock: Lock) -> None:
    assert evaluate(seed_lock, Targets()).findings == []


def test_cp311_wheels_refuse_python_3_12(seed_lock: Lock) -> None:
    assert seed_lock.python is not None
    seed_lock.python.version = "3.12"
    findings = evaluate(seed_lock, Targets()).violations
    names = {f.subject.split()[0] for f in findings}
    # torch, vllm (cp38-abi3 is fine!) ... only the cp311-only wheels are reported
    assert "torch" in names and "aiohttp" in names
    assert "vllm" not in names  # vllm-0.6.6.post1-cp38-abi3: abi3 works on 3.12
    assert "filelock" not in names  # py3-none-any
    torch = next(f for f in findings if f.subject.startswith("torch "))
    assert torch.facts[1] == (
        "the locked wheel torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl is built for cp311-cp311"
    )


def test_abi3_floor() -> None:
    assert ("cp38", "abi3") in wheel_tags.accepted("3.11")
    assert ("cp312", "abi3") not in wheel_tags.accepted("3.11")
