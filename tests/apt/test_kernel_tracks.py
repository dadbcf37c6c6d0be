"""Which kernel a flavour means on noble, against the real trimmed noble index (snapshots/slice/ubuntu-noble).

noble-updates carries the release's own kernel (6.8, named by `linux-image-generic`) and the
hardware-enablement kernels (`linux-image-generic-hwe-24.04`, 7.0 in this recording) under the same
flavour `generic`. The recording keeps both metapackages and both ABIs (tools/record_apt_snapshot.py
--keep), so these tests read what Ubuntu's archive says, not a made-up index.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from imagelock_testing import ROOT, tree_digest, with_seed_keys

from imagelock.domains import read_intent, read_lock
from imagelock.intent.apt import parse_kernel
from imagelock.lock import codec

SNAPSHOT = ROOT / "snapshots" / "slice"
RECORDING = SNAPSHOT / "ubuntu-noble"
SLICE = tomllib.loads((ROOT / "locks" / "slice.toml").read_text())
GA, HWE = "6.8.0-151", "7.0.0-44"


def _stanzas() -> dict[str, dict[str, str]]:
    """The newest recorded stanza of each package (noble-updates', where it has one)."""
    out: dict[str, dict[str, str]] = {}
    for suite in ("noble", "noble-security", "noble-updates"):
        for index in sorted(RECORDING.glob(f"dists/{suite}/*/binary-amd64/Packages")):
            for block in index.read_text().split("\n\n"):
                fields = dict(re.findall(r"^([A-Za-z0-9-]+): (.*)$", block, re.M))
                if fields:
                    out[fields["Package"]] = fields
    return out


def _intent(folder: Path, kernel: dict[str, Any]) -> Path:
    """The slice example's [apt] with one small package, and this [kernel], in folder/image (apart from the
    download cache the tests keep in folder/cache)."""
    folder = folder / "image"
    folder.mkdir(exist_ok=True)
    with_seed_keys(folder)
    apt = dict(SLICE["apt"], packages=["rdma-core"])
    path = folder / "noble.toml"
    path.write_text(tomli_w.dumps({"name": "noble", "universe": SLICE["universe"], "apt": apt, "kernel": kernel}))
    return path


def _kernel(intent: Path) -> dict[str, Any]:
    table: dict[str, Any] = tomllib.loads(intent.with_suffix(".lock").read_text())["kernel"]
    return table


def _kernel_findings(out: str) -> list[str]:
    """`lock check`'s findings about the kernel layer (not the compatibility rules that name a kernel)."""
    kinds = "not verified|not as asked|not reproducible|pre-release"
    return [m[1] for line in out.splitlines() if (m := re.search(rf": ((?:{kinds}): kernel .*)$", line))]


def test_the_recording_holds_both_tracks() -> None:
    """The precondition of every test here, from Ubuntu's own stanzas: two metapackages, two ABIs."""
    stanzas = _stanzas()
    assert f"linux-image-{GA}-generic" in stanzas["linux-image-generic"]["Depends"]
    assert f"linux-image-{HWE}-generic" in stanzas["linux-image-generic-hwe-24.04"]["Depends"]
    for abi in (GA, HWE):
        for part in ("image", "modules", "headers"):
            assert f"linux-{part}-{abi}-generic" in stanzas
    kept = json.loads((RECORDING / "provenance.json").read_text())["kept"]
    assert "linux-image-generic-hwe-24.04" in kept and "linux-image-generic" in kept


def test_generic_means_the_release_kernel_not_the_newest_abi(tmp_path: Path, lock_cli) -> None:
    intent = _intent(tmp_path, {"flavour": "generic"})
    run = lock_cli("update", str(intent), "--replay", str(SNAPSHOT))
    assert run.code == 0, run.err
    kernel = _kernel(intent)
    assert (kernel["version"], kernel["abi"], kernel["flavour"]) == (f"{GA}-generic", GA, "generic")
    assert kernel["chosen-by"] == "linux-image-generic 6.8.0-151.151"
    assert kernel["ga"] == "6.8.0"
    check = lock_cli("check", str(intent))
    assert check.code == 0, check.out
    assert _kernel_findings(check.out) == []


def test_the_hwe_track_is_taken_when_asked_by_name(tmp_path: Path, lock_cli) -> None:
    intent = _intent(tmp_path, {"flavour": "generic-hwe-24.04"})
    run = lock_cli("update", str(intent), "--replay", str(SNAPSHOT))
    assert run.code == 0, run.err
    kernel = _kernel(intent)
    assert (kernel["version"], kernel["abi"], kernel["flavour"]) == (f"{HWE}-generic", HWE, "generic")
    assert kernel["chosen-by"] == "linux-image-generic-hwe-24.04 7.0.0-44.44~24.04.1"
    assert kernel["ga"] == "6.8.0"
    assert kernel["packages"] == [f"linux-{part}-{HWE}-generic" for part in ("image", "modules", "headers")]
    check = lock_cli("check", str(intent))
    assert check.code == 0 and _kernel_findings(check.out) == [], check.out


def test_an_hwe_version_pinned_under_generic_is_a_finding(tmp_path: Path, lock_cli) -> None:
    intent = _intent(tmp_path, {"version": f"{HWE}-generic"})
    run = lock_cli("update", str(intent), "--replay", str(SNAPSHOT))
    assert run.code == 0, run.err
    assert "chosen-by" not in _kernel(intent) and _kernel(intent)["ga"] == "6.8.0"  # the pin chose it
    check = lock_cli("check", str(intent))
    assert check.code == 0, check.out  # a finding, not a failure; --strict fails on it
    [finding] = _kernel_findings(check.out)
    assert finding.startswith(
        f"not as asked: kernel {HWE}-generic: a hardware-enablement kernel (7.0.0, chosen by kernel.version)"
    )
    assert 'kernel.version asks for flavour "generic", which means the release\'s own kernel 6.8.0' in finding
    assert 'kernel.flavour = "generic-hwe-<release>"' in finding
    assert lock_cli("check", "--strict", str(intent)).code == 1
    # Saying the track is meant, beside the same pin, answers it.
    _intent(tmp_path, {"version": f"{HWE}-generic", "flavour": "generic-hwe-24.04"})
    assert lock_cli("update", str(intent), "--replay", str(SNAPSHOT)).code == 0
    check = lock_cli("check", str(intent))
    assert check.code == 0 and _kernel_findings(check.out) == [], check.out


def test_an_old_lock_that_took_the_newest_abi_is_a_finding(tmp_path: Path, lock_cli) -> None:
    """A lock written before `chosen-by`: `generic` then took the newest ABI, here the HWE one. Made as that
    imagelock made it: the HWE ABI's closure, for an intent asking for the flavour alone."""
    intent = _intent(tmp_path, {"version": f"{HWE}-generic"})
    assert lock_cli("update", str(intent), "--replay", str(SNAPSHOT)).code == 0
    _intent(tmp_path, {"flavour": "generic"})
    path = intent.with_suffix(".lock")
    lock, _ = read_lock(path)
    assert lock.kernel is not None
    lock.kernel.chosen_by = lock.kernel.ga = None
    lock.intent_sha256 = read_intent(intent).sha256
    path.write_text(codec.dumps(lock))
    check = lock_cli("check", str(intent))
    [finding] = _kernel_findings(check.out)
    assert finding.startswith(f"not verified: kernel {HWE}-generic: the lock does not record what chose this ABI")
    assert "`lock update --only apt kernel`" in finding
    # --only apt kernel records what chose it, and takes the release's own kernel
    assert lock_cli("update", str(intent), "--replay", str(SNAPSHOT), "--only", "apt", "kernel").code == 0
    assert (_kernel(intent)["abi"], _kernel(intent)["chosen-by"]) == (GA, "linux-image-generic 6.8.0-151.151")


@pytest.mark.parametrize(
    ("kernel", "key", "message"),
    [
        (
            {"flavour": "generic-hwe-22.04"},
            "kernel.flavour",
            "the archive has no linux-image-generic-hwe-22.04 naming a linux-image-*-generic "
            "(the track generic-hwe-22.04 asks for)",
        ),
        (
            {"flavour": "generic-hwe-24.04", "version": f"{HWE}-lowlatency"},
            "kernel.flavour",
            f"'generic-hwe-24.04' disagrees with kernel.version '{HWE}-lowlatency'",
        ),
    ],
)
def test_a_track_the_archive_cannot_answer_is_one_line(
    tmp_path: Path, lock_cli, kernel: dict[str, str], key: str, message: str
) -> None:
    intent = _intent(tmp_path, kernel)
    before = tree_digest(intent.parent)
    run = lock_cli("update", str(intent), "--replay", str(SNAPSHOT))
    assert run.code == 2
    assert run.err.strip() == f"lock: error: {intent}: {key}: {message}"
    assert tree_digest(intent.parent) == before


@pytest.mark.parametrize(
    ("flavour", "expected"),
    [
        ("generic", ("generic", None, "linux-image-generic")),
        ("generic-hwe-24.04", ("generic", "hwe-24.04", "linux-image-generic-hwe-24.04")),
        ("generic-hwe-22.04", ("generic", "hwe-22.04", "linux-image-generic-hwe-22.04")),  # jammy's series
        ("generic-hwe-24.04-edge", ("generic", "hwe-24.04-edge", "linux-image-generic-hwe-24.04-edge")),
        ("aws", ("aws", None, "linux-image-aws")),
    ],
)
def test_a_flavour_names_its_track_metapackage(flavour: str, expected: tuple[str, str | None, str]) -> None:
    kernel = parse_kernel({"flavour": flavour}, Path("t.toml"))
    assert (kernel.flavour, kernel.track, kernel.metapackage) == expected
