"""`lock sign` and `lock check --verify-signature`: who wrote a lock, with a key the team already holds.

A lock's digest proves it is intact; it cannot prove origin, since whoever edits a lock can recompute
it. A signature can. imagelock uses OpenSSH's file signatures (`ssh-keygen -Y sign` / `-Y verify`): every
engineer and CI runner already has ssh-keygen and an SSH key, an `allowed_signers` file (the format git
uses for signed commits) says which keys may sign for which principal, and nothing new must be trusted
or installed. The signature is detached, beside the lock (`LOCK.sig`), in the namespace "imagelock", so
an SSH signature made for anything else (a git commit, a file) never verifies as a lock's.

Paths and principals reach ssh-keygen as argv entries, never through a shell.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from imagelock.errors import AnswerIsNo, InputError
from imagelock.untrusted import read_bytes
from imagelock.writes import write_atomic

NAMESPACE = "imagelock"
TIMEOUT = 30
ARMOR = "-----BEGIN SSH SIGNATURE-----"


def signature_path(lock: Path) -> Path:
    return lock.with_name(lock.name + ".sig")


def _ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if found is None:
        raise InputError(None, "ssh-keygen", "not found: install OpenSSH's client (openssh-client)")
    return found


def sign(lock: Path, key: Path) -> Path:
    """Write LOCK.sig, an SSH signature over the lock file's bytes; returns its path.

    The bytes reach ssh-keygen on stdin and the signature comes back on stdout, so no lock path is ever
    an ssh-keygen argument (a name such as `-Y.lock` stays a name), and LOCK.sig is written atomically:
    a failed signing leaves the old signature, if any, as it was."""
    data = read_bytes(lock, "no such lock file (run `lock update` to create it)")  # a regular file, or one line
    if not key.is_file():
        raise InputError(key, None, "no such private key (an SSH key, such as ~/.ssh/id_ed25519)")
    done = subprocess.run(
        [_ssh_keygen(), "-q", "-Y", "sign", "-f", str(key), "-n", NAMESPACE],
        input=data,
        capture_output=True,
        timeout=TIMEOUT,
    )
    signature = done.stdout.decode("ascii", "replace")
    if done.returncode != 0 or not signature.startswith(ARMOR):
        reason = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"])[-1]
        hint = ": load it into ssh-agent first (`ssh-add KEY`)" if "passphrase" in reason else ""
        raise InputError(key, None, f"ssh-keygen could not sign with this key ({reason}){hint}")
    out = signature_path(lock)
    write_atomic(out, signature)
    return out


@dataclass
class Verified:
    principal: str
    signature: Path


def verify(lock: Path, allowed_signers: Path) -> Verified:
    """The principal whose allowed key signed this exact lock; AnswerIsNo when none did."""
    data = read_bytes(lock, "no such lock file (run `lock update` to create it)")
    read_bytes(allowed_signers, "no such allowed-signers file (`principal key-type key` per line, as git uses)")
    sig = signature_path(lock)
    armored = read_bytes(sig, f"no signature beside the lock (sign it with `lock sign {lock} --key KEY`)")
    if not armored.startswith(ARMOR.encode()):
        raise InputError(sig, None, f"not an SSH signature (expected a file starting {ARMOR}, as `lock sign` writes)")
    tool = _ssh_keygen()
    found = subprocess.run(
        [tool, "-Y", "find-principals", "-s", str(sig), "-f", str(allowed_signers)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
    )
    principals = [line.strip() for line in found.stdout.splitlines() if line.strip()]
    if found.returncode != 0 or not principals:
        _refuse_unreadable(found.stderr, sig, allowed_signers)
        raise AnswerIsNo(f"{lock}: signature: {sig} was not made by any key in {allowed_signers}")
    for principal in principals:
        done = subprocess.run(
            [tool, "-Y", "verify", "-f", str(allowed_signers), "-I", principal, "-n", NAMESPACE, "-s", str(sig)],
            input=data,
            capture_output=True,
            timeout=TIMEOUT,
        )
        if done.returncode == 0:
            return Verified(principal, sig)
    raise AnswerIsNo(
        f"{lock}: signature: {sig} does not verify for this lock's bytes (signed by {', '.join(principals)} "
        "over other content, or in another namespace): the lock changed after it was signed"
    )


def _refuse_unreadable(stderr: str, sig: Path, allowed_signers: Path) -> None:
    """When no key matched because ssh-keygen could not read the signature or a line of the allowed-signers
    file, that is the input's fault (exit 2), not an answer."""
    for said in stderr.splitlines():
        if said.startswith(f"{allowed_signers}:"):
            where, _, what = said[len(str(allowed_signers)) + 1 :].partition(":")
            raise InputError(
                allowed_signers,
                f"line {where}" if where.isdigit() else None,
                f"ssh-keygen cannot read it ({what.strip() or said}): expected `principal key-type key` per line",
            )
        if "parse signature" in said or "sshsig_armor" in said:
            raise InputError(sig, None, f"not a readable SSH signature (ssh-keygen: {said.strip()})")
