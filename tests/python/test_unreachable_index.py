"""An index that cannot be reached still leaves the analysis that needs no index to speak, then exit 2.

The index is a loopback port nothing listens on (bound, then closed): uv's requests are refused at once.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

UNREACHABLE = re.compile(
    r"lock: error: index '(default|pytorch-cu124)' \(http://127\.0\.0\.1:\d+/(simple|whl/cu124)\) unreachable: "
)


@pytest.fixture
def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _intent(tmp_path: Path, port: int, requirements: list[str]) -> Path:
    intent = tmp_path / "worker.toml"
    intent.write_text(
        f"""name = "worker"

[universe]
cutoff = "2025-05-01T00:00:00Z"

[python]
version = "3.11"
platform = "x86_64-manylinux_2_35"
venv = "/opt/venvs/ai"
index-url = "http://127.0.0.1:{port}/simple"
requirements = {json.dumps(requirements)}
bootstrap = []

[python.torch]
cuda = "cu124"
index-url = "http://127.0.0.1:{port}/whl/cu124"
"""
    )
    return intent


def test_no_index_analysis_is_printed_before_the_unreachable_index(tmp_path: Path, closed_port: int, lock_cli) -> None:
    intent = _intent(tmp_path, closed_port, ["torch==2.6.0", "torchvision==0.20.1", "vllm==0.6.6.post1"])
    before = intent.read_bytes()
    run = lock_cli("update", str(intent))
    assert run.code == 2
    assert run.err.count("\n") == 1
    assert UNREACHABLE.match(run.err), run.err  # uv names whichever of the two indexes it asked first
    assert run.err.rstrip().endswith("; nothing was written")
    lines = run.out.splitlines()
    assert lines[0] == "judged without the upstream that could not be reached:"
    # the cross-layer rules over the intent's exact pins (PyTorch's release table) ...
    assert lines[1] == "1. [torch-release] torchvision 0.20.1+cu124 with torch 2.6.0+cu124"
    # ... and the exact pins vllm 0.6.6.post1 publishes in its own metadata
    at = lines.index("2. [pinned-requires] vllm==0.6.6.post1 and torch==2.6.0")
    assert lines[at + 1 : at + 4] == [
        "     vllm 0.6.6.post1 requires torch==2.5.1",
        "     you asked for torch==2.6.0",
        "     fix: torch==2.5.1 or vllm==0.8.0 (it requires torch==2.6.0)",
    ]
    assert lines[at + 4].startswith("     source: vllm 0.6.6.post1's published metadata https://")
    assert not intent.with_suffix(".lock").exists()
    assert intent.read_bytes() == before


def test_json_keeps_the_analysis_in_the_document(tmp_path: Path, closed_port: int, lock_cli) -> None:
    intent = _intent(tmp_path, closed_port, ["torch==2.6.*", "vllm==0.6.6.post1"])
    run = lock_cli("update", str(intent), "--json")
    assert run.code == 2
    answer = json.loads(run.out)
    assert answer["ok"] is False and "unreachable" in answer["error"]
    assert "1. [pinned-requires] vllm==0.6.6.post1 and torch==2.6.*" in answer["details"]
    assert not intent.with_suffix(".lock").exists()


def test_nothing_to_judge_is_the_one_error_line(tmp_path: Path, closed_port: int, lock_cli) -> None:
    intent = _intent(tmp_path, closed_port, ["torch==2.5.1", "vllm==0.6.6.post1"])
    run = lock_cli("update", str(intent))
    assert run.code == 2
    assert run.out == ""
    assert UNREACHABLE.match(run.err) and run.err.count("\n") == 1
    assert not intent.with_suffix(".lock").exists()
