"""`lock diff`: per layer added/removed/changed, sizes, the image's digest; exit 1 when they differ."""

from __future__ import annotations

import json
from pathlib import Path

from imagelock.domains import diff_locks
from imagelock.lock.diff import render_markdown, render_text
from imagelock.lock.model import BaseAmi, BaseLayer, Lock, ModelFile
from rules.recorded import (
    DLAMI_20251216,
    DLAMI_20251219,
    RUNFILE_12_4_1,
    RUNFILE_12_6_0,
    apt_layer,
    bookworm_kernel,
    bookworm_kernel_debs,
    qwen3_model,
    runfile,
    write_lock,
)


def _base(ami: tuple[str, str, str]) -> BaseLayer:
    return BaseLayer(
        image="Deep Learning Base AMI with Single CUDA (Amazon Linux 2023)",
        amis=[BaseAmi(region="us-east-1", id=ami[0], name=ami[1], creation_date=ami[2], owner="amazon")],
    )


def _full(lock: Lock) -> Lock:
    """The seed lock with every other layer filled from recorded facts."""
    lock.base = _base(DLAMI_20251216)
    lock.apt = apt_layer(bookworm_kernel_debs())
    lock.kernel = bookworm_kernel()
    lock.nvidia = runfile(*RUNFILE_12_4_1)
    lock.models = [qwen3_model()]
    return lock


def test_identical_locks_exit_0(tmp_path: Path, seed_lock: Lock, lock_cli) -> None:
    a = write_lock(tmp_path / "a.lock", seed_lock)
    run = lock_cli("diff", str(a), str(a))
    assert (run.code, run.out.strip()) == (0, f"no differences (image {seed_lock.image_name()})")


def test_python_layer_moves_from_seed_to_qwen3(tmp_path: Path, seed_lock: Lock, qwen3_lock: Lock, lock_cli) -> None:
    qwen3_lock.name = seed_lock.name
    a = write_lock(tmp_path / "a.lock", seed_lock)
    b = write_lock(tmp_path / "b.lock", qwen3_lock)
    run = lock_cli("diff", str(a), str(b))
    assert run.code == 1
    lines = run.out.splitlines()
    assert lines[0] == f"image {seed_lock.image_name()} -> {qwen3_lock.image_name()} (version 1.0.0)"
    assert lines[1] == "python: 11 changed, 30 added, 17 removed"
    # What the intent asked for comes first, then moves, additions, removals.
    assert [line.split()[1] for line in lines[2:6]] == ["torch", "torchaudio", "torchvision", "vllm"]
    assert lines[6] == "  ~ compressed-tensors 0.8.1 -> 0.9.3 (85.5 KiB -> 96.1 KiB)"
    assert "  ~ vllm 0.6.6.post1 -> 0.8.4 (191.8 MiB -> 280.5 MiB) [large]" in lines
    assert "  ~ torch 2.5.1+cu124 -> 2.6.0+cu124" in lines  # the PyTorch index publishes no size
    assert "  + cupy-cuda12x 13.4.1 (100.5 MiB) [large]" in lines
    assert "  - aiohttp-cors 0.8.1 (24.6 KiB)" in lines


def test_each_layer_is_compared(seed_lock: Lock) -> None:
    old = _full(seed_lock)
    import copy

    new = copy.deepcopy(old)
    new.universe.cutoff = "2025-06-01T00:00:00Z"
    new.base = _base(DLAMI_20251219)
    assert new.apt is not None
    new.apt.packages = [p for p in new.apt.packages if p.name != "build-essential"]
    new.kernel = bookworm_kernel("6.1.0-49")
    new.nvidia = runfile(*RUNFILE_12_6_0)
    new.models[0].commit = "c" * 40
    new.models[0].files = [ModelFile(path="config.json", sha256="d" * 64, size=937)]
    d = diff_locks(old, new)
    by_layer = {
        layer: [(c.kind, c.key, c.old, c.new) for c in d.layer(layer)]
        for layer in ("universe", "base", "kernel", "apt", "nvidia", "python", "models")
    }
    assert by_layer["universe"] == [("changed", "cutoff", "2025-05-01T00:00:00Z", "2025-06-01T00:00:00Z")]
    assert by_layer["base"] == [("changed", "ami us-east-1", DLAMI_20251216[0], DLAMI_20251219[0])]
    assert by_layer["kernel"] == [("changed", "kernel", "6.1.0-50-amd64", "6.1.0-49-amd64")]
    assert by_layer["apt"] == [("removed", "build-essential:amd64", "12.9", None)]
    assert by_layer["nvidia"] == [
        (
            "changed",
            "driver",
            "550.54.15 (CUDA 12.4.1, cuda_12.4.1_550.54.15_linux.run)",
            "560.28.03 (CUDA 12.6.0, cuda_12.6.0_560.28.03_linux.run)",
        )
    ]
    assert by_layer["python"] == []
    assert by_layer["models"] == [
        ("changed", "Qwen/Qwen3-4B-AWQ", "main@", "main@cccccccccccc"),
        ("added", "Qwen/Qwen3-4B-AWQ/config.json", None, "dddddddddddd"),
        ("removed", "Qwen/Qwen3-4B-AWQ/model.safetensors", "a7043493ebd9", None),
    ]
    text = render_text(d)
    assert "nvidia: 1 changed" in text and "(4.1 GiB -> 4.0 GiB) [large]" in text and "[large]" in text
    body = render_markdown(d)
    assert body.startswith("## Lock refresh\n")
    assert "| changed | `driver` | 550.54.15 (CUDA 12.4.1, cuda_12.4.1_550.54.15_linux.run) | " in body
    assert "**4.1 GiB → 4.0 GiB**" in body
    for layer in ("universe", "base", "kernel", "apt", "nvidia", "models"):
        assert f"### {layer}" in body


def test_same_version_new_bytes_is_a_rebuild(seed_lock: Lock) -> None:
    import copy

    new = copy.deepcopy(seed_lock)
    assert new.python is not None
    new.python.packages[0].wheel.sha256 = "0" * 64
    [change] = diff_locks(seed_lock, new).changes
    assert change.hash_only and "same version, new sha256" in render_text(diff_locks(seed_lock, new))
    assert "| rebuilt |" in render_markdown(diff_locks(seed_lock, new))


def test_json_and_markdown_formats(tmp_path: Path, seed_lock: Lock, qwen3_lock: Lock, lock_cli) -> None:
    a = write_lock(tmp_path / "a.lock", seed_lock)
    b = write_lock(tmp_path / "b.lock", qwen3_lock)
    run = lock_cli("diff", str(a), str(b), "--format", "json")
    data = json.loads(run.out)
    assert run.code == 1 and data["differ"] is True
    assert data["digest"] == {"old": seed_lock.digest(), "new": qwen3_lock.digest()}
    vllm = next(c for c in data["layers"]["python"] if c["key"] == "vllm")
    assert (vllm["old"], vllm["new"], vllm["new_size"]) == ("0.6.6.post1", "0.8.4", 294098962)
    run = lock_cli("diff", str(a), str(b), "--format", "markdown")
    assert run.code == 1
    assert "| changed | **`vllm`** | 0.6.6.post1 | 0.8.4 | **191.8 MiB → 280.5 MiB** |" in run.out
    assert "What the intent asks for:\n\n- python `torch`: 2.5.1+cu124 → 2.6.0+cu124\n" in run.out


def test_the_pr_body_in_the_docs_is_what_lock_diff_renders(tmp_path: Path, lock_cli) -> None:
    """docs/diff-why.md shows a real `lock diff --format markdown`: re-run its recipe and compare."""
    from imagelock_testing import with_seed_keys

    from rules.recorded import QWEN3_INTENT, ROOT, SEED_INTENT

    intent = with_seed_keys(tmp_path) / "seed.toml"
    intent.write_text(SEED_INTENT.read_text())
    assert lock_cli("update", str(intent), "--replay", str(ROOT / "snapshots" / "seed")).code == 0
    before = tmp_path / "before.lock"
    before.write_bytes((tmp_path / "seed.lock").read_bytes())
    intent.write_text(QWEN3_INTENT.read_text().replace('name = "seed-qwen3"', 'name = "seed"'))
    assert lock_cli("update", str(intent), "--replay", str(ROOT / "snapshots" / "seed-qwen3")).code == 0
    run = lock_cli("diff", str(before), str(tmp_path / "seed.lock"), "--format", "markdown")
    assert run.code == 1
    docs = (ROOT / "docs" / "diff-why.md").read_text()
    shown = docs.split("\n---\n\n", 1)[1].split("\n\n---\n", 1)[0]
    assert run.out.rstrip("\n") == shown.rstrip("\n")


def test_diff_is_antisymmetric(seed_lock: Lock, qwen3_lock: Lock) -> None:
    """What one direction adds the other removes; moves swap old and new."""
    forward, backward = diff_locks(seed_lock, qwen3_lock), diff_locks(qwen3_lock, seed_lock)
    swap = {"added": "removed", "removed": "added", "changed": "changed"}
    flipped = {(c.layer, swap[c.kind], c.key, c.new, c.old) for c in forward.changes}
    assert flipped == {(c.layer, c.kind, c.key, c.old, c.new) for c in backward.changes}
    assert not diff_locks(seed_lock, seed_lock).changes
