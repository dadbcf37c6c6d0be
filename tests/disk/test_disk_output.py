"""`[output]` through the real CLI: `lock generate` writes disk-image.sh (shellcheck-clean, values as quoted
data), which downloads a real qcow2 made by qemu-img over loopback HTTP, verifies it, converts it to sparse
raw (or qcow2) with qemu-img and writes the build record; and every bad input is one line, exit 2, nothing
written. The qemu-nbd + chroot step is not run here (it needs root and the nbd kernel module):
IMAGELOCK_DISK_CUSTOMIZE=skip runs every step around it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.containers.registry import tool
from tests.disk.diskhelpers import intent, run_pipeline, served, tiny_qcow2

SHA = "0" * 64


def test_generate_writes_a_shellcheck_clean_pipeline_that_builds_a_sparse_raw_and_its_record(
    tmp_path: Path, lock_cli
) -> None:
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    base_sha = tiny_qcow2(upstream / "noble.img")
    with served(upstream) as url:
        path = intent(tmp_path, f"{url}/noble.img", base_sha)
        assert lock_cli("update", str(path)).code == 0
        run = lock_cli("generate", str(path.with_suffix(".lock")), "-o", str(tmp_path / "gen"))
        assert run.code == 0, run.err
        script = tmp_path / "gen" / "disk-image.sh"
        assert os.access(script, os.X_OK)
        lint = subprocess.run(
            [tool("shellcheck"), "--enable=check-unassigned-uppercase", str(script)], capture_output=True, text=True
        )
        assert lint.returncode == 0, lint.stdout
        assert f"readonly BASE_SHA256={base_sha}\n" in script.read_text()
        done = run_pipeline(script, tmp_path / "work")
    assert done.returncode == 0, done.stderr
    raw = tmp_path / "work" / "slice.raw"
    info = json.loads(
        subprocess.run(
            [tool("qemu-img"), "info", "--output=json", str(raw)], capture_output=True, text=True, check=True
        ).stdout
    )
    assert info["format"] == "raw" and info["virtual-size"] == 8 << 20
    assert raw.stat().st_blocks * 512 < 1 << 20  # sparse: 64 KiB of data, not 8 MiB of blocks
    same = subprocess.run(
        [tool("qemu-img"), "compare", "-f", "qcow2", "-F", "raw", str(upstream / "noble.img"), str(raw)],
        capture_output=True,
    )
    assert same.returncode == 0  # the same disk, block for block
    record = json.loads((tmp_path / "work" / "slice.raw.build.json").read_text())
    lock_text = path.with_suffix(".lock").read_text()
    assert record["sha256"] == hashlib.sha256(raw.read_bytes()).hexdigest()
    assert record["size"] == raw.stat().st_size == 8 << 20
    assert record["kind"] == "raw" and record["file"] == "slice.raw" and record["customized"] == "skip"
    assert f'digest = "{record["lock-digest"]}"' in lock_text
    assert record["image"] == "slice-" + record["lock-digest"][:12]


def test_qcow2_output_and_a_local_base_copy(tmp_path: Path, lock_cli) -> None:
    base_sha = tiny_qcow2(tmp_path / "noble.img")
    path = intent(
        tmp_path,
        "https://cloud-images.example/noble.img",
        base_sha,
        'kind = "qcow2"\nfile = "noble-h200.qcow2"\nsize = "16M"',
    )
    assert lock_cli("update", str(path)).code == 0
    assert lock_cli("generate", str(path.with_suffix(".lock")), "-o", str(tmp_path / "gen")).code == 0
    done = run_pipeline(
        tmp_path / "gen" / "disk-image.sh", tmp_path / "work", IMAGELOCK_DISK_BASE=str(tmp_path / "noble.img")
    )
    assert done.returncode == 0, done.stderr
    out = tmp_path / "work" / "noble-h200.qcow2"
    info = json.loads(
        subprocess.run(
            [tool("qemu-img"), "info", "--output=json", str(out)], capture_output=True, text=True, check=True
        ).stdout
    )
    assert info["format"] == "qcow2" and info["virtual-size"] == 16 << 20  # grown as [output] size says
    assert json.loads((tmp_path / "work" / "noble-h200.qcow2.build.json").read_text())["kind"] == "qcow2"


def test_a_base_image_with_other_bytes_is_refused_and_nothing_is_built(tmp_path: Path, lock_cli) -> None:
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    base_sha = tiny_qcow2(upstream / "noble.img")
    with served(upstream) as url:
        path = intent(tmp_path, f"{url}/noble.img", base_sha)
        assert lock_cli("update", str(path)).code == 0
        assert lock_cli("generate", str(path.with_suffix(".lock")), "-o", str(tmp_path / "gen")).code == 0
        tiny_qcow2(upstream / "noble.img", pattern=0x11)  # the upstream now serves another image
        done = run_pipeline(tmp_path / "gen" / "disk-image.sh", tmp_path / "work")
    assert done.returncode == 1
    assert "base image noble.img: sha256 " in done.stderr and f"expected {base_sha}" in done.stderr
    assert not (tmp_path / "work" / "slice.raw").exists()
    assert (tmp_path / "work" / "noble.img.rejected").exists()


def test_an_unknown_customize_method_in_the_environment_stops_before_anything(tmp_path: Path, lock_cli) -> None:
    path = intent(tmp_path, "https://cloud-images.example/noble.img", SHA)
    assert lock_cli("update", str(path)).code == 0
    assert lock_cli("generate", str(path.with_suffix(".lock")), "-o", str(tmp_path / "gen")).code == 0
    done = run_pipeline(tmp_path / "gen" / "disk-image.sh", tmp_path / "work", IMAGELOCK_DISK_CUSTOMIZE="x; id")
    assert done.returncode == 1 and "expected nbd, guestfs or skip" in done.stderr
    assert not (tmp_path / "work").exists()


def test_a_lock_without_output_gets_no_pipeline(tmp_path: Path, lock_cli) -> None:
    path = tmp_path / "plain.toml"
    path.write_text('name = "plain"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n')
    assert lock_cli("update", str(path)).code == 0
    assert lock_cli("generate", str(path.with_suffix(".lock")), "-o", str(tmp_path / "gen")).code == 0
    assert not (tmp_path / "gen" / "disk-image.sh").exists()


@pytest.mark.parametrize(
    ("section", "key", "message"),
    [
        ('kind = "vmdk"', "output.kind", "expected one of: raw, qcow2; found 'vmdk'"),
        ('kind = "raw"\nformat = "raw"', "output.format", "unknown key"),
        ('kind = "raw"\nfile = "../x.raw"', "output.file", "expected a plain file name"),
        ('kind = "raw"\nfile = "x.qcow2"', "output.file", "expected a name ending in .raw"),
        ('kind = "raw"\nsize = "40 GB"', "output.size", "expected a size such as"),
        ('kind = "raw"\ncustomize = "virt"', "output.customize", "expected one of: nbd, guestfs"),
        ('kind = "raw"\nroot-partition = 0', "output.root-partition", "expected a partition number"),
        ('kind = "raw"', "output.base", "missing"),
    ],
)
def test_bad_output_is_one_line_naming_the_key_and_writes_nothing(
    tmp_path: Path, lock_cli, section: str, key: str, message: str
) -> None:
    path = tmp_path / "slice.toml"
    path.write_text(f'name = "slice"\n[output]\n{section}\n')
    run = lock_cli("update", str(path))
    assert run.code == 2
    assert run.err.startswith(f"lock: error: {path}: {key}: ") and message in run.err
    assert len(run.err.strip().splitlines()) == 1
    assert not path.with_suffix(".lock").exists()


@pytest.mark.parametrize(
    ("base", "key"),
    [
        ('url = "ftp://x/noble.img"\nsha256 = "' + SHA + '"', "output.base.url"),
        ('url = "https://u:p@x/noble.img"\nsha256 = "' + SHA + '"', "output.base.url"),
        ('url = "https://x/noble.img$(id)"\nsha256 = "' + SHA + '"', "output.base.url"),
        ('url = "https://x/noble.img"\nsha256 = "ABC"', "output.base.sha256"),
        ('url = "https://x/noble.img"\nsha256sums = "https://x/SHA256SUMS"', "output.base.keyring"),
        ('url = "https://x/noble.img"\nsignature = "https://x/SHA256SUMS.gpg"', "output.base.sha256sums"),
        ('url = "https://x/noble.img"', "output.base.sha256"),
        ('url = "https://x/noble.img"\nsha256sums = "file:///etc/SHA256SUMS"', "output.base.sha256sums"),
        ('url = "https://x/noble.img"\nsha256sums = "https://x/S"\nkeyring = "no-such.gpg"', "output.base.keyring"),
    ],
)
def test_bad_base_is_one_line_naming_the_key(tmp_path: Path, lock_cli, base: str, key: str) -> None:
    path = tmp_path / "slice.toml"
    path.write_text(f'name = "slice"\n[output]\nkind = "raw"\n[output.base]\n{base}\n')
    run = lock_cli("update", str(path))
    assert run.code == 2 and run.err.startswith(f"lock: error: {path}: {key}: ")
    assert not path.with_suffix(".lock").exists()


def test_generate_refuses_a_lock_not_made_from_the_output_beside_it(tmp_path: Path, lock_cli) -> None:
    path = intent(tmp_path, "https://cloud-images.example/noble.img", SHA)
    assert lock_cli("update", str(path)).code == 0
    path.write_text(path.read_text().replace('kind = "raw"', 'kind = "qcow2"'))
    run = lock_cli("generate", str(path.with_suffix(".lock")), "-o", str(tmp_path / "gen"))
    assert run.code == 2
    assert run.err.startswith(f"lock: error: {path.with_suffix('.lock')}: intent-sha256: not made from {path}")
    assert not (tmp_path / "gen").exists()


def test_output_with_variants_is_refused_until_each_variant_can_have_its_disk(tmp_path: Path, lock_cli) -> None:
    path = intent(tmp_path, "https://cloud-images.example/noble.img", SHA)
    path.write_text(path.read_text() + "[variants.cpu]\n")
    run = lock_cli("update", str(path))
    assert run.code == 2 and run.err.startswith(f"lock: error: {path}: output: not yet with [variants]")
    assert not path.with_suffix(".lock").exists()
