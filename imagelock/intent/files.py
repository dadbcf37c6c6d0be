"""The `[[files]]` intent section: plain artifacts by URL (installers, tarballs, keys), each put at `dest`.

[[files]]
url = "https://vendor.example/efa/aws-efa-installer-1.38.0.tar.gz"
dest = "/opt/efa"
extract = true                       # a tarball, unpacked into the directory `dest`
sha256 = "…"                         # optional: verified if given, measured at lock time if not
sha256sums = "https://vendor.example/efa/SHA256SUMS"   # or: take it from a signed sums file
signature = "https://vendor.example/efa/SHA256SUMS.gpg" # detached; omit for a clearsigned sums file
keyring = "keys/vendor.gpg"          # whose signature is accepted, relative to the intent
mode = "0755"
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagelock.errors import InputError
from imagelock.hashing import is_sha256
from imagelock.intent.fields import check_keys, http_url, signed_sums

KEYS = ("url", "dest", "sha256", "sha256sums", "signature", "keyring", "mode", "extract")
_DEST = re.compile(r"^/[A-Za-z0-9._/+-]+$")
_MODE = re.compile(r"^0[0-7]{3}$")


@dataclass
class FileIntent:
    url: str
    dest: str
    where: str  # files[i], for messages
    sha256: str | None = None
    sums_url: str | None = None
    signature_url: str | None = None
    keyring: Path | None = None
    mode: str = "0644"
    extract: bool = False

    @property
    def name(self) -> str:
        """The file name the URL serves: what a SHA256SUMS line names."""
        return self.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def parse(value: Any, path: Path) -> list[FileIntent]:
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise InputError(path, "files", "expected an array of tables ([[files]])")
    out: list[FileIntent] = []
    seen: dict[str, str] = {}
    for i, table in enumerate(value):
        where = f"files[{i}]"
        check_keys(table, KEYS, path, where)
        url = http_url(table, "url", path, where)
        if url is None:
            raise InputError(path, f"{where}.url", "missing: expected the http(s) URL of the file")
        dest = table.get("dest")
        if not isinstance(dest, str) or not _DEST.match(dest) or "/../" in f"{dest}/" or "/./" in f"{dest}/":
            raise InputError(path, f"{where}.dest", "expected an absolute path of plain characters, such as /opt/efa")
        if dest in seen:
            raise InputError(path, f"{where}.dest", f"{dest} is already the dest of {seen[dest]}")
        seen[dest] = where
        sha256 = table.get("sha256")
        if sha256 is not None and (not isinstance(sha256, str) or not is_sha256(sha256)):
            raise InputError(path, f"{where}.sha256", "expected 64 lower-case hex digits")
        sums_url, signature_url, keyring = signed_sums(table, path, where)
        mode = table.get("mode", "0644")
        if not isinstance(mode, str) or not _MODE.match(mode):
            raise InputError(path, f"{where}.mode", 'expected an octal file mode as a string, such as "0755"')
        extract = table.get("extract", False)
        if not isinstance(extract, bool):
            raise InputError(path, f"{where}.extract", "expected true or false")
        entry = FileIntent(url, dest, where, sha256, sums_url, signature_url, keyring, mode, extract)
        if not entry.name:
            raise InputError(path, f"{where}.url", "expected a URL that ends in a file name")
        out.append(entry)
    return out
