"""What `lock generate` writes: every file, deterministic, in the formats its readers expect."""

from __future__ import annotations

import json
import stat
import tomllib
from pathlib import Path

import yaml
from gen_sample import full_lock
from gen_support import full_lock_path, write_lock  # noqa: F401  (fixtures)
from packaging.pylock import Pylock

from imagelock import domains
from imagelock.build.generate import render
from imagelock.lock import codec as lockfile
from imagelock.lock.model import Lock

ROOT = Path(__file__).resolve().parents[2]
SEED_LOCK = ROOT / "locks" / "seed.lock"
FILES = [
    "bootstrap.sh",
    "image.pkr.hcl",
    "lock.toml",
    "models-manifest.json",
    "pylock.toml",
    "ray-worker.yaml",
    "requirements.txt",
    "sbom.cdx.json",
    "sbom.spdx.json",
]


def _generate(lock_cli, lock: Path, out: Path) -> dict[str, bytes]:
    result = lock_cli("generate", str(lock), "-o", str(out))
    assert result.code == 0, result.err
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def test_seed_generates_every_file_byte_identical_on_every_run(tmp_path: Path, lock_cli) -> None:
    first = _generate(lock_cli, SEED_LOCK, tmp_path / "a")
    assert sorted(first) == FILES
    assert _generate(lock_cli, SEED_LOCK, tmp_path / "b") == first
    assert first["lock.toml"] == SEED_LOCK.read_bytes()
    assert stat.S_IMODE((tmp_path / "a" / "bootstrap.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "a" / "pylock.toml").stat().st_mode) == 0o644
    again = lock_cli("generate", str(SEED_LOCK), "-o", str(tmp_path / "a"))
    assert again.out.strip() == f"{tmp_path / 'a'}: all 9 files already current"


def test_the_order_of_packages_in_a_lock_does_not_change_the_output() -> None:
    """Rendering sorts on its own; it does not lean on the lock writer having sorted."""
    lock = full_lock()
    text = lockfile.dumps(lock)
    forward = render(lock, text, "image.lock")
    lock.python.packages.reverse()
    lock.models.reverse()
    lock.apt.packages.reverse()
    for model in lock.models:
        model.files.reverse()
    assert render(lock, text, "image.lock") == forward


def test_requirements_pin_every_package_to_its_target_wheel_hash(tmp_path: Path, lock_cli) -> None:
    files = _generate(lock_cli, SEED_LOCK, tmp_path / "out")
    lock, _ = domains.read_lock(SEED_LOCK)
    lines = [line for line in files["requirements.txt"].decode().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "--extra-index-url https://download.pytorch.org/whl/cu124"
    pins = lines[1:]
    assert pins == [
        f"{p.name}=={p.version} --hash=sha256:{p.wheel.sha256}"
        for p in sorted(lock.python.packages, key=lambda p: p.name)
    ]
    assert "torch==2.5.1+cu124 --hash=sha256:" in files["requirements.txt"].decode()


def test_pylock_is_valid_pep_751_with_one_hashed_wheel_per_package(tmp_path: Path, lock_cli) -> None:
    files = _generate(lock_cli, SEED_LOCK, tmp_path / "out")
    table = tomllib.loads(files["pylock.toml"].decode())
    pylock = Pylock.from_dict(table)  # packaging's PEP 751 validator
    lock, _ = domains.read_lock(SEED_LOCK)
    assert str(pylock.requires_python) == "==3.11.*"
    by_name = {str(p.name): p for p in pylock.packages}
    assert len(by_name) == len(lock.python.packages)
    for package in lock.python.packages:
        entry = by_name[package.name]
        assert str(entry.version) == package.version
        (wheel,) = entry.wheels
        assert wheel.url == package.wheel.url and wheel.hashes == {"sha256": package.wheel.sha256}
        assert wheel.size == package.wheel.size
    assert by_name["torch"].index == "https://download.pytorch.org/whl/cu124"
    assert table["tool"]["imagelock"]["lock-digest"] == lock.digest()


def test_models_manifest_has_the_seed_format(tmp_path: Path, lock_cli, full_lock_path: Path) -> None:
    files = _generate(lock_cli, full_lock_path, tmp_path / "out")
    manifest = json.loads(files["models-manifest.json"])
    assert [tuple(row) for row in manifest] == [("repo", "path", "sha256", "size", "hf_revision")] * 4
    assert manifest[0] == {
        "repo": "Qwen/Qwen3-4B-AWQ",
        "path": "config.json",
        "sha256": f"{30:064x}",
        "size": 937,
        "hf_revision": "a" * 40,
    }
    assert [(r["repo"], r["path"]) for r in manifest] == sorted((r["repo"], r["path"]) for r in manifest)
    seed, _ = domains.read_lock(SEED_LOCK)
    rows = json.loads(_generate(lock_cli, SEED_LOCK, tmp_path / "seed")["models-manifest.json"])
    assert rows == sorted(
        (
            {"repo": m.repo, "path": f.path, "sha256": f.sha256, "size": f.size, "hf_revision": m.commit}
            for m in seed.models
            for f in m.files
        ),
        key=lambda r: (r["repo"], r["path"]),
    )


def test_ray_worker_snippet_is_yaml_for_the_image_venv(tmp_path: Path, lock_cli, full_lock_path: Path) -> None:
    files = _generate(lock_cli, full_lock_path, tmp_path / "out")
    snippet = yaml.safe_load(files["ray-worker.yaml"])
    worker = snippet["available_node_types"]["gpu_worker"]
    assert worker["resources"] == {"GPU": 1}
    assert worker["node_config"]["ImageId"] == "AMI_ID_FROM_PACKER_MANIFEST"
    lock, _ = domains.read_lock(full_lock_path)
    assert {"Key": "LockDigest", "Value": lock.digest()} in worker["node_config"]["TagSpecifications"][0]["Tags"]
    assert snippet["worker_start_ray_commands"][-1].startswith("source /opt/venvs/ai/bin/activate && ray start")
    assert "# WARNING: the lock has no `ray` Python package" in files["ray-worker.yaml"].decode()
    seed = _generate(lock_cli, SEED_LOCK, tmp_path / "seed")["ray-worker.yaml"].decode()
    assert "WARNING" not in seed  # the seed locks ray (through vllm)


def test_bootstrap_carries_each_layer_of_the_full_lock(tmp_path: Path, lock_cli, full_lock_path: Path) -> None:
    script = _generate(lock_cli, full_lock_path, tmp_path / "out")["bootstrap.sh"].decode()
    assert script.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in script
    assert "readonly KERNEL_VERSION=5.15.0-105-generic\n" in script
    # Each .deb row ends with where to fetch it by its pool path: the snapshot the lock records.
    python311 = next(line for line in script.splitlines() if line.startswith("  python3.11 "))
    assert "/20240415T000000Z/pool/" in python311.split()[6]
    # pip's own check backs the script's: hashes required, no dependency resolution, wheels only, no index.
    assert (
        'install --no-index --find-links "$STAGE/wheels" \\\n    --require-hashes --no-deps --only-binary :all:'
        in script
    )
    assert "curl" in script and "| sh" not in script and "| bash" not in script
    assert "  --silent --driver --dkms\n" in script
    assert "  python3.11 '3.11.0~rc1-1~22.04' amd64 " in script
    # transformers is locked and the Qwen model has a tokenizer.json: the tokenizer smoke test loads it,
    # each Python test in the venv of the env that holds what it tests.
    assert (
        "readonly -a SMOKE_TESTS=(\n  nvidia torch@/opt/venvs/ai vllm@/opt/venvs/ai "
        "tokenizer:/workspace/models/qwen/Qwen3-4B-AWQ@/opt/venvs/ai\n)"
    ) in script
    # One mirror layout, the one `lock mirror` writes: the lock's mirror is the default, every artifact at its sha256.
    assert "readonly MIRROR_URL=s3://internal-artifacts/imagelock\n" in script
    assert "MIRROR=${IMAGELOCK_MIRROR:-$MIRROR_URL}\n" in script
    assert 'printf \'%s/sha256/%s\' "$MIRROR" "$1"' in script
    for sha256 in ("$sha256", "$NVIDIA_SHA256", "${MODEL_FILES[i + 4]}"):
        assert f'"$(from_mirror "{sha256}")"' in script
    assert 'mirrored=$(from_mirror "${APT_PACKAGES[i + 4]}")' in script


def _cpu_lock() -> Lock:
    """The full sample without its driver, kernel and CUDA builds: torch from the CPU index."""
    lock = full_lock()
    lock.name = "cpu-worker"
    for name in ("nvidia", "kernel"):
        lock.layers.pop(name, None)
    assert lock.apt is not None  # and no NVIDIA repository in its apt layer
    lock.apt.packages = [p for p in lock.apt.packages if p.repository is None]
    lock.apt.repositories, lock.apt.keyring = [], None
    assert lock.python is not None
    for package in lock.python.packages:
        package.version = package.version.replace("+cu124", "+cpu")
        package.wheel.filename = package.wheel.filename.replace("+cu124", "+cpu")
        package.wheel.url = package.wheel.url.replace("cu124", "cpu")
    return lock


def test_a_cpu_only_lock_generates_no_gpu_files(tmp_path: Path, lock_cli, write_lock) -> None:
    """No driver, no CUDA wheels: a CPU builder, a CPU Ray node, a CPU torch smoke test, and no generated
    file that speaks of a GPU, NVIDIA or CUDA (bootstrap.sh's template is the same for every lock: its data
    block holds no driver)."""
    files = {n: b.decode() for n, b in _generate(lock_cli, write_lock(_cpu_lock()), tmp_path / "out").items()}
    assert (
        "readonly NVIDIA_RUNFILE=''" in files["bootstrap.sh"] and "readonly KERNEL_VERSION=''" in files["bootstrap.sh"]
    )
    for name, text in files.items():
        if name in ("lock.toml", "bootstrap.sh"):
            continue
        for word in ("gpu", "nvidia", "cuda"):
            assert word not in text.lower(), f"{name} mentions {word}"
    snippet = yaml.safe_load(files["ray-worker.yaml"])
    worker = snippet["available_node_types"]["cpu_worker"]
    assert "resources" not in worker and worker["node_config"]["InstanceType"] == "m6i.xlarge"
    assert snippet["worker_start_ray_commands"][-1].endswith("ray start --address=$RAY_HEAD_IP:6379")
    assert "torch-cpu" in files["bootstrap.sh"] and 'default     = "m6i.xlarge"' in files["image.pkr.hcl"]
    gpu = {n: b.decode() for n, b in _generate(lock_cli, write_lock(full_lock(), "gpu.lock"), tmp_path / "gpu").items()}
    assert "gpu_worker" in gpu["ray-worker.yaml"] and 'default     = "g5.xlarge"' in gpu["image.pkr.hcl"]


def test_generated_files_claim_no_hash_the_lock_lacks(tmp_path: Path, lock_cli) -> None:
    """The seed holds three model files without a hash: the manifest gives them null, the Ray snippet says
    they are not verified, and the bootstrap measures them rather than claim a hash."""
    seed, _ = domains.read_lock(SEED_LOCK)
    unhashed = sorted((m.repo, f.path) for m in seed.models for f in m.files if f.sha256 is None)
    assert len(unhashed) == 3
    files = {n: b.decode() for n, b in _generate(lock_cli, SEED_LOCK, tmp_path / "seed").items()}
    rows = json.loads(files["models-manifest.json"])
    assert sorted((r["repo"], r["path"]) for r in rows if r["sha256"] is None and r["size"] is None) == unhashed
    assert (
        "# Models, by absolute path (read-only, 3 of their files NOT verified (see below)):" in files["ray-worker.yaml"]
    )
    assert "# 3 model files have no hash in the lock: the build fetched them unverified" in files["ray-worker.yaml"]
    for repo, path in unhashed:
        assert any(
            line.split()[0] == repo and line.split()[3] == path and line.endswith(" '' ''")
            for line in files["bootstrap.sh"].splitlines()
            if line.startswith("  ") and len(line.split()) == 6
        )
