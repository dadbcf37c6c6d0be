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

NAMESPACE = "imagelock"
TIMEOUT = 30


def signature_path(lock: Path) -> Path:
    return lock.with_name(lock.name + ".sig")


def _ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if found is None:
        raise InputError(None, "ssh-keygen", "not found: install OpenSSH's client (openssh-client)")
    return found


def sign(lock: Path, key: Path) -> Path:
    """Write LOCK.sig, an SSH signature over the lock file's bytes; returns its path."""
    read_bytes(lock, "no such lock file (run `lock update` to create it)")  # a regular file, or one line
    if not key.is_file():
        raise InputError(key, None, "no such private key (an SSH key, such as ~/.ssh/id_ed25519)")
    out = signature_path(lock)
    out.unlink(missing_ok=True)  # ssh-keygen will not overwrite, and asks nothing of a closed stdin
    done = subprocess.run(
        [_ssh_keygen(), "-q", "-Y", "sign", "-f", str(key), "-n", NAMESPACE, str(lock)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
    )
    if done.returncode != 0 or not out.is_file():
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise InputError(key, None, f"ssh-keygen could not sign with this key ({reason})")
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
    read_bytes(sig, f"no signature beside the lock (sign it with `lock sign {lock} --key KEY`)")
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
