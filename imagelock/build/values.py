"""Every lock value that reaches a generated file passes through here first.

Two rules, applied at generation time so a bad lock never becomes a script:

- values with a grammar (package names, versions, hashes, sizes, AMI ids,
  regions) must match it exactly, or generation stops with an InputError;
- free text (URLs, paths, file names) may hold anything printable, but never a
  control character (newline, carriage return, NUL, escape...) or a Unicode
  line separator, and reaches the shell only through `shlex.quote`.

Quoting never relies on the validation and the validation never relies on the
quoting: either alone keeps a hostile value from changing a script's meaning.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from imagelock.errors import InputError
from imagelock.hashing import SHA256_HEX

# C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

PYTHON_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$")
PYTHON_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+!_-]*$")
DEB_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
DEB_VERSION = re.compile(r"^(?:[0-9]+:)?[0-9A-Za-z][0-9A-Za-z.+~-]*$")
DEB_ARCH = re.compile(r"^[a-z0-9][a-z0-9-]*$")
INTERPRETER = re.compile(r"^3\.[0-9]{1,2}$")
SHA256 = SHA256_HEX
MD5 = re.compile(r"^[0-9a-f]{32}$")
AMI = re.compile(r"^ami-[0-9a-f]{8,17}$")
REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-[0-9]$")
MODEL_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")
RUNFILE_FLAG = re.compile(r"^--?[A-Za-z0-9][A-Za-z0-9_-]*(?:=[A-Za-z0-9_./:,+-]*)?$")
KERNEL = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+-[0-9A-Za-z.+~-]+$")
COMPONENT = re.compile(r"^[a-z0-9][a-z0-9./_-]*$")
DRIVER = re.compile(r"^[0-9]+(?:\.[0-9]+){1,3}$")
MACHINE = re.compile(r"^[a-z0-9_]+$")
SNAPSHOT = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._:-]*$")
DEVICE = re.compile(r"^/dev/[a-z0-9]+$")
LOCK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")


class Values:
    """Validation of one lock's values; errors name the lock file and the key."""

    def __init__(self, lock_path: str | Path) -> None:
        self.path = str(lock_path)

    def fail(self, key: str, message: str) -> InputError:
        return InputError(self.path, key, message)

    def text(self, value: str, key: str) -> str:
        """Any printable text: refused when it holds a control character."""
        if not isinstance(value, str):
            raise self.fail(key, f"expected a string, found {value!r}")
        found = _CONTROL.search(value)
        if found:
            raise self.fail(
                key,
                f"contains control character U+{ord(found.group()):04X}; refusing to write it into a generated file",
            )
        return value

    def match(self, value: str, pattern: re.Pattern[str], key: str, what: str) -> str:
        self.text(value, key)
        if not pattern.match(value):
            raise self.fail(key, f"{value!r} is not {what}")
        return value

    def lock_name(self, value: str) -> str:
        return self.match(value, LOCK_NAME, "name", "an image name (letters, digits, '.', '_', '-')")

    def python_name(self, value: str, key: str) -> str:
        return self.match(value, PYTHON_NAME, key, "a normalized Python package name")

    def python_version(self, value: str, key: str) -> str:
        self.match(value, PYTHON_VERSION, key, "a Python package version")
        try:
            Version(value)
        except InvalidVersion:
            raise self.fail(key, f"{value!r} is not a Python package version (PEP 440)") from None
        return value

    def wheel_file(self, filename: str, name: str, version: str, key: str) -> str:
        """A wheel file name that is one, and names this package at this version."""
        self.file_name(filename, key)
        try:
            wheel_name, wheel_version, _, _ = parse_wheel_filename(filename)
        except (InvalidWheelFilename, InvalidVersion):
            raise self.fail(key, f"{filename!r} is not a wheel file name") from None
        if wheel_name != canonicalize_name(name) or wheel_version != Version(version):
            raise self.fail(key, f"{filename!r} is not a wheel of {name} {version}")
        return filename

    def dist_file(self, filename: str, name: str, version: str, key: str) -> str:
        """A wheel or a source distribution (an allowed sdist: `.tar.gz` or `.zip`) of this package at this version."""
        if filename.endswith(".whl"):
            return self.wheel_file(filename, name, version, key)
        self.file_name(filename, key)
        try:
            sdist_name, sdist_version = parse_sdist_filename(filename)
        except (InvalidSdistFilename, InvalidVersion):
            raise self.fail(key, f"{filename!r} is neither a wheel nor an sdist file name") from None
        if sdist_name != canonicalize_name(name) or sdist_version != Version(version):
            raise self.fail(key, f"{filename!r} is not an sdist of {name} {version}")
        return filename

    def deb_name(self, value: str, key: str) -> str:
        return self.match(value, DEB_NAME, key, "a Debian package name")

    def deb_version(self, value: str, key: str) -> str:
        return self.match(value, DEB_VERSION, key, "a Debian package version")

    def sha256(self, value: str, key: str) -> str:
        return self.match(value, SHA256, key, "a sha256 (64 lowercase hex digits)")

    def md5(self, value: str, key: str) -> str:
        return self.match(value, MD5, key, "an md5 (32 lowercase hex digits)")

    def size(self, value: int | None, key: str, *, optional: bool = False) -> int | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(key, f"expected a size in bytes, found {value!r}")
        return value

    def url(self, value: str, key: str, schemes: tuple[str, ...] = ("https://", "http://")) -> str:
        self.text(value, key)
        if not value.startswith(schemes) or " " in value:
            raise self.fail(key, f"{value!r} is not a URL starting with {' or '.join(schemes)}")
        return value

    def file_name(self, value: str, key: str) -> str:
        """One path component: no slash, not `.` or `..`, not starting with `-`."""
        self.text(value, key)
        if not value or "/" in value or value in (".", "..") or value.startswith("-"):
            raise self.fail(key, f"{value!r} is not a plain file name")
        return value

    def abs_path(self, value: str, key: str) -> str:
        self.text(value, key)
        pieces = value.split("/")[1:]
        if not value.startswith("/") or any(p in ("", ".", "..") for p in pieces):
            raise self.fail(key, f"{value!r} is not a normalized absolute path below /")
        return value

    def rel_path(self, value: str, key: str) -> str:
        self.text(value, key)
        pieces = value.split("/")
        if not value or value.startswith("/") or any(p in ("", ".", "..") for p in pieces) or value.startswith("-"):
            raise self.fail(key, f"{value!r} is not a relative path inside its folder")
        return value


def sh(value: str) -> str:
    """A shell word that expands to exactly `value` (validated values only). A word that starts with `=`
    is quoted too: in an array it means the same either way, but shellcheck reads it as a bad assignment."""
    quoted = shlex.quote(value)
    return f"'{value}'" if quoted.startswith("=") else quoted


def hcl(value: str) -> str:
    """An HCL2 quoted string that evaluates to exactly `value` (no template sequences)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("${", "$${").replace("%{", "%%{") + '"'


def _yaml_printable(code: int) -> bool:
    return (
        0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000
    ) and code != 0xFEFF


def yaml_str(value: str) -> str:
    """A YAML double-quoted scalar that loads as exactly `value` (astral characters kept whole)."""
    out = []
    for char in value:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif _yaml_printable(code):
            out.append(char)
        else:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    return '"' + "".join(out) + '"'
