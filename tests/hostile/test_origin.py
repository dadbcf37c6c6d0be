"""Origin: `lock sign` / `lock check --verify-signature` (the real ssh-keygen -Y) say who wrote a lock.
0 signed by an allowed key; 1 a signature that does not verify or a signer not allowed; 2 a missing or
unreadable signature, key or allowed-signers file. Hostile names never reach ssh-keygen as options."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from imagelock_testing import tree_digest

from imagelock import domains

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "locks", tmp_path / "locks")
    return tmp_path / "locks"


def _one_error(run) -> str:  # type: ignore[no-untyped-def]
    """The one line a refusal prints (exit 2)."""
    assert run.code == 2, run.out + run.err
    [line] = run.err.splitlines()
    return line


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
    line = _one_error(run)
    assert expected in line
    assert tree_digest(seed) == before


def test_an_unreadable_signature_or_allowed_signers_line_is_exit_2(seed: Path, keys: dict[str, Path], lock_cli) -> None:
    lock = seed / "seed.lock"
    (seed / "seed.lock.sig").write_text("-----BEGIN SSH SIGNATURE-----\nnot base64 at all\n")
    before = tree_digest(seed)
    run = lock_cli("check", str(seed / "seed.toml"), "--verify-signature", str(keys["allowed"]))
    line = _one_error(run)
    assert line.startswith(f"lock: error: {seed / 'seed.lock.sig'}: not a readable SSH signature (ssh-keygen: ")
    (seed / "seed.lock.sig").write_text("hello\n")
    run = lock_cli("check", str(seed / "seed.toml"), "--verify-signature", str(keys["allowed"]))
    assert run.code == 2
    assert "seed.lock.sig: not an SSH signature (expected a file starting -----BEGIN SSH SIGNATURE-----" in run.err
    assert lock_cli("sign", str(lock), "--key", str(keys["platform"])).code == 0
    before = tree_digest(seed)
    garbled = keys["allowed"].with_name("garbled")
    garbled.write_text("platform@example.com ssh-ed25519 AAAAnotakey\n")
    run = lock_cli("check", str(seed / "seed.toml"), "--verify-signature", str(garbled))
    line = _one_error(run)
    assert line.startswith(f"lock: error: {garbled}: line 1: ssh-keygen cannot read it (")
    assert line.endswith("expected `principal key-type key` per line")
    assert tree_digest(seed) == before


def test_a_bad_line_beside_the_signer_s_does_not_matter(seed: Path, keys: dict[str, Path], lock_cli) -> None:
    """ssh-keygen skips a line it cannot read when another line names the key: the answer stands."""
    mixed = keys["allowed"].with_name("mixed")
    mixed.write_text("broken line\n" + keys["allowed"].read_text())
    assert lock_cli("sign", str(seed / "seed.lock"), "--key", str(keys["platform"])).code == 0
    run = lock_cli("check", str(seed / "seed.toml"), "--verify-signature", str(mixed))
    assert run.code == 0, run.err
    assert "; signed by platform@example.com (image " in run.out


def test_a_failed_signing_leaves_the_old_signature(seed: Path, keys: dict[str, Path], lock_cli) -> None:
    lock = seed / "seed.lock"
    assert lock_cli("sign", str(lock), "--key", str(keys["platform"])).code == 0
    not_a_key = seed / "not-a-key"
    not_a_key.write_text("this is no private key\n")
    before = tree_digest(seed)
    run = lock_cli("sign", str(lock), "--key", str(not_a_key))
    line = _one_error(run)
    assert line.startswith(f"lock: error: {not_a_key}: ssh-keygen could not sign with this key (")
    assert tree_digest(seed) == before
    assert lock_cli("check", str(seed / "seed.toml"), "--verify-signature", str(keys["allowed"])).code == 0


def test_a_signature_path_that_is_a_directory_is_one_line(seed: Path, keys: dict[str, Path], lock_cli) -> None:
    (seed / "seed.lock.sig").mkdir()
    run = lock_cli("sign", str(seed / "seed.lock"), "--key", str(keys["platform"]))
    line = _one_error(run)
    assert line.startswith(f"lock: error: {seed / 'seed.lock.sig'}: ")
    assert not [p for p in seed.iterdir() if p.name.startswith(".seed.lock.sig")]  # no temp file left


@pytest.mark.parametrize("name", ["-Y.lock", "$(touch pwned); -n x.lock", "--help.lock", "a\tb `id`.lock"])
def test_hostile_lock_names_are_names(
    tmp_path: Path, seed: Path, keys: dict[str, Path], lock_cli, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """A lock whose name looks like an ssh-keygen option or a shell command is signed and verified as a file."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    shutil.copy(seed / "seed.lock", work / name)
    signed = lock_cli("sign", f"./{name}", "--key", str(keys["platform"]))
    assert signed.code == 0, signed.err
    assert (work / f"{name}.sig").read_text().startswith("-----BEGIN SSH SIGNATURE-----")
    run = lock_cli("check", str(seed / "seed.toml"), "--lock", f"./{name}", "--verify-signature", str(keys["allowed"]))
    assert run.code == 0, run.out + run.err
    assert "; signed by platform@example.com (image " in run.out
    assert sorted(p.name for p in work.iterdir()) == sorted([name, f"{name}.sig"])  # nothing ran: no `pwned`


@pytest.fixture
def agent(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A real ssh-agent in the foreground (-D) on a socket of this test's own, stopped when the test ends."""
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.05)
        yield {**os.environ, "SSH_AUTH_SOCK": str(sock)}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_key_held_by_ssh_agent_signs_by_its_public_half(
    seed: Path, tmp_path: Path, agent: dict[str, str], lock_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A passphrase-protected key is signed with through the agent: `--key` names its public half."""
    key = tmp_path / "held"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "held", "-f", str(key)], check=True)
    subprocess.run(["ssh-add", "-q", str(key)], env=agent, check=True, capture_output=True)
    key.unlink()  # only the agent holds the private half now
    monkeypatch.setenv("SSH_AUTH_SOCK", agent["SSH_AUTH_SOCK"])
    signed = lock_cli("sign", str(seed / "seed.lock"), "--key", str(key.with_suffix(".pub")))
    assert signed.code == 0, signed.err
    allowed = tmp_path / "allowed"
    allowed.write_text(f"held@example.com {key.with_suffix('.pub').read_text().strip()}\n")
    run = lock_cli("check", str(seed / "seed.toml"), "--verify-signature", str(allowed))
    assert run.code == 0, run.out + run.err
    assert "; signed by held@example.com (image " in run.out


def test_a_passphrase_protected_key_without_the_agent_is_one_line(seed: Path, tmp_path: Path, lock_cli) -> None:
    key = tmp_path / "locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "a passphrase", "-f", str(key)], check=True)
    before = tree_digest(seed)
    run = lock_cli("sign", str(seed / "seed.lock"), "--key", str(key))
    line = _one_error(run)
    assert line.startswith(f"lock: error: {key}: ssh-keygen could not sign with this key (")
    assert line.endswith(": load it into ssh-agent first (`ssh-add KEY`)")
    assert tree_digest(seed) == before
