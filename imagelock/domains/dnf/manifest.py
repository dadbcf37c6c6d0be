"""The base image's installed rpms, as `rpm -qa` lists them: the closure is computed relative to them.

One line per package, written by
    rpm -qa --qf '%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\t%{ARCH}\n'
(`gpg-pubkey` entries, rpm's imported keys, are skipped). An epoch of 0 is rpm's "none".
"""

from __future__ import annotations

import re
from pathlib import Path

from imagelock.domains.dnf.closure import Installed
from imagelock.errors import InputError
from imagelock.untrusted import read_text

QUERY_FORMAT = r"%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\t%{ARCH}\n"
_NAME = re.compile(r"^[A-Za-z0-9_+][A-Za-z0-9_.+-]*$")
_EVR = re.compile(r"^(?:([0-9]+):)?([A-Za-z0-9._+~^]+)-([A-Za-z0-9._+~^]+)$")
_ARCH = re.compile(r"^[a-z0-9_]+$")


def read_manifest(path: Path) -> list[Installed]:
    text = read_text(path, "no such base manifest")
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or not _NAME.match(parts[0]) or not _ARCH.match(parts[2]):
            raise InputError(
                path, f"line {number}", f"expected `name<TAB>epoch:version-release<TAB>arch` ({QUERY_FORMAT})"
            )
        name, evr, arch = parts
        match = _EVR.match(evr)
        if not match:
            raise InputError(path, f"line {number}", f"{evr!r} is not an rpm [epoch:]version-release")
        if name == "gpg-pubkey":
            continue
        epoch = match.group(1)
        if epoch is not None and int(epoch) == 0:
            evr = f"{match.group(2)}-{match.group(3)}"
        out.append(Installed(name=name, evr=evr, arch=arch))
    return out
