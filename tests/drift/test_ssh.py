"""`--ssh` through the system ssh client against a real sshd this test starts on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from imagelock.drift.compare import LockIndex
from imagelock.drift.ssh import audit_host, ssh_argv
from imagelock.lock import codec as lockfile

from .test_local import local_lock


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sshd(tmp_path: Path):
    """sshd -D on 127.0.0.1:<port> with a throwaway host key and one authorized client key."""
    binary = shutil.which("sshd") or "/usr/sbin/sshd"
    if not Path(binary).exists():
        pytest.fail("sshd is not installed (openssh-server, see .ci/apt-packages.txt)")
    if os.geteuid() != 0:
        pytest.fail("the sshd test logs in as root and needs to run as root")
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / name)], check=True)
    (tmp_path / "authorized_keys").write_text((tmp_path / "client.pub").read_text())
    os.chmod(tmp_path / "authorized_keys", 0o600)
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
    port = free_port()
    config = tmp_path / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {tmp_path / 'host'}\n"
        f"AuthorizedKeysFile {tmp_path / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        f"PidFile {tmp_path / 'sshd.pid'}\n"
    )
    proc = subprocess.Popen([binary, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    options = [
        "-i",
        str(tmp_path / "client"),
        "-o",
        f"UserKnownHostsFile={tmp_path / 'known_hosts'}",
        "-o",
        "IdentitiesOnly=yes",
    ]
    yield f"root@127.0.0.1:{port}", options
    proc.terminate()
    proc.wait(timeout=10)


def test_audit_over_real_ssh(sshd, tmp_path: Path) -> None:
    host, options = sshd
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "w.bin").write_bytes(b"12345")
    lock = local_lock(tmp_path / "models")
    lock.python = None  # the remote python3 is the system one; the venv of this test process is not its
    result = audit_host(LockIndex(lock), host, deep=True, timeout=60, extra_options=options)
    assert result.error is None, result.error
    assert [(f.layer, f.kind) for f in result.findings] == [("image", "missing"), ("models", "changed-hash")]
    assert result.findings[1].detail == ""  # sha256 differs (deep mode hashed the remote file)
    assert result.findings[1].actual == "5994471abb01"


def test_unreachable_host_is_exit_2_with_the_reason(lock_cli, tmp_path: Path) -> None:
    lock = local_lock(tmp_path)
    path = tmp_path / "l.lock"
    path.write_text(lockfile.dumps(lock))
    run = lock_cli("drift", str(path), "--ssh", f"root@127.0.0.1:{free_port()}", "--timeout", "30")
    assert run.code == 2
    assert run.err.startswith("lock: error: root@127.0.0.1:")
    assert "could not audit: ssh: unreachable: " in run.err and "Connection refused" in run.err
    assert run.out == ""


def test_argv_is_a_list_and_the_remote_command_is_quoted() -> None:
    argv = ssh_argv("deploy@worker-7.internal:2222", ["python3", "-", "--venv", "/opt/v; rm -rf ~"])
    assert argv[:7] == [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "StrictHostKeyChecking=accept-new",
    ]
    assert argv[7:] == ["-p", "2222", "--", "deploy@worker-7.internal", "python3 - --venv '/opt/v; rm -rf ~'"]
    assert all(isinstance(a, str) for a in argv)
