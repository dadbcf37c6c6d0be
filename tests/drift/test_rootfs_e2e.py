"""`lock drift --root` on a real Debian bookworm root filesystem: clean, then each planted drift found and named."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from imagelock.drift import collector

from .drifthelpers import (
    MODELS,
    NVIDIA,
    VENV,
    Rootfs,
    build_deb,
    dpkg_install,
    make_lock,
    pip_install,
    tree_digest,
    wheel_file,
)

pytestmark = pytest.mark.e2e


def drift_json(lock_cli, fs: Rootfs, *extra: str):
    run = lock_cli("drift", str(fs.lock_path), "--root", str(fs.root), "--format", "json", *extra)
    data = json.loads(run.out)
    (machine,) = data["machines"]
    return run.code, machine["findings"], data


def test_clean_rootfs_has_no_drift(lock_cli, rootfs: Rootfs) -> None:
    assert len(rootfs.lock.apt.packages) > 80  # the whole minbase dpkg database plus the probe
    code, findings, data = drift_json(lock_cli, rootfs, "--deep", "--strict")
    assert (code, findings) == (0, [])
    assert data["summary"] == {"machines": 1, "clean": 1, "drifted": 0, "unreachable": 0}
    text = lock_cli("drift", str(rootfs.lock_path), "--root", str(rootfs.root))
    assert text.code == 0
    assert text.out.strip() == f"{rootfs.root}: clean: no drift from {rootfs.lock.image_name()}"


def test_dpkg_upgrade_and_downgrade_are_changed_versions(lock_cli, rootfs: Rootfs) -> None:
    dpkg_install(rootfs.root, build_deb(rootfs.work, "imagelock-probe", "1.1"))
    code, findings, _ = drift_json(lock_cli, rootfs)
    assert code == 1
    assert findings == [
        {"layer": "apt", "kind": "changed-version", "subject": "imagelock-probe", "expected": "1.0", "actual": "1.1"}
    ]
    text = lock_cli("drift", str(rootfs.lock_path), "--root", str(rootfs.root))
    assert "apt:\n  imagelock-probe: 1.0 → 1.1\n" in text.out
    subprocess.run(
        [
            "dpkg",
            f"--root={rootfs.root}",
            "--force-not-root",
            "--force-downgrade",
            "-i",
            str(build_deb(rootfs.work, "imagelock-probe", "0.9")),
        ],
        check=True,
        capture_output=True,
    )
    _, findings, _ = drift_json(lock_cli, rootfs)
    assert [(f["subject"], f["expected"], f["actual"]) for f in findings] == [("imagelock-probe", "1.0", "0.9")]


def test_another_deb_is_extra_only_when_the_lock_owns_all_of_dpkg(lock_cli, rootfs: Rootfs) -> None:
    dpkg_install(rootfs.root, build_deb(rootfs.work, "imagelock-extra", "3.0"))
    code, findings, _ = drift_json(lock_cli, rootfs, "--strict")
    assert code == 1
    assert findings == [{"layer": "apt", "kind": "extra", "subject": "imagelock-extra", "actual": "3.0"}]
    code, findings, _ = drift_json(lock_cli, rootfs)  # the base image's packages are not the lock's to own
    assert (code, findings) == (0, [])


def test_removed_package_is_missing(lock_cli, rootfs: Rootfs) -> None:
    subprocess.run(
        ["dpkg", f"--root={rootfs.root}", "--force-not-root", "--purge", "imagelock-probe"],
        check=True,
        capture_output=True,
    )
    code, findings, _ = drift_json(lock_cli, rootfs)
    assert (code, findings) == (
        1,
        [{"layer": "apt", "kind": "missing", "subject": "imagelock-probe", "expected": "1.0"}],
    )


def test_another_wheel_version_is_found(lock_cli, rootfs: Rootfs) -> None:
    path, _ = wheel_file(rootfs.work, "tinya", "1.1")
    pip_install(rootfs.root, path)
    extra, _ = wheel_file(rootfs.work, "tinyc", "0.1")
    pip_install(rootfs.root, extra)
    code, findings, _ = drift_json(lock_cli, rootfs)
    assert code == 1
    assert findings == [
        {"layer": "python", "kind": "changed-version", "subject": "tinya", "expected": "1.0", "actual": "1.1"},
        {"layer": "python", "kind": "extra", "subject": "tinyc", "actual": "0.1"},
    ]


def test_pip_target_upgrade_leaving_two_dist_infos_is_found(lock_cli, rootfs: Rootfs) -> None:
    path, _ = wheel_file(rootfs.work, "tinya", "1.1")
    pip_install(rootfs.root, path, "--upgrade", "--target", str(rootfs.site))  # keeps tinya-1.0.dist-info
    code, findings, _ = drift_json(lock_cli, rootfs)
    assert code == 1
    assert findings == [
        {
            "layer": "python",
            "kind": "extra",
            "subject": "tinya",
            "expected": "1.0",
            "actual": "1.1",
            "detail": "installed twice (1.0 and 1.1)",
        }
    ]


def test_edited_installed_file_is_a_changed_hash_in_deep_mode(lock_cli, rootfs: Rootfs) -> None:
    module = rootfs.site / "tinyb" / "__init__.py"
    module.write_text('__version__ = "2.1"  # patched by hand\n')
    assert drift_json(lock_cli, rootfs)[:2] == (0, [])  # versions alone cannot see it
    code, findings, _ = drift_json(lock_cli, rootfs, "--deep")
    assert code == 1
    assert findings == [
        {
            "layer": "python",
            "kind": "changed-hash",
            "subject": "tinyb",
            "expected": "RECORD",
            "actual": "1 changed, 0 missing",
            "detail": "tinyb/__init__.py",
        }
    ]


def test_changed_model_byte_is_found_in_deep_mode(lock_cli, rootfs: Rootfs) -> None:
    weights = rootfs.path(MODELS) / "weights" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[100] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert drift_json(lock_cli, rootfs)[:2] == (0, [])  # same size: only hashing sees it
    code, findings, _ = drift_json(lock_cli, rootfs, "--deep")
    expected = rootfs.lock.models[0].files[1].sha256
    assert code == 1
    assert findings == [
        {
            "layer": "models",
            "kind": "changed-hash",
            "subject": f"{MODELS}/weights/model.safetensors",
            "expected": expected[:12],
            "actual": __import__("hashlib").sha256(data).hexdigest()[:12],
        }
    ]


def test_truncated_removed_and_added_model_files(lock_cli, rootfs: Rootfs) -> None:
    folder = rootfs.path(MODELS)
    (folder / "config.json").write_bytes(b"{}")
    (folder / "weights" / "model.safetensors").unlink()
    (folder / "notes.txt").write_text("hand-copied\n")
    code, findings, _ = drift_json(lock_cli, rootfs)
    sha = rootfs.lock.models[0].files[1].sha256[:12]
    assert code == 1
    assert findings == [
        {
            "layer": "models",
            "kind": "changed-hash",
            "subject": f"{MODELS}/config.json",
            "expected": "33 bytes",
            "actual": "2 bytes",
            "detail": "size differs",
        },
        {"layer": "models", "kind": "extra", "subject": f"{MODELS}/notes.txt", "actual": "12 bytes"},
        {"layer": "models", "kind": "missing", "subject": f"{MODELS}/weights/model.safetensors", "expected": sha},
    ]


def test_fingerprint_of_another_lock(lock_cli, rootfs: Rootfs) -> None:
    other = make_lock("other")
    rootfs.write_fingerprint(other)
    code, findings, _ = drift_json(lock_cli, rootfs)
    assert code == 1
    assert findings == [
        {
            "layer": "image",
            "kind": "other-lock",
            "subject": "fingerprint",
            "expected": rootfs.lock.image_name(),
            "actual": other.image_name(),
        }
    ]
    text = lock_cli("drift", str(rootfs.lock_path), "--root", str(rootfs.root)).out
    assert f"image:\n  fingerprint: {rootfs.lock.image_name()} → {other.image_name()} (other lock)\n" in text


def test_missing_fingerprint(lock_cli, rootfs: Rootfs) -> None:
    for name in ("lock.toml", "lock.digest"):
        (rootfs.path("/etc/imagelock") / name).unlink()
    code, findings, _ = drift_json(lock_cli, rootfs)
    assert code == 1
    assert [(f["layer"], f["kind"], f["subject"]) for f in findings] == [("image", "missing", "fingerprint")]


def test_driver_from_the_runfile_libraries(lock_cli, rootfs: Rootfs) -> None:
    rootfs.lock.nvidia = NVIDIA
    rootfs.write_lock()
    rootfs.write_fingerprint(rootfs.lock)
    code, findings, _ = drift_json(lock_cli, rootfs)
    assert code == 1
    assert findings == [
        {
            "layer": "nvidia",
            "kind": "missing",
            "subject": "driver",
            "expected": "550.54.15",
            "detail": "no /proc/driver/nvidia, nvidia-smi, module or driver libraries found",
        }
    ]
    libdir = rootfs.path("/usr/lib/x86_64-linux-gnu")
    (libdir / "libcuda.so.550.54.15").write_bytes(b"\x7fELF")  # what the runfile installs, by name
    assert drift_json(lock_cli, rootfs)[:2] == (0, [])
    (libdir / "libcuda.so.550.54.15").rename(libdir / "libcuda.so.535.183.01")
    code, findings, _ = drift_json(lock_cli, rootfs)
    assert (code, findings) == (
        1,
        [
            {
                "layer": "nvidia",
                "kind": "wrong-driver",
                "subject": "driver",
                "expected": "550.54.15",
                "actual": "535.183.01",
                "detail": "from libraries",
            }
        ],
    )


def test_collector_runs_on_the_images_own_python(lock_cli, rootfs: Rootfs) -> None:
    """The collector, fed to the rootfs's python3 inside a chroot: stdlib only, same facts as --root."""
    source = Path(collector.__file__).read_bytes()
    done = subprocess.run(
        ["chroot", str(rootfs.root), "/usr/bin/python3", "-", "--venv", VENV, "--models", MODELS, "--deep"],
        input=source,
        capture_output=True,
        check=True,
        timeout=120,
    )
    facts_file = rootfs.work / "facts.json"
    facts_file.write_bytes(done.stdout)
    facts = json.loads(done.stdout)
    assert facts["live"] is True and facts["os_release"]["VERSION_CODENAME"] == "bookworm"
    assert {d["name"]: d["version"] for d in facts["python"]["distributions"]} == {"tinya": "1.0", "tinyb": "2.1"}
    run = lock_cli("drift", str(rootfs.lock_path), "--facts", str(facts_file), "--strict")
    assert run.code == 0, run.out


def test_collector_and_drift_write_nothing(lock_cli, rootfs: Rootfs) -> None:
    before = tree_digest(rootfs.root)
    run = lock_cli("drift", str(rootfs.lock_path), "--root", str(rootfs.root), "--deep", "--strict")
    assert run.code == 0
    assert tree_digest(rootfs.root) == before


def test_collector_out_of_time_is_exit_2_with_the_reason(lock_cli, rootfs: Rootfs) -> None:
    run = lock_cli("drift", str(rootfs.lock_path), "--root", str(rootfs.root), "--deep", "--timeout", "0.0001")
    assert run.code == 2 and run.out == ""
    assert run.err.startswith(f"lock: error: {rootfs.root}: could not audit: complete: the collector did not finish (")
    assert "deadline of 0.0001s reached" in run.err


def test_kernel_from_lib_modules(lock_cli, rootfs: Rootfs) -> None:
    """Without a running kernel, --root looks for the locked kernel's modules, as a kernel package installs them."""
    from imagelock.lock.model import KernelLayer

    rootfs.lock.kernel = KernelLayer(version="6.1.0-28-amd64", flavour="amd64", abi="6.1.0-28")
    rootfs.write_lock()
    rootfs.write_fingerprint(rootfs.lock)
    code, findings, _ = drift_json(lock_cli, rootfs)
    assert (code, findings) == (
        1,
        [
            {
                "layer": "kernel",
                "kind": "wrong-kernel",
                "subject": "installed kernel",
                "expected": "6.1.0-28-amd64",
                "detail": "no /lib/modules for the locked kernel",
            }
        ],
    )
    tree = rootfs.work / "modules"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        "Package: linux-modules-test\nVersion: 6.1.0-28\nArchitecture: all\n"
        "Maintainer: t <t@example.invalid>\nDescription: modules\n"
    )
    (tree / "lib" / "modules" / "6.1.0-27-amd64").mkdir(parents=True)
    (tree / "lib" / "modules" / "6.1.0-27-amd64" / "modules.order").write_text("")
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-b", str(tree), str(rootfs.work / "m.deb")], check=True, capture_output=True
    )
    dpkg_install(rootfs.root, rootfs.work / "m.deb")
    code, findings, _ = drift_json(lock_cli, rootfs)
    assert (code, findings) == (
        1,
        [
            {
                "layer": "kernel",
                "kind": "wrong-kernel",
                "subject": "installed kernel",
                "expected": "6.1.0-28-amd64",
                "actual": "6.1.0-27-amd64",
                "detail": "no /lib/modules for the locked kernel",
            }
        ],
    )


def test_dpkg_facts_equal_what_dpkg_query_lists(lock_cli, rootfs: Rootfs) -> None:
    """The collector's dpkg parser against dpkg itself, on the same database."""
    subprocess.run(
        [
            "dpkg",
            f"--root={rootfs.root}",
            "--force-not-root",
            "--unpack",
            str(build_deb(rootfs.work, "imagelock-unpacked", "0.1")),
        ],
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        [
            "dpkg-query",
            f"--admindir={rootfs.root}/var/lib/dpkg",
            "-W",
            "-f",
            "${db:Status-Status}\\t${Package}\\t${Version}\\t${Architecture}\\n",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    expected = []
    for line in out.splitlines():
        state, name, version, arch = line.split("\t")
        if state not in ("not-installed", "config-files"):
            expected.append([name, version, arch] + ([] if state == "installed" else [state]))
    run = lock_cli("collect", "--root", str(rootfs.root))
    facts = json.loads(run.out)
    assert run.code == 0 and facts["live"] is False
    assert facts["dpkg"] == sorted(expected)
    assert ["imagelock-unpacked", "0.1", "all", "unpacked"] in facts["dpkg"]
