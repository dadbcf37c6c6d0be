"""`lock check --generated DIR`: regenerate in memory, exit 1 naming each stale file."""

from __future__ import annotations

import json
from pathlib import Path

from gen_sample import full_lock
from gen_support import write_lock  # noqa: F401  (fixtures)
from imagelock_testing import with_seed_keys

from imagelock import domains

ROOT = Path(__file__).resolve().parents[2]
SEED_INTENT = ROOT / "locks" / "seed.toml"
SEED_LOCK = ROOT / "locks" / "seed.lock"


def test_fresh_generated_files_pass_with_the_intent_or_the_lock_alone(tmp_path: Path, lock_cli) -> None:
    out = tmp_path / "out"
    assert lock_cli("generate", str(SEED_LOCK), "-o", str(out)).code == 0
    with_intent = lock_cli("check", str(SEED_INTENT), "--generated", str(out))
    assert with_intent.code == 0, with_intent.out + with_intent.err
    image = domains.read_lock(SEED_LOCK)[0].image_name()
    first, *notes = with_intent.out.splitlines()
    assert first == f"{SEED_LOCK}: fresh; generated files in {out} current (image {image})"
    kinds = ("not checked", "not reproducible", "not verified", "pre-release", "not as asked")  # notes, findings
    assert all(line.startswith(tuple(f"{SEED_LOCK}: {kind}: " for kind in kinds)) for line in notes)
    alone = lock_cli("check", "--generated", str(out))
    assert alone.code == 0
    assert alone.out.strip() == f"{out / 'lock.toml'}: intact; generated files in {out} current (image {image})"


def test_each_stale_or_missing_file_is_named(tmp_path: Path, lock_cli) -> None:
    out = tmp_path / "out"
    assert lock_cli("generate", str(SEED_LOCK), "-o", str(out)).code == 0
    (out / "requirements.txt").write_text((out / "requirements.txt").read_text().replace("==", "===", 1))
    (out / "image.pkr.hcl").unlink()
    result = lock_cli("check", str(SEED_INTENT), "--generated", str(out), "--json")
    assert result.code == 1
    report = json.loads(result.out)
    assert report["stale_files"] == [
        f"{out / 'image.pkr.hcl'}: missing (run `lock generate {SEED_LOCK} -o {out}`)",
        f"{out / 'requirements.txt'}: stale, differs from what {SEED_LOCK} generates "
        f"(run `lock generate {SEED_LOCK} -o {out}`)",
    ]
    assert report["ok"] is False


def test_files_generated_from_another_lock_are_stale(tmp_path: Path, lock_cli, write_lock) -> None:
    lock = full_lock()
    out = tmp_path / "out"
    assert lock_cli("generate", str(write_lock(lock, "old.lock")), "-o", str(out)).code == 0
    lock.nvidia.install_flags = ["--silent", "--driver"]  # the lock moves on; the files do not
    new = write_lock(lock, "new.lock")
    result = lock_cli("check", "--lock", str(new), "--generated", str(out))
    assert result.code == 1
    stale = sorted(line.split(":")[0] for line in result.out.splitlines())
    # Everything names the lock's digest, except the models manifest: its models did not change.
    assert stale == [
        str(out / name)
        for name in (
            "bootstrap.sh",
            "image.pkr.hcl",
            "lock.toml",
            "pylock.toml",
            "ray-worker.yaml",
            "requirements.txt",
            "sbom.cdx.json",
            "sbom.spdx.json",
        )
    ]
    # Regenerating makes it pass again.
    assert lock_cli("generate", str(new), "-o", str(out)).code == 0
    assert lock_cli("check", "--lock", str(new), "--generated", str(out)).code == 0


def test_a_stale_lock_and_stale_files_are_both_reported(tmp_path: Path, lock_cli) -> None:
    intent = with_seed_keys(tmp_path) / "seed.toml"
    intent.write_text(
        SEED_INTENT.read_text().replace('cutoff = "2025-05-01T00:00:00Z"', 'cutoff = "2025-06-01T00:00:00Z"')
    )
    assert intent.read_text() != SEED_INTENT.read_text()
    lock = tmp_path / "seed.lock"
    lock.write_bytes(SEED_LOCK.read_bytes())
    out = tmp_path / "out"
    assert lock_cli("generate", str(lock), "-o", str(out)).code == 0
    (out / "bootstrap.sh").write_text("#!/bin/sh\n")
    result = lock_cli("check", str(intent), "--generated", str(out))
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0].startswith(f"{lock}: stale: {intent} changed since the lock was written")
    assert lines[1].startswith(f"{out / 'bootstrap.sh'}: stale")


def test_check_without_intent_or_generated_is_an_input_error(lock_cli) -> None:
    result = lock_cli("check")
    assert result.code == 2
    assert result.err == "lock: error: lock check: give the INTENT to check, --generated DIR, or --online --lock LOCK\n"


def test_check_generated_on_a_missing_directory_is_an_input_error(tmp_path: Path, lock_cli) -> None:
    result = lock_cli("check", "--lock", str(SEED_LOCK), "--generated", str(tmp_path / "nope"))
    assert result.code == 2
    assert result.err == (
        f"lock: error: {tmp_path / 'nope'}: no such directory of generated files (run `lock generate`)\n"
    )


def test_the_lock_copy_must_be_the_lock(tmp_path: Path, lock_cli) -> None:
    """Files regenerate from the lock given, so a doctored lock.toml in DIR is caught as stale."""
    out = tmp_path / "out"
    assert lock_cli("generate", str(SEED_LOCK), "-o", str(out)).code == 0
    text = (out / "lock.toml").read_text()
    lock, _ = domains.loads_lock(text, "x")
    (out / "lock.toml").write_text(text + "\n")
    result = lock_cli("check", "--lock", str(SEED_LOCK), "--generated", str(out))
    assert result.code == 1 and result.out.startswith(f"{out / 'lock.toml'}: stale")
    assert lock.digest() == domains.read_lock(SEED_LOCK)[0].digest()  # same lock; different bytes still count


def test_a_lock_edited_by_hand_is_reported_not_regenerated(tmp_path: Path, lock_cli) -> None:
    out = tmp_path / "out"
    assert lock_cli("generate", str(SEED_LOCK), "-o", str(out)).code == 0
    intent = with_seed_keys(tmp_path) / "seed.toml"
    intent.write_text(SEED_INTENT.read_text())
    lock = tmp_path / "seed.lock"
    lock.write_text(SEED_LOCK.read_text().replace("size = 15265", "size = 15266", 1))
    result = lock_cli("check", str(intent), "--generated", str(out))
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0].startswith(f"{lock}: tampered: the lock's content does not match its digest")
    assert lines[1] == f"{out}: not checked: nothing is generated from a lock edited by hand"
