"""The `[output]` intent section: the image is a disk image file, not (only) a machine image.

    [output]
    kind = "raw"                       # or "qcow2": the file the pipeline leaves
    file = "ubuntu-24.04-h200-cuda.raw" # its name (default: <intent name>.<kind>)
    size = "40G"                       # optional: grow the disk before customising it (qemu-img resize)
    customize = "nbd"                  # qemu-nbd + chroot (default), or "guestfs" (virt-customize)
    root-partition = 1                 # the partition the chroot mounts (Ubuntu cloud images: 1)

    [output.base]                      # the cloud image it starts from, verified before use
    url = "https://cloud-images.ubuntu.com/noble/20250101/noble-server-cloudimg-amd64.img"
    sha256 = "…"                       # stated by the intent, or taken from the signed sums:
    sha256sums = "https://cloud-images.ubuntu.com/noble/20250101/SHA256SUMS"
    signature = "https://cloud-images.ubuntu.com/noble/20250101/SHA256SUMS.gpg"  # omit if clearsigned
    keyring = "keys/ubuntu-cloudimage-keyring.gpg"                             # relative to the intent

`lock generate` reads it beside the lock and writes disk-image.sh (imagelock.build.disk_image). A base
whose sha256 comes from signed sums is locked by the output domain (imagelock.domains.output), which
`locked_base` hands it; a stated one needs no lock entry. It is part of the intent's hash, so changing
it makes the lock stale. docs/disk-images.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagelock.errors import InputError
from imagelock.hashing import is_sha256
from imagelock.intent.fields import check_keys, http_url, signed_sums

KEYS = ("kind", "file", "size", "customize", "root-partition", "base")
BASE_KEYS = ("url", "sha256", "sha256sums", "signature", "keyring")
KINDS = ("raw", "qcow2")  # also what a release record may name (imagelock.disk.record)
METHODS = ("nbd", "guestfs")
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,200}$")
_SIZE = re.compile(r"^[1-9][0-9]{0,5}[KMGT]$")
_URL = re.compile(r"^https?://[^\s\x00-\x1f\x7f'\"\\`$]+$")


@dataclass(frozen=True)
class BaseImage:
    """`[output.base]`: the cloud image, and where its sha256 comes from (the intent, or signed sums)."""

    url: str
    sha256: str | None  # None: taken from the signed sums at `lock update`
    sums_url: str | None = None
    signature_url: str | None = None
    keyring: Path | None = None

    @property
    def name(self) -> str:
        """The file name the URL serves: what a SHA256SUMS line names."""
        return self.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class OutputIntent:
    kind: str
    file: str
    base: BaseImage
    customize: str = "nbd"
    size: str | None = None
    root_partition: int = 1

    @property
    def base_url(self) -> str:
        return self.base.url

    @property
    def base_name(self) -> str:
        return self.base.name


def parse(table: Any, path: Path, name: str) -> OutputIntent:
    """The typed section; `name` is the intent's name, the default file name's stem."""
    where = "output"
    check_keys(table, KEYS, path, where)
    kind = table.get("kind")
    if kind not in KINDS:
        raise InputError(path, f"{where}.kind", f"expected one of: {', '.join(KINDS)}; found {kind!r}")
    file = table.get("file", f"{name}.{kind}")
    if not isinstance(file, str) or not FILE_NAME.match(file) or file in (".", ".."):
        raise InputError(path, f"{where}.file", f"expected a plain file name (no '/'), found {file!r}")
    if not file.endswith(f".{kind}"):
        raise InputError(path, f"{where}.file", f"expected a name ending in .{kind} for kind {kind!r}, found {file!r}")
    size = table.get("size")
    if size is not None and (not isinstance(size, str) or not _SIZE.match(size)):
        raise InputError(path, f"{where}.size", f'expected a size such as "40G" (K, M, G or T), found {size!r}')
    customize = table.get("customize", "nbd")
    if customize not in METHODS:
        raise InputError(path, f"{where}.customize", f"expected one of: {', '.join(METHODS)}; found {customize!r}")
    partition = table.get("root-partition", 1)
    if isinstance(partition, bool) or not isinstance(partition, int) or not 1 <= partition <= 128:
        raise InputError(path, f"{where}.root-partition", f"expected a partition number 1..128, found {partition!r}")
    base = parse_base(table, path)
    return OutputIntent(
        kind=kind,
        file=file,
        base=base,
        customize=customize,
        size=size,
        root_partition=partition,
    )


def parse_base(table: Any, path: Path) -> BaseImage:
    """`[output.base]`: a URL, and its sha256 stated, or a signed sums file that lists it (or both: they must
    agree at `lock update`)."""
    where = "output.base"
    if "base" not in table:
        raise InputError(path, where, "missing: expected [output.base] with the cloud image's url and sha256")
    base = check_keys(table["base"], BASE_KEYS, path, where)
    url = http_url(base, "url", path, where, _URL)
    if url is None:
        raise InputError(path, f"{where}.url", "expected an http(s) URL, found None")
    sha256 = base.get("sha256")
    if sha256 is not None and (not isinstance(sha256, str) or not is_sha256(sha256)):
        raise InputError(path, f"{where}.sha256", "expected 64 lower-case hex digits (the cloud image's sha256)")
    sums_url, signature_url, keyring = signed_sums(base, path, where, _URL)
    if sha256 is None and sums_url is None:
        raise InputError(
            path, f"{where}.sha256", "missing: expected the cloud image's sha256, or sha256sums, signature and keyring"
        )
    image = BaseImage(url, sha256, sums_url, signature_url, keyring)
    if not image.name:
        raise InputError(path, f"{where}.url", "expected a URL that ends in a file name")
    return image


def locked_base(table: Any, path: Path) -> BaseImage | None:
    """The output domain's reading of `[output]`: the base when signed sums give its sha256 (what `lock
    update` resolves and the lock records), None when the intent states it (nothing to lock)."""
    base = parse(table, path, "output").base  # the whole section, so its errors come in the same order
    return base if base.sums_url is not None else None
