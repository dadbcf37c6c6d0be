"""The image version: major for a new base generation or CUDA major, minor for package moves and newer releases
of the same named base image, patch otherwise."""

from __future__ import annotations

import copy
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from indexbuilder import Dist, build_snapshot

from imagelock import domains
from imagelock.lock import codec as lockfile
from imagelock.lock import version
from imagelock.lock.model import BaseAmi, BaseLayer, Lock
from rules.recorded import DLAMI_20251216, DLAMI_20251219, RUNFILE_12_4_1, RUNFILE_12_6_0, runfile


def next_version(previous: Lock | None, new: Lock) -> str:
    """The version `lock update` gives `new` when it replaces `previous`."""
    return version.next_version(previous, new, domains.diff_locks(previous, new) if previous else None)


def _versioned(lock: Lock, version: str = "1.4.2") -> Lock:
    lock.version = version
    return lock


def test_first_lock_is_1_0_0(seed_lock: Lock) -> None:
    assert next_version(None, seed_lock) == "1.0.0"


def test_unchanged_content_keeps_its_version(seed_lock: Lock) -> None:
    old = _versioned(seed_lock)
    assert next_version(old, copy.deepcopy(old)) == "1.4.2"


def test_package_move_is_minor(seed_lock: Lock, qwen3_lock: Lock) -> None:
    assert next_version(_versioned(seed_lock), qwen3_lock) == "1.5.0"


def test_driver_move_within_cuda_12_is_minor(seed_lock: Lock) -> None:
    seed_lock.nvidia = runfile(*RUNFILE_12_4_1)
    new = copy.deepcopy(seed_lock)
    new.nvidia = runfile(*RUNFILE_12_6_0)
    assert next_version(_versioned(seed_lock), new) == "1.5.0"


def test_cuda_major_change_is_major(seed_lock: Lock) -> None:
    new = copy.deepcopy(seed_lock)
    torch = next(p for p in new.python.packages if p.name == "torch")  # type: ignore[union-attr]
    torch.version = "2.5.1+cu118"
    assert next_version(_versioned(seed_lock), new) == "2.0.0"


def test_another_raw_base_ami_is_major(seed_lock: Lock) -> None:
    def base(ami: tuple[str, str, str]) -> BaseLayer:
        return BaseLayer(image=ami[1].rsplit(" ", 1)[0], amis=[BaseAmi("us-east-1", ami[0], ami[1], ami[2], "amazon")])

    seed_lock.base = base(DLAMI_20251216)
    new = copy.deepcopy(seed_lock)
    new.base = base(DLAMI_20251219)
    assert next_version(_versioned(seed_lock), new) == "2.0.0"


DLAMI_PATTERN = "Deep Learning Base AMI with Single CUDA (Amazon Linux 2023) *"


def _named(ami: tuple[str, str, str], pattern: str = DLAMI_PATTERN, cuda: list[str] | None = None) -> BaseLayer:
    record = BaseAmi("us-east-1", ami[0], ami[1], ami[2], "898082745236", cuda=list(cuda or []))
    return BaseLayer(image=pattern, amis=[record], arch="amd64", owner="amazon")


def test_newer_release_of_the_same_named_base_is_minor(seed_lock: Lock) -> None:
    """Seed 004: a newer DLAMI of the same series is a minor bump; another generation of AMI is major."""
    seed_lock.base = _named(DLAMI_20251216)
    new = copy.deepcopy(seed_lock)
    new.base = _named(DLAMI_20251219)
    assert next_version(_versioned(seed_lock), new) == "1.5.0"


def test_another_generation_of_named_base_is_major(seed_lock: Lock) -> None:
    seed_lock.base = _named(DLAMI_20251216)
    new = copy.deepcopy(seed_lock)
    new.base = _named(DLAMI_20251219, pattern="Deep Learning Base AMI with Single CUDA (Amazon Linux 2) *")
    assert next_version(_versioned(seed_lock), new) == "2.0.0"
    new.base = _named(DLAMI_20251219)
    new.base.owner = "self"  # the same name from another owner: another image
    assert next_version(_versioned(seed_lock), new) == "2.0.0"


def test_newer_named_base_stating_another_cuda_major_is_major(seed_lock: Lock) -> None:
    seed_lock.base = _named(DLAMI_20251216, cuda=["12.4"])
    new = copy.deepcopy(seed_lock)
    new.base = _named(DLAMI_20251219, cuda=["13.0"])
    assert next_version(_versioned(seed_lock), new) == "2.0.0"
    new.base = _named(DLAMI_20251219, cuda=["12.8"])
    assert next_version(_versioned(seed_lock), new) == "1.5.0"


def test_another_instance_family_is_major(seed_lock: Lock) -> None:
    """Seed 004: "completely new instance types" are a major bump; where none was recorded, adding one is not."""
    seed_lock.base = _named(DLAMI_20251216)
    seed_lock.base.instance_families = ["g5"]
    new = copy.deepcopy(seed_lock)
    new.base.instance_families = ["g5", "p5"]  # type: ignore[union-attr]
    assert next_version(_versioned(seed_lock), new) == "2.0.0"
    new.base.instance_families = ["p5"]  # type: ignore[union-attr]
    assert next_version(_versioned(seed_lock), new) == "2.0.0"
    first = copy.deepcopy(seed_lock)
    first.base.instance_families = []  # type: ignore[union-attr]
    new.base = _named(DLAMI_20251219)
    new.base.instance_families = ["g5"]
    assert next_version(_versioned(first), new) == "1.5.0"  # the newer release moved it; the family is recorded


def test_rebuilt_wheel_or_moved_cutoff_is_patch(seed_lock: Lock) -> None:
    new = copy.deepcopy(seed_lock)
    new.universe.cutoff = "2025-06-01T00:00:00Z"
    assert next_version(_versioned(seed_lock), new) == "1.4.3"
    new.python.packages[0].wheel.sha256 = "0" * 64  # type: ignore[union-attr]
    assert next_version(_versioned(seed_lock), new) == "1.4.3"


def test_version_is_a_label_outside_the_digest(seed_lock: Lock) -> None:
    before = seed_lock.digest()
    seed_lock.version = "7.0.0"
    assert seed_lock.digest() == before
    text = lockfile.dumps(seed_lock)
    assert text.splitlines()[1:4] == ["schema = 1", 'name = "seed"', 'version = "7.0.0"']
    assert domains.loads_lock(text, "x")[0].version == "7.0.0"


INTENT = 'name = "small"\n[python]\nrequirements = ["alpha"]\nbootstrap = []\n'


def test_refresh_moves_the_universe_and_prints_what_moved(tmp_path: Path, lock_cli) -> None:
    snapshot = build_snapshot(
        tmp_path / "snap",
        [
            Dist("alpha", "1.0", "2024-01-01T00:00:00Z"),
            Dist("alpha", "2.0", "2025-01-01T00:00:00Z", ["beta"]),
            Dist("beta", "1.0", "2024-06-01T00:00:00Z"),
        ],
    )
    intent = tmp_path / "small.toml"
    intent.write_text(INTENT)
    lock = tmp_path / "small.lock"
    run = lock_cli("update", str(intent), "--replay", str(snapshot), "--cutoff", "2024-06-01T00:00:00Z")
    assert run.code == 0 and "version 1.0.0" in run.out
    first = domains.read_lock(lock)[0]
    assert (first.universe.cutoff, first.universe.source, first.version) == (
        "2024-06-01T00:00:00Z",
        "update-time",
        "1.0.0",
    )
    # The universe moves forward; the locked alpha 1.0 stays until asked to move.
    run = lock_cli("update", str(intent), "--replay", str(snapshot), "--cutoff", "2025-06-01T00:00:00Z")
    assert run.code == 0
    assert run.out.splitlines()[1:] == [
        f"image {first.image_name()} -> {domains.read_lock(lock)[0].image_name()} (version 1.0.0 -> 1.0.1)",
        "  universe: 1 changed; cutoff 2024-06-01T00:00:00Z -> 2025-06-01T00:00:00Z",
    ]
    run = lock_cli(
        "update",
        str(intent),
        "--replay",
        str(snapshot),
        "--upgrade-package",
        "alpha",
        "--cutoff",
        "2025-06-01T00:00:00Z",
    )
    assert run.code == 0
    moved = run.out.splitlines()
    assert moved[1].endswith("(version 1.0.1 -> 1.1.0)")
    assert moved[2] == "  python: 1 changed, 1 added; alpha 1.0 -> 2.0"
    assert len(moved) == 3


@given(
    st.tuples(st.integers(0, 99), st.integers(0, 99), st.integers(0, 99)), st.sampled_from(["major", "minor", "patch"])
)
def test_every_bump_moves_the_version_forward(parts: tuple[int, int, int], kind: str) -> None:
    from packaging.version import Version

    current = ".".join(str(p) for p in parts)
    bumped = version.bump(current, kind)
    assert Version(bumped) > Version(current)
    # a bump never skips: major resets minor and patch, minor resets patch
    expected = {
        "major": f"{parts[0] + 1}.0.0",
        "minor": f"{parts[0]}.{parts[1] + 1}.0",
        "patch": f"{parts[0]}.{parts[1]}.{parts[2] + 1}",
    }
    assert bumped == expected[kind]
