"""bootstrap.sh's GRUB entry for the locked kernel, read from a real jammy machine's menu entries
(tests/fixtures/grub/README.md), and the Packer flow that reboots into it and checks `uname -r`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from gen_sample import full_lock

from imagelock.build import packer
from imagelock.build.values import Values

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "imagelock" / "build" / "bootstrap.sh"
JAMMY = ROOT / "tests" / "fixtures" / "grub" / "jammy-menuentries.txt"
SUBMENU = "gnulinux-advanced-cdc0eb43-b3e9-4337-b245-bb62aeb7cff5"


def grub_entry(cfg: Path, version: str) -> str:
    """Run the script's own `grub_entry` function (cut out of bootstrap.sh) under bash."""
    function = subprocess.run(
        ["sed", "-n", "/^grub_entry()/,/^}/p", str(SCRIPT)], capture_output=True, text=True, check=True
    ).stdout
    assert function.startswith("grub_entry()")
    run = subprocess.run(
        ["bash", "-c", f'{function}\ngrub_entry "$1" "$2"', "bash", str(cfg), version],
        capture_output=True,
        text=True,
        check=True,
    )
    return run.stdout.strip()


@pytest.mark.parametrize("version", ["5.15.0-119-generic", "5.15.0-105-generic", "5.15.0-78-generic"])
def test_each_installed_kernel_is_found_by_its_id_inside_the_submenu(version: str) -> None:
    assert grub_entry(JAMMY, version) == f"{SUBMENU}>gnulinux-{version}-advanced-cdc0eb43-b3e9-4337-b245-bb62aeb7cff5"


@pytest.mark.parametrize("version", ["5.15.0-10-generic", "5.15.0-105-aws", "5.15.0-1051-aws", "5.15.0-105"])
def test_a_kernel_that_is_not_installed_has_no_entry(version: str) -> None:
    """Ids are matched whole up to `-advanced-`: 105 is not 1051, generic is not aws, recovery is never chosen."""
    assert grub_entry(JAMMY, version) == ""


def test_without_a_submenu_the_entry_id_alone_is_the_default(tmp_path: Path) -> None:
    """GRUB_DISABLE_SUBMENU=y lists every kernel at the top level."""
    flat = tmp_path / "grub.cfg"
    flat.write_text("\n".join(line for line in JAMMY.read_text().splitlines() if not line.startswith("submenu")) + "\n")
    assert (
        grub_entry(flat, "5.15.0-105-generic")
        == "gnulinux-5.15.0-105-generic-advanced-cdc0eb43-b3e9-4337-b245-bb62aeb7cff5"
    )


def test_the_packer_flow_makes_the_kernel_default_reboots_and_checks_it() -> None:
    lock = full_lock()
    assert lock.kernel is not None
    template = packer.render(lock, Values("full.lock"), "[]")
    system, reboot, booted = (
        template.index("--system-only"),
        template.index('inline            = ["shutdown -r now"]'),
        template.index('pause_before     = "30s"'),
    )
    assert system < reboot < booted
    assert 'bootstrap   = "bash /tmp/imagelock-bootstrap.sh --lock /tmp/imagelock-lock.toml --booted' in template
    lock.layers.pop("kernel")
    plain = packer.render(lock, Values("full.lock"), "[]")
    assert "--booted" not in plain and "shutdown -r now" not in plain
