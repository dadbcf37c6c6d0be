"""The one lock validator: what every command that reads a lock refuses, whoever edited it.

A lock's digest proves its content was not changed after it was written, not that the content is
sane: someone can edit a lock and recompute the digest. So every read of a lock (check, generate,
mirror, drift, diff, update's previous lock) walks every entry of every layer and refuses, with one
line naming the file and the key:

- a URL whose scheme is not https, http or s3 (`file:///etc/passwd`), or that names no host; plain
  http only where the intent chose it: in a layer whose source the intent gave as an http:// URL (the
  apt archive, a Python index, a dnf baseurl, a [[files]] URL, the NVIDIA mirror), or to loopback;
- a negative size, or a size that is not a whole number;
- a control character (a newline, an escape, a C1 control, a Unicode line separator) in any string:
  names, versions, paths, URLs (an armored key's lines are its only newlines);
- two entries of one list that are the same thing (two `[[python.packages]]` named `six`, or `Six` and
  `six`: Python names compare as PEP 503 normalises them);
- a hash of the wrong form (a sha256 that is not 64 lowercase hex, an md5 not 32);
- a keyring file (base64) whose sha256 is not the `keyring-sha256` beside it: the build installs those
  bytes on the image as the key apt trusts for that archive or repository.

The walk is generic over the layers' dataclasses, so a new domain's lock entries are checked by the
names of their fields (`url`, `*_sha256`, `size` ...) with no line here, and identities are named
once for the entry types that have one.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import ipaddress
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from imagelock.errors import InputError
from imagelock.lock.model import (
    ENV_NAME,
    AptIndexFile,
    AptLayer,
    AptPackage,
    AptRepository,
    AptSource,
    BaseAmi,
    DnfChoice,
    DnfPackage,
    DnfRepo,
    Lock,
    Mirror,
    Model,
    ModelFile,
    NvidiaLayer,
    PlainFile,
    PythonEnv,
    PythonIndex,
    PythonLayer,
    PythonPackage,
)

SCHEMES = ("https://", "http://", "s3://")
URL_FIELDS = frozenset({"url", "uri", "archive", "baseurl", "mirror_url", "sums_url", "snapshot_service"})
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MD5 = re.compile(r"^[0-9a-f]{32}$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_OCI_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
MULTILINE_FIELDS = frozenset({"gpgkey"})  # an ASCII-armored key is text of many lines
# Where a layer records the source its intent named: an http:// URL there is the intent choosing plain
# HTTP for that layer (an apt archive is served so, and signed), so the layer's URLs may be http://.
SOURCES: dict[type, tuple[str, ...]] = {
    AptLayer: ("archive", "snapshot_service"),
    AptSource: ("uri",),
    AptRepository: ("url",),
    PythonIndex: ("url",),
    DnfRepo: ("baseurl",),
    PlainFile: ("url",),
    NvidiaLayer: ("mirror_url",),
    Mirror: ("url",),
}
_PYTHON_NAME = re.compile(r"[-_.]+")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")

# What makes two entries of one list the same thing: a lock holds each at most once.
IDENTITY: dict[type, tuple[str, ...]] = {
    PythonPackage: ("name",),
    PythonIndex: ("name",),
    PythonEnv: ("name",),
    AptPackage: ("name", "arch"),
    AptSource: ("suite",),
    AptRepository: ("name",),
    AptIndexFile: ("path",),
    DnfPackage: ("name", "arch"),
    DnfRepo: ("id",),
    DnfChoice: ("family",),
    Model: ("dest",),
    ModelFile: ("path",),
    PlainFile: ("dest",),
    BaseAmi: ("region",),
}


def validate(lock: Lock, path: str | Path) -> Lock:
    """`lock`, unchanged, or the first thing wrong with it as one InputError naming file and key."""
    for f in dataclasses.fields(lock):
        if f.name not in ("layers", "variants"):
            value = getattr(lock, f.name)
            _walk(value, f.name, f.name, path, _plain_http(value))
    for name, layer in lock.layers.items():
        _walk(layer, name, name, path, _plain_http(layer))
        if isinstance(layer, PythonLayer):
            _python_envs(layer, name, path)
    for variant_name, variant in lock.variants.items():
        where = f"variants.{variant_name}"
        if not _SHA256.match(variant.intent_sha256):
            raise InputError(path, f"{where}.intent-sha256", "expected 64 lower-case hex digits")
        for i, selector in enumerate(variant.take):
            _string(selector, f"{where}.take[{i}]", "take", path, False)
            layer_name, _, key = selector.partition(":")
            layer_name, at, other = layer_name.partition("@")
            if at and layer_name not in lock.variants.get(other, variant).layers:
                raise InputError(
                    path, f"{where}.take[{i}]", f"takes {layer_name!r} from {other!r}, which holds no such layer"
                )
            if not at and layer_name not in lock.layers:
                raise InputError(path, f"{where}.take[{i}]", f"takes {layer_name!r}, a layer the lock does not hold")
        for name, layer in variant.layers.items():
            _walk(layer, f"{where}.{name}", name, path, _plain_http(layer))
            if isinstance(layer, PythonLayer):
                _python_envs(layer, f"{where}.{name}", path)
    return lock


def _python_envs(layer: PythonLayer, key: str, path: str | Path) -> None:
    """A Python layer is one env in its own fields or several in `envs`, never both; each env is named for a
    file and a shell word, and has a venv of its own."""
    own: dict[str, object] = {"version": layer.version, "platform": layer.platform, "venv": layer.venv}
    if not layer.envs:
        for name, value in own.items():
            if value is None:
                raise InputError(path, f"{key}.{name}", "missing (a Python layer without envs is one env)")
        return
    for name, value in {
        **own,
        "indexes": layer.indexes,
        "packages": layer.packages,
        "build-packages": layer.build_packages,
    }.items():
        if value:
            raise InputError(path, f"{key}.{name}", "a Python layer with envs holds it in each env, not here")
    venvs: dict[str, str] = {}
    for i, env in enumerate(layer.envs):
        if not ENV_NAME.match(env.name):
            raise InputError(path, f"{key}.envs[{i}].name", f"expected an env name like 'train', found {env.name!r}")
        if env.venv in venvs:
            raise InputError(
                path, f"{key}.envs[{i}].venv", f"{env.venv!r} is already the venv of env {venvs[env.venv]!r}"
            )
        venvs[env.venv] = env.name


def _plain_http(layer: Any) -> bool:
    """Whether the intent chose plain HTTP for this layer: one of its sources is an http:// URL."""
    stack = [layer]
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(value)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for name in SOURCES.get(type(value), ()):
                source = getattr(value, name)
                if isinstance(source, str) and source.startswith("http://"):
                    return True
            stack.extend(getattr(value, f.name) for f in dataclasses.fields(value))
    return False


def _walk(value: Any, key: str, field_name: str, path: str | Path, http: bool) -> None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            _walk(getattr(value, f.name), f"{key}.{f.name.replace('_', '-')}", f.name, path, http)
        _keyring(value, key, path)
    elif isinstance(value, list):
        _duplicates(value, key, path)
        for i, item in enumerate(value):
            _walk(item, f"{key}[{i}]", field_name, path, http)
    elif isinstance(value, dict):
        for k, item in value.items():
            _walk(item, f"{key}.{k}", str(k), path, http)
    elif isinstance(value, str):
        _string(value, key, field_name, path, http)
    elif isinstance(value, int) and not isinstance(value, bool) and _is_size(field_name) and value < 0:
        raise InputError(path, key, f"expected a size in bytes (0 or more), found {value}")


def _is_size(name: str) -> bool:
    return name == "size" or name.endswith("_size")


def _string(value: str, key: str, name: str, path: str | Path, http: bool) -> None:
    if (_CONTROL_BUT_NEWLINE if name in MULTILINE_FIELDS else _CONTROL).search(value):
        raise InputError(path, key, f"contains a control character ({value[:40]!r}): refused")
    if name in URL_FIELDS and value:
        _url(value, key, path, http)
    elif "://" in value:  # a URL in a field not named for one (a requirement's text): its scheme still counts
        for scheme in _SCHEME.findall(value):
            if f"{scheme.lower()}://" not in SCHEMES:
                raise InputError(path, key, f"expected an https, http or s3 URL, found scheme {scheme!r}")
    if (name == "sha256" or name.endswith("_sha256")) and not _SHA256.match(value):
        if not (name == "keyring_sha256" and value == "unsigned"):
            raise InputError(path, key, f"expected a sha256 (64 lowercase hex digits), found {value[:72]!r}")
    if name == "keyring" and not _BASE64.match(value):
        raise InputError(path, key, f"expected a keyring file in base64, found {value[:40]!r}")
    if name == "md5" and not _MD5.match(value):
        raise InputError(path, key, f"expected an md5 (32 lowercase hex digits), found {value[:40]!r}")
    if (name == "digest" or name.endswith("_digest")) and value.startswith("sha256:") and not _OCI_DIGEST.match(value):
        raise InputError(path, key, f"expected sha256:<64 lowercase hex digits>, found {value[:80]!r}")


def _keyring(entry: Any, key: str, path: str | Path) -> None:
    """An entry's `keyring` (base64, already checked to be of that form) is the file `keyring-sha256` names."""
    keyring, recorded = getattr(entry, "keyring", None), getattr(entry, "keyring_sha256", None)
    if not (isinstance(keyring, str) and isinstance(recorded, str)) or recorded == "unsigned":
        return  # an unsigned apt layer installs nothing (bootstrap.py refuses it)
    try:
        data = base64.b64decode(keyring, validate=True)
    except binascii.Error:
        raise InputError(path, f"{key}.keyring", "expected a keyring file in base64, found bad padding") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != recorded:
        raise InputError(
            path,
            f"{key}.keyring",
            f"is not the keyring keyring-sha256 records (its sha256 is {actual}, not {recorded})",
        )


def _url(value: str, key: str, path: str | Path, http: bool) -> None:
    if not value.startswith(SCHEMES):
        scheme = value.split(":", 1)[0] if ":" in value else value[:20]
        raise InputError(path, key, f"expected an https, http or s3 URL, found scheme {scheme!r}")
    try:
        host = urlsplit(value).hostname
    except ValueError:  # a malformed IPv6 literal, a port that is not a number
        host = None
    if not host:
        raise InputError(path, key, f"expected a URL naming a host, found {value[:80]!r}")
    if value.startswith("http://") and not http and not is_loopback_host(host):
        raise InputError(
            path, key, f"plain http:// where the intent named no http:// source for this layer: {value[:80]!r}"
        )


def is_loopback_host(host: str) -> bool:
    """localhost or a loopback address (a host name, without a port or brackets)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _identity(item: Any, name: str) -> Any:
    value = getattr(item, name)
    if isinstance(item, PythonPackage) and name == "name" and isinstance(value, str):
        return _PYTHON_NAME.sub("-", value).lower()  # PEP 503: Foo_Bar and foo-bar are one package
    return value


def _duplicates(items: list[Any], key: str, path: str | Path) -> None:
    """Two entries that are the same thing: equal entries, or equal identities for the types that have one."""
    seen: dict[Any, int] = {}
    for i, item in enumerate(items):
        if not (dataclasses.is_dataclass(item) and not isinstance(item, type)):
            continue
        fields = IDENTITY.get(type(item))
        ident = (
            tuple(_identity(item, f) for f in fields)
            if fields
            else repr(dataclasses.astuple(item))  # no identity: only identical entries are the same
        )
        if ident in seen:
            what = ", ".join(f"{f.replace('_', '-')} = {getattr(item, f)!r}" for f in fields) if fields else "identical"
            raise InputError(path, f"{key}[{i}]", f"duplicate entry ({what}), already at {key}[{seen[ident]}]")
        seen[ident] = i
