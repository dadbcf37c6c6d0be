"""Registry credentials, read from the environment when a request needs them and never written anywhere.

The subset read, in order (docs/containers.md):

1. `IMAGELOCK_REGISTRY_AUTH_<HOST>` = `user:password`, where <HOST> is the registry's host[:port]
   upper-cased with every other character than a letter or digit made `_`
   (127.0.0.1:5000 -> IMAGELOCK_REGISTRY_AUTH_127_0_0_1_5000);
2. Docker's config.json (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`):
   `credHelpers[host]`, then `auths[host].auth` (base64 of user:password), then `credsStore`, a key
   matching as Docker matches it (scheme and path dropped);
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
        raise InputError(path, None, "not a readable Docker config.json (expected JSON)") from None
    if not isinstance(config, dict):
        raise InputError(path, None, "not a Docker config.json (expected a JSON object)")
    helpers = _table(config, "credHelpers", path)
    auths = _table(config, "auths", path)
    store = config.get("credsStore")
    if store is not None and not isinstance(store, str):
        raise InputError(path, "credsStore", "expected the name of a credential helper")
    key = DOCKER_HUB_KEY if registry == DOCKER_HUB else registry
    for name, helper in helpers.items():
        if _host(name) == _host(key):
            if not isinstance(helper, str):
                raise InputError(path, f"credHelpers.{name}", "expected the name of a credential helper")
            return _helper(helper, key, path, f"credHelpers.{name}")
    for name, entry in auths.items():
        if _host(name) != _host(key):
            continue
        if not isinstance(entry, dict):
            raise InputError(path, f"auths.{name}", "expected an object")
        if isinstance(entry.get("auth"), str) and entry["auth"]:
            return _basic_auth(entry["auth"], path, f"auths.{name}.auth")
    if store:
        return _helper(store, key, path, "credsStore")
    return None


def _table(config: dict[str, object], key: str, path: Path) -> dict[str, object]:
    value = config.get(key) or {}
    if not isinstance(value, dict):
        raise InputError(path, key, "expected an object of registry -> entry")
    return value


def _host(key: str) -> str:
    """How Docker matches a config.json key to a registry: scheme and path dropped (ConvertToHostname)."""
    if key == DOCKER_HUB_KEY or _host_only(key) in (DOCKER_HUB, "index.docker.io", "registry-1.docker.io"):
        return DOCKER_HUB
    return _host_only(key)


def _host_only(key: str) -> str:
    return key.removeprefix("https://").removeprefix("http://").split("/", 1)[0]


def _basic_auth(value: str, path: Path, key: str) -> Credentials:
    try:
        user, colon, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        user, colon, password = "", "", ""
    if not colon or not user:
        raise InputError(path, key, "expected base64 of user:password")  # never the value: it is the secret
    return Credentials(user, password, f"{path} {key}")


def _helper(name: str, server: str, path: Path, key: str) -> Credentials | None:
    """Docker's credential-helper protocol: the server URL on stdin, {"Username", "Secret"} on stdout.

    The helper's own output is never shown: on failure it may echo what it was given."""
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise InputError(path, key, f"{name!r} is not a credential helper name")
    program = f"docker-credential-{name}"
    try:
        done = subprocess.run(
            [program, "get"], input=server.encode(), capture_output=True, timeout=HELPER_TIMEOUT, check=False
        )
    except FileNotFoundError:
        raise InputError(path, key, f"{program} is not installed") from None
    except subprocess.TimeoutExpired:
        raise InputError(path, key, f"{program} did not answer in {HELPER_TIMEOUT:.0f}s") from None
    if done.returncode != 0:
        return None  # "credentials not found in native keychain": anonymous, as Docker goes on
    try:
        answer = json.loads(done.stdout)
        username, secret = answer["Username"], answer["Secret"]
    except (ValueError, KeyError, TypeError):
        raise InputError(path, key, f"{program} get answered something other than its JSON") from None
    if not isinstance(username, str) or not isinstance(secret, str):
        raise InputError(path, key, f"{program} get answered no Username and Secret strings")
    if not secret:
        return None  # docker-credential-pass 0.6 answers an unknown server with empty strings: anonymous
    return Credentials(username, secret, program)
