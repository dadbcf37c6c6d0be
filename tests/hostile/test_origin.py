"""Integrity and origin: a tampered lock is named down to the field it changed, and `lock sign` /
`lock check --verify-signature` (the real ssh-keygen -Y) say who wrote a lock."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from imagelock_testing import tree_digest

from imagelock import domains

ROOT = Path(__file__).resolve().parents[2]
TORCH_SHA = "6b2966ede9affe2fd69e0765691ca723ec870e0c34c7761f4d5b8e318383fdaf"


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "locks", tmp_path / "locks")
    return tmp_path / "locks"


def _git(folder: Path, *argv: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=ci@example.invalid", "-c", "user.name=ci", *argv],
        cwd=folder,
        check=True,
        capture_output=True,
    )


def _edit_torch_hash(lock: Path) -> None:
    text = lock.read_text()
    assert text.count(TORCH_SHA) == 1
    lock.write_text(text.replace(TORCH_SHA, "7" + TORCH_SHA[1:]))


def test_a_field_edited_in_a_committed_lock_is_named(seed: Path, lock_cli) -> None:
    _git(seed, "init", "-q")
    _git(seed, "add", "-A")
    _git(seed, "commit", "-qm", "the lock as written")
    _edit_torch_hash(seed / "seed.lock")
    run = lock_cli("check", str(seed / "seed.toml"))
    assert run.code == 1
    first = run.out.splitlines()[0]
    assert first.startswith(f"{seed / 'seed.lock'}: tampered: the lock's content does not match its digest (recorded ")
    assert "changed since it was written: python.packages[112] (torch).wheel.sha256: '6b2966ede9" in first
    assert "-> '7b2966ede9" in first
    assert "the digest proves the lock is intact, not who wrote it (`lock sign` does)" in first
    before = tree_digest(seed)
    generated = lock_cli("generate", str(seed / "seed.lock"), "-o", str(seed / "out"))
    assert generated.code == 2
    [line] = generated.err.splitlines()
    assert "digest: the lock's content does not match its digest" in line and "(torch).wheel.sha256" in line
    assert line.endswith("; nothing generated")
    assert tree_digest(seed) == before


def test_without_git_the_layer_is_named(seed: Path, lock_cli) -> None:
    _edit_torch_hash(seed / "seed.lock")
    run = lock_cli("check", str(seed / "seed.toml"))
    assert run.code == 1
    assert "changed in python (no intact copy of this lock in git to name the entry and field)" in run.out


def test_an_edited_digest_line_is_said_with_both_digests_in_full(seed: Path, lock_cli) -> None:
    lock = seed / "seed.lock"
    text = lock.read_text()
    digest = text.split('digest = "', 1)[1][:64]
    forged = ("0" if digest[0] != "0" else "1") + digest[1:]
    lock.write_text(text.replace(f'digest = "{digest}"', f'digest = "{forged}"'))
    run = lock_cli("check", str(seed / "seed.toml"))
    assert run.code == 1
    assert f"(recorded {forged}, content {digest}): the `digest` line itself was edited" in run.out


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for who in ("platform", "stranger"):
        key = tmp_path / "keys" / who
        key.parent.mkdir(exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", who, "-f", str(key)], check=True)
        out[who] = key
    allowed = tmp_path / "keys" / "allowed_signers"
    allowed.write_text(f"platform@example.com {out['platform'].with_suffix('.pub').read_text().strip()}\n")
    out["allowed"] = allowed
    return out


def test_a_signed_lock_verifies_and_names_its_signer(seed: Path, keys: dict[str, Path], lock_cli) -> None:
    lock = seed / "seed.lock"
    signed = lock_cli("sign", str(lock), "--key", str(keys["platform"]))
    assert signed.code == 0, signed.err
    assert (seed / "seed.lock.sig").read_text().startswith("-----BEGIN SSH SIGNATURE-----")
    run = lock_cli("check", str(seed / "seed.toml"), "--verify-signature", str(keys["allowed"]))
    assert run.code == 0, run.out + run.err
    image = domains.read_lock(lock)[0].image_name()
    assert run.out.splitlines()[0] == f"{lock}: fresh; signed by platform@example.com (image {image})"


def test_a_lock_changed_after_signing_fails_even_with_its_digest_intact(
    seed: Path, keys: dict[str, Path], lock_cli
) -> None:
    """A comment added to the lock leaves its content and digest as they were, not its signature."""
    lock = seed / "seed.lock"
    assert lock_cli("sign", str(lock), "--key", str(keys["platform"])).code == 0
    lock.write_text(lock.read_text() + "# reviewed\n")
    run = lock_cli("check", str(seed / "seed.toml"), "--verify-signature", str(keys["allowed"]))
    assert run.code == 1
    assert "does not verify for this lock's bytes (signed by platform@example.com" in run.out + run.err


def test_a_stranger_s_signature_is_refused(seed: Path, keys: dict[str, Path], lock_cli) -> None:
    lock = seed / "seed.lock"
    assert lock_cli("sign", str(lock), "--key", str(keys["stranger"])).code == 0
    run = lock_cli("check", str(seed / "seed.toml"), "--verify-signature", str(keys["allowed"]))
    assert run.code == 1
    assert f"{seed / 'seed.lock.sig'} was not made by any key in {keys['allowed']}" in run.out + run.err


def test_a_git_commit_signature_is_not_a_lock_signature(seed: Path, keys: dict[str, Path], lock_cli) -> None:
    """A signature in another namespace (git's) over the same bytes does not verify as the lock's."""
    lock = seed / "seed.lock"
    subprocess.run(
        ["ssh-keygen", "-q", "-Y", "sign", "-f", str(keys["platform"]), "-n", "git", str(lock)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    run = lock_cli("check", str(seed / "seed.toml"), "--verify-signature", str(keys["allowed"]))
    assert run.code == 1


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (lambda s, k: ["check", str(s / "seed.toml"), "--verify-signature", str(k["allowed"])], "no signature beside"),
        (lambda s, k: ["sign", str(s / "seed.lock"), "--key", str(s / "nokey")], "no such private key"),
        (lambda s, k: ["sign", str(s / "nolock.lock"), "--key", str(k["platform"])], "no such lock file"),
        (lambda s, k: ["check", str(s / "seed.toml"), "--verify-signature", str(s / "none")], "no such allowed"),
    ],
)
def test_missing_pieces_are_one_line_and_exit_2(seed: Path, keys: dict[str, Path], lock_cli, argv, expected) -> None:
    before = tree_digest(seed)
    run = lock_cli(*argv(seed, keys))
    assert run.code == 2
    [line] = run.err.splitlines()
    assert expected in line
    assert tree_digest(seed) == before
