"""Docker's credential store as the tests use it: the real `docker-credential-pass` (Debian's
golang-docker-credential-helpers) over the real `pass`, with a throwaway gpg key without a passphrase."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.containers.registry import tool


@contextmanager
def pass_store(tmp: Path, logins: dict[str, tuple[str, str]]) -> Iterator[dict[str, str]]:
    """A pass store holding `logins` (server -> (user, secret)) as `docker login` with credsStore "pass"
    leaves them; yields the environment docker-credential-pass needs to read them."""
    gnupg, store = tmp / "gnupg", tmp / "password-store"
    gnupg.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(gnupg), "PASSWORD_STORE_DIR": str(store)}

    def run(*args: str, given: bytes = b"") -> bytes:
        return subprocess.run(args, input=given, env=env, check=True, capture_output=True, timeout=60).stdout

    run(tool("gpg"), "--batch", "--passphrase", "", "--quick-gen-key", "imagelock test <test@imagelock.invalid>")
    listed = run(tool("gpg"), "--with-colons", "--list-keys")
    fingerprint = next(line.split(b":")[9] for line in listed.splitlines() if line.startswith(b"fpr:")).decode()
    run(tool("pass"), "init", fingerprint)
    try:
        for server, (user, secret) in logins.items():
            login = {"ServerURL": server, "Username": user, "Secret": secret}
            run(tool("docker-credential-pass"), "store", given=json.dumps(login).encode())
        yield {"GNUPGHOME": str(gnupg), "PASSWORD_STORE_DIR": str(store)}
    finally:
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, capture_output=True, timeout=30)


def docker_config(folder: Path, config: object) -> Path:
    """$DOCKER_CONFIG/config.json holding `config` (a dict, or raw text for a broken one)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.json"
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    return path
