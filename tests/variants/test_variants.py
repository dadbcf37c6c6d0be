"""Image variants (docs/variants.md) through the real CLI: three variants of one intent lock in one `lock
update` against the replay server on loopback (the seed's recorded NVIDIA, Hugging Face and AWS answers,
and a vendor's [[files]] downloads recorded beside them); what they share is resolved and stored once; `lock check` and
`lock diff` name the one variant that moved; `lock generate` writes one Packer build per variant, each
passing the tools the single-image build passes; bad input is one line, exit 2, nothing written."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import hcl2
import pytest
from hcl2.utils import SerializationOptions

from imagelock import domains
from imagelock.lock import codec
from tests.files.vendor import INSTALLER, TOOL

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "snapshots" / "seed"
VENDOR = "https://vendor.example/efa"
GDRCOPY = b"#!/bin/sh\necho gdrcopy 2.4\n" * 32
TINYBERT = "cross-encoder/ms-marco-TinyBERT-L2-v2"

SHARED = """\
name = "fleet"
[universe]
cutoff = "2025-05-01T00:00:00Z"

[nvidia]
cuda = "12.4.1"
install-flags = ["--silent", "--driver", "--dkms"]

[[models]]
repo = "Alibaba-NLP/gte-modernbert-base"
revision = "e7f32e3c00f91d699e8c43b53106206bcc72bb22"
files = ["config.json", "tokenizer.json"]
dest = "/workspace/models/gte-modernbert-base"

[[models]]
repo = "cross-encoder/ms-marco-TinyBERT-L2-v2"
revision = "81d1926f67cb8eee2c2be17ca9f793c7c3bd20cc"
files = ["tokenizer.json"]
dest = "/workspace/models/ms-marco-TinyBERT-L2-v2"

[base]
image = "ami-0f244b28200b93640"
regions = ["eu-west-2"]

[[files]]
url = "{url}/installer.sh"
dest = "/opt/efa/install.sh"
mode = "0755"

[[files]]
url = "{url}/tool-2.0.tar.gz"
dest = "/opt/tool"
extract = true
"""

# gpu: everything, its own driver flags and one more file; train: the same driver flags (resolved and
# stored once, with gpu), one model left out; cpu: no driver, one of the two shared files.
VARIANTS = """
[variants.gpu]
[variants.gpu.nvidia]
install-flags = ["--silent", "--driver"]
[[variants.gpu.files]]
url = "{url}/gdrcopy.sh"
dest = "/opt/gdrcopy/install.sh"

[variants.train]
skip = ["models:cross-encoder/ms-marco-TinyBERT-L2-v2"]
[variants.train.nvidia]
install-flags = ["--silent", "--driver"]

[variants.cpu]
take = ["base", "models", "files:/opt/efa/install.sh"]
"""


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    """The seed's recording, plus the vendor's three downloads recorded under files/ (urls.json)."""
    root = tmp_path / "snapshot"
    root.mkdir()
    for entry in SEED.iterdir():
        if entry.is_dir():
            (root / entry.name).symlink_to(entry)
    manifest = json.loads((SEED / "snapshot.json").read_text())
    (root / "snapshot.json").write_text(json.dumps({**manifest, "files": "files"}))
    (root / "files").mkdir()
    downloads = {"installer.sh": INSTALLER, "tool-2.0.tar.gz": TOOL, "gdrcopy.sh": GDRCOPY}
    for name, data in downloads.items():
        (root / "files" / name).write_bytes(data)
    (root / "files" / "urls.json").write_text(json.dumps({f"{VENDOR}/{name}": name for name in downloads}))
    return root


@pytest.fixture
def intent(tmp_path: Path, snapshot: Path) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text((SHARED + VARIANTS).replace("{url}", VENDOR))
    return path


def _update(lock_cli, intent: Path):
    return lock_cli("update", str(intent), "--replay", str(intent.parent / "snapshot"))


@pytest.fixture
def locked(intent: Path, lock_cli) -> Path:
    run = _update(lock_cli, intent)
    assert run.code == 0, run.err
    return intent.with_suffix(".lock")


def _count(table: object, key: str) -> int:
    """How many times `key` names a non-empty value anywhere in a lock table."""
    if isinstance(table, dict):
        here = 1 if table.get(key) else 0
        return here + sum(_count(v, key) for v in table.values())
    if isinstance(table, list):
        return sum(_count(v, key) for v in table)
    return 0


def _entries(table: object, key: str, value: str) -> int:
    """How many tables anywhere in a lock table have `key = value`."""
    if isinstance(table, dict):
        return int(table.get(key) == value) + sum(_entries(v, key, value) for v in table.values())
    if isinstance(table, list):
        return sum(_entries(v, key, value) for v in table)
    return 0


def _digest(out: str, variant: str) -> str:
    found = re.search(rf"image fleet-{variant}-([0-9a-f]{{12}})", out)
    assert found, out
    return found[1]


def test_three_variants_lock_in_one_update_and_what_they_share_is_stored_once(intent: Path, lock_cli) -> None:
    run = _update(lock_cli, intent)
    assert run.code == 0, run.err
    assert run.out.splitlines()[1:] == [
        f"variant cpu: image fleet-cpu-{_digest(run.out, 'cpu')} (its own: nothing)",
        f"variant gpu: image fleet-gpu-{_digest(run.out, 'gpu')} (its own: files, nvidia)",
        f"variant train: image fleet-train-{_digest(run.out, 'train')} (its own: nvidia as gpu's)",
    ]
    path = intent.with_suffix(".lock")
    table = tomllib.loads(path.read_text())

    assert sorted(table["variants"]) == ["cpu", "gpu", "train"]
    # Stored once: the two shared models, the base image and each shared file appear once in the whole
    # lock; the driver twice (the shared one and the one gpu and train share); gdrcopy once (gpu's own).
    assert _entries(table, "repo", "Alibaba-NLP/gte-modernbert-base") == 1
    assert _entries(table, "repo", TINYBERT) == 1
    assert _entries(table, "id", "ami-0f244b28200b93640") == 1
    assert _entries(table, "dest", "/opt/efa/install.sh") == 1
    assert _entries(table, "dest", "/opt/tool") == 1
    assert _entries(table, "dest", "/opt/gdrcopy/install.sh") == 1
    assert _count(table, "runfile") == 2
    assert table["variants"]["train"]["take"] == [
        "base",
        "files",
        f"models:{'Alibaba-NLP/gte-modernbert-base'}",
        "nvidia@gpu",
    ]
    assert table["variants"]["cpu"]["take"] == ["base", "files:/opt/efa/install.sh", "models"]
    assert "nvidia" in table["variants"]["gpu"] and "files" in table["variants"]["gpu"]

    lock, _ = domains.read_lock(path)
    views = dict(domains.images(lock))
    gpu, train, cpu = views["gpu"], views["train"], views["cpu"]
    assert gpu.name == "fleet-gpu" and gpu.nvidia is not None and gpu.nvidia.install_flags == ["--silent", "--driver"]
    assert sorted(f.dest for f in gpu.files) == ["/opt/efa/install.sh", "/opt/gdrcopy/install.sh", "/opt/tool"]
    assert len(gpu.models) == 2
    assert train.nvidia == gpu.nvidia and [m.repo for m in train.models] == ["Alibaba-NLP/gte-modernbert-base"]
    assert cpu.nvidia is None and [f.dest for f in cpu.files] == ["/opt/efa/install.sh"] and len(cpu.models) == 2
    assert len({v.image_name() for v in views.values()}) == 3
    # What `lock mirror` copies covers every image: gpu's own file is among the lock's artifacts, once.
    assert [a.dest for a in domains.artifacts(lock)].count("/opt/gdrcopy/install.sh") == 1

    check = lock_cli("check", str(intent))
    assert check.code == 0, check.out + check.err
    again = _update(lock_cli, intent)
    assert again.code == 0 and again.out.startswith("unchanged "), again.out + again.err


def test_a_change_in_one_variant_makes_check_name_that_variant_only(intent: Path, locked: Path, lock_cli) -> None:
    before = locked.read_text()
    intent.write_text(intent.read_text().replace('skip = ["models:', 'skip = ["files:/opt/tool", "models:'))
    check = lock_cli("check", str(intent))
    assert check.code == 1
    problems = [line for line in check.out.splitlines() if "stale" in line]
    assert len(problems) == 1 and "stale: variant train:" in problems[0], check.out
    assert "variant gpu" not in check.out and "variant cpu" not in check.out

    old = locked.with_name("old.lock")
    old.write_text(before)
    assert _update(lock_cli, intent).code == 0
    assert lock_cli("check", str(intent)).code == 0
    diff = lock_cli("diff", str(old), str(locked))
    assert diff.code == 1
    lines = diff.out.splitlines()
    assert [line for line in lines if line.startswith("variant ") and "no differences" not in line] == [
        next(line for line in lines if line.startswith("variant train: "))
    ]
    assert "- /opt/tool" in diff.out


def test_a_variant_left_out_of_the_lock_or_the_intent_is_stale(intent: Path, locked: Path, lock_cli) -> None:
    intent.write_text(intent.read_text() + '\n[variants.edge]\ntake = ["base"]\n')
    check = lock_cli("check", str(intent))
    assert check.code == 1 and "stale: variant edge: the intent has [variants.edge], the lock does not" in check.out


def _hcl(path: Path) -> dict:
    with open(path) as handle:
        return hcl2.load(
            handle, serialization_options=SerializationOptions(strip_string_quotes=True, with_comments=False)
        )


def test_generate_writes_one_packer_build_per_variant(locked: Path, tmp_path: Path, lock_cli) -> None:
    out = tmp_path / "build"
    run = lock_cli("generate", str(locked), "-o", str(out))
    assert run.code == 0, run.err
    assert sorted(p.name for p in out.iterdir()) == ["cpu", "gpu", "lock.toml", "train"]
    lock, _ = domains.read_lock(locked)
    names = {}
    for variant in ("cpu", "gpu", "train"):
        folder = out / variant
        assert (folder / "bootstrap.sh").stat().st_mode & 0o111
        own, claimed = domains.read_lock(folder / "lock.toml")  # a plain lock: what bootstrap.sh and drift read
        assert own.name == f"fleet-{variant}" and not own.variants and claimed == own.digest()
        assert own.digest() == domains.variant_lock(lock, variant).digest()
        template = _hcl(folder / "image.pkr.hcl")
        source = template["source"][0]["amazon-ebs"]["image"]
        assert source["ami_name"] == "${local.image_name}"
        assert template["locals"][0]["image_name"] == own.image_name()
        assert template["locals"][0]["source_amis"] == {"eu-west-2": "ami-0f244b28200b93640"}
        files = [p["file"]["source"] for p in template["build"][0]["provisioner"] if "file" in p]
        assert files == ["${path.root}/bootstrap.sh", "${path.root}/lock.toml"]
        names[variant] = template["variable"]
        if shutil.which("packer"):
            fmt = subprocess.run(["packer", "fmt", "-check", "image.pkr.hcl"], cwd=folder, capture_output=True)
            assert fmt.returncode == 0, fmt.stdout
        if shutil.which("shellcheck"):
            lint = subprocess.run(
                ["shellcheck", "--severity=style", "--shell=bash", "bootstrap.sh"], cwd=folder, capture_output=True
            )
            assert lint.returncode == 0, lint.stdout
    gpu_script = (out / "gpu" / "bootstrap.sh").read_text()
    cpu_script = (out / "cpu" / "bootstrap.sh").read_text()
    assert "gdrcopy" in gpu_script and "gdrcopy" not in cpu_script
    assert "cuda_12.4.1_550.54.15_linux.run" in gpu_script and "cuda_12.4.1_550.54.15_linux.run" not in cpu_script

    assert lock_cli("check", "--generated", str(out), "--lock", str(locked)).code == 0
    (out / "train" / "image.pkr.hcl").write_text("# edited\n")
    stale = lock_cli("check", "--generated", str(out), "--lock", str(locked))
    assert stale.code == 1 and f"{out / 'train' / 'image.pkr.hcl'}: stale" in stale.out


def _refused(lock_cli, intent: Path, *argv: str) -> str:
    run = lock_cli("update", str(intent), "--replay", str(intent.parent / "snapshot"), *argv)
    assert run.code == 2, run.out + run.err
    assert run.out == "" and run.err.count("\n") == 1, run.err
    assert not intent.with_suffix(".lock").exists()
    return run.err.strip()


@pytest.mark.parametrize(
    ("variants", "said"),
    [
        (
            '[variants.gpu]\ntake = ["nvidai"]\n',
            "variants.gpu.take: unknown selector 'nvidai' (did you mean 'nvidia'?); the shared intent has: "
            "nvidia, models, files, base",
        ),
        (
            '[variants.gpu]\nskip = ["files:/opt/efa/instal.sh"]\n',
            "variants.gpu.skip: unknown selector 'files:/opt/efa/instal.sh': no [[files]] with dest "
            "'/opt/efa/instal.sh' (did you mean '/opt/efa/install.sh'?)",
        ),
        (
            '[variants.gpu]\ntake = ["nvidia:cuda"]\n',
            "variants.gpu.take: selector 'nvidia:cuda': [nvidia] is a table, taken or skipped whole (say 'nvidia')",
        ),
        ('[variants.gpu]\ntakes = ["nvidia"]\n', "variants.gpu.takes: unknown key (did you mean 'take'?)"),
        ("[variants.gpu.nvidai]\ncuda = '12.4.1'\n", "variants.gpu.nvidai: unknown key (did you mean 'nvidia'?)"),
        ("[variants.GPU]\n", "variants.GPU: expected a short lower-case variant name"),
        ("[variants.gpu.nvidia]\ncuda = 12\n", "variants.gpu: nvidia.cuda:"),
        (
            '[[variants.gpu.files]]\nurl = "https://vendor.example/efa/gdrcopy.sh"\ndest = "/opt/tool"\n',
            "variants.gpu: files[2].dest: /opt/tool is already the dest of files[1]",
        ),
        ('[variants.gpu]\ntake = "nvidia"\n', "variants.gpu.take: expected an array of strings"),
    ],
)
def test_bad_variants_are_one_line_exit_2_nothing_written(
    tmp_path: Path, snapshot: Path, lock_cli, variants: str, said: str
) -> None:
    intent = tmp_path / "fleet.toml"
    intent.write_text(SHARED.replace("{url}", VENDOR) + variants)
    error = _refused(lock_cli, intent)
    assert error.startswith(f"lock: error: {intent}: {said}"), error


def test_an_edited_variant_is_refused_by_generate_naming_it(locked: Path, tmp_path: Path, lock_cli) -> None:
    text = locked.read_text()
    assert text.count('"--driver",\n]') == 1
    edited = tmp_path / "edited.lock"
    edited.write_text(text.replace('"--driver",\n]', '"--driver",\n    "--no-dkms",\n]'))
    run = lock_cli("generate", str(edited), "-o", str(tmp_path / "out"))
    assert run.code == 2 and "changed: the variants table, field gpu.nvidia.install-flags;" in run.err, run.err
    assert not (tmp_path / "out").exists()


def test_a_variant_that_takes_what_the_lock_lacks_is_refused(locked: Path, tmp_path: Path, lock_cli) -> None:
    text = locked.read_text()
    bad = tmp_path / "bad.lock"
    bad.write_text(text.replace('"files:/opt/efa/install.sh"', '"files:/opt/efa/other.sh"', 1))
    run = lock_cli("generate", str(bad), "-o", str(tmp_path / "out"))
    assert run.code == 2, run.err
    assert "variants.cpu.take[1]: 'files:/opt/efa/other.sh': no such entry in the files layer" in run.err


def test_the_validator_walks_a_variant_s_own_layers(locked: Path, tmp_path: Path, lock_cli) -> None:
    """Even with the digest recomputed, a file:// URL in a variant's own file is refused, named where it is."""
    lock, _ = domains.read_lock(locked)
    lock.variants["gpu"].layers["files"][0].url = "file:///etc/passwd"
    bad = tmp_path / "bad.lock"
    bad.write_text(codec.dumps(lock))
    run = lock_cli("generate", str(bad), "-o", str(tmp_path / "out"))
    assert run.code == 2 and run.err.startswith(f"lock: error: {bad}: variants.gpu.files[0].url: expected an https")
    assert not (tmp_path / "out").exists()


def test_drift_asks_for_one_variant_s_lock(locked: Path, tmp_path: Path, lock_cli) -> None:
    run = lock_cli("drift", str(locked), "--root", str(tmp_path))
    assert run.code == 2 and run.err.count("\n") == 1
    assert "holds the variants cpu, gpu, train: audit a machine against its variant's lock" in run.err


def test_an_intent_without_variants_locks_byte_identical(tmp_path: Path, lock_cli) -> None:
    out = tmp_path / "seed.lock"
    run = lock_cli("update", str(ROOT / "locks" / "seed.toml"), "--lock", str(out), "--replay", str(SEED))
    assert run.code == 0, run.err
    assert out.read_bytes() == (ROOT / "locks" / "seed.lock").read_bytes()
