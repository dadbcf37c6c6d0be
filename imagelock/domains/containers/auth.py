"""Registry credentials, read from the environment when a request needs them and never written anywhere.

The subset read, in order (docs/containers.md):

1. `IMAGELOCK_REGISTRY_AUTH_<HOST>` = `user:password`, where <HOST> is the registry's host[:port]
   upper-cased with every other character than a letter or digit made `_`
   (127.0.0.1:5000 -> IMAGELOCK_REGISTRY_AUTH_127_0_0_1_5000);
2. Docker's config.json (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`):
   `credHelpers[host]`, then `auths[host].auth` (base64 of user:password), then `credsStore`;
   a helper is run as `docker-credential-<name> get`, as Docker runs it.

Nothing here logs or formats a secret; `Credentials.__repr__` hides it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from imagelock.errors import InputError
from imagelock.formats.oci_reference import DOCKER_HUB

ENV_PREFIX = "IMAGELOCK_REGISTRY_AUTH_"
DOCKER_HUB_KEY = "https://index.docker.io/v1/"  # how Docker's config.json names Docker Hub
HELPER_TIMEOUT = 30.0


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    source: str  # where they came from, for messages: an environment variable or config.json's key


def env_name(registry: str) -> str:
    """The environment variable that holds credentials for a registry host[:port]."""
    return ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", registry.upper())


def lookup(registry: str) -> Credentials | None:
    """Credentials for a registry host[:port], or None: anonymous access."""
    name = env_name(registry)
    value = os.environ.get(name)
    if value:
        user, colon, password = value.partition(":")
        if not colon or not user:
            raise InputError(None, name, "expected user:password")
        return Credentials(user, password, name)
    return _docker_config(registry)


def _docker_config(registry: str) -> Credentials | None:
    folder = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    path = Path(folder) / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        raise InputError(path, None, "not a readable Docker config.json") from None
    if not isinstance(config, dict):
        raise InputError(path, None, "not a Docker config.json (expected a JSON object)")
    key = DOCKER_HUB_KEY if registry == DOCKER_HUB else registry
    helpers = config.get("credHelpers") or {}
    if isinstance(helpers, dict) and isinstance(helpers.get(key), str):
        return _helper(helpers[key], key, path)
    auths = config.get("auths") or {}
    entry = auths.get(key) if isinstance(auths, dict) else None
    if isinstance(entry, dict) and isinstance(entry.get("auth"), str):
        try:
            user, colon, password = base64.b64decode(entry["auth"], validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user, colon, password = "", "", ""
        if not colon or not user:
            raise InputError(path, f"auths.{key}.auth", "expected base64 of user:password")
        return Credentials(user, password, f"{path} auths.{key}")
    store = config.get("credsStore")
    if isinstance(store, str) and store:
        return _helper(store, key, path)
    return None


def _helper(name: str, key: str, path: Path) -> Credentials | None:
    """Docker's credential-helper protocol: the server URL on stdin, {"Username", "Secret"} on stdout."""
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise InputError(path, "credHelpers", f"{name!r} is not a credential helper name")
    program = f"docker-credential-{name}"
    try:
        done = subprocess.run(
            [program, "get"], input=key.encode(), capture_output=True, timeout=HELPER_TIMEOUT, check=False
        )
    except FileNotFoundError:
        raise InputError(path, "credHelpers", f"{program} is not installed") from None
    except subprocess.TimeoutExpired:
        raise InputError(path, "credHelpers", f"{program} did not answer in {HELPER_TIMEOUT:.0f}s") from None
    if done.returncode != 0:
        return None  # "credentials not found in native keychain": anonymous, as Docker goes on
    try:
        answer = json.loads(done.stdout)
        return Credentials(str(answer["Username"]), str(answer["Secret"]), program)
    except (ValueError, KeyError, TypeError):
        raise InputError(path, "credHelpers", f"{program} answered something other than its JSON") from None
