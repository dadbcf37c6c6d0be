"""One machine over the system ssh client: the collector fed to the remote python3 on stdin.

The ssh command line is a list (no local shell); the remote command ssh sends is
built with shlex.quote from the lock's venv and model folders, so hostile paths or
host names are never interpreted. BatchMode: no password prompt, ever.
"""

from __future__ import annotations

import re
import shlex
import subprocess

from imagelock.drift.compare import Audit, LockIndex, audit_text, collector_args, collector_source
from imagelock.errors import InputError

_HOST = re.compile(r"^(?:[A-Za-z0-9._-]+@)?(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$")


def ssh_argv(host: str, remote: list[str], connect_timeout: int = 10) -> list[str]:
    """`[user@]host[:port]` -> the ssh argument list; anything else is refused."""
    match = _HOST.match(host)
    if not match or host.startswith("-"):
        raise InputError(None, "--ssh", f"expected [user@]host[:port], found {host!r}")
    port = match.group(1)
    if port:
        host = host[: -(len(port) + 1)]
    argv = [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        f"ConnectTimeout={connect_timeout}",
        "-o",
        "StrictHostKeyChecking=accept-new",
    ]
    if port:
        argv += ["-p", port]
    return [*argv, "--", host.strip("[]"), " ".join(shlex.quote(a) for a in remote)]


def audit_host(
    index: LockIndex, host: str, deep: bool = False, timeout: float = 300.0, extra_options: list[str] | None = None
) -> Audit:
    argv = ssh_argv(host, ["python3", "-", *collector_args(index, deep, max(10.0, timeout - 15))])
    if extra_options:
        argv[1:1] = extra_options
    try:
        done = subprocess.run(
            argv, input=collector_source().encode(), capture_output=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        return Audit(host, error="no ssh client on this machine")
    except subprocess.TimeoutExpired:
        return Audit(host, error=f"no answer within {timeout:g}s")
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = lines[-1][:200] if lines else "no message"
        what = "unreachable" if done.returncode == 255 else f"collector exited {done.returncode}"
        return Audit(host, error=f"ssh: {what}: {reason}")
    return audit_text(index, done.stdout, host)
