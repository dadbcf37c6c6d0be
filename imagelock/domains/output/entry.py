"""What the lock records of a disk image's base (`[output]`): the cloud image and how its sha256 was proven."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CloudImage:
    """The cloud image a disk image starts from, its sha256 taken from a vendor's signed SHA256SUMS.

    `sums_sha256` is the sums file the signature covered and `keyring_sha256` the keyring that accepted
    it: a later update that meets other sums, or is handed another keyring, is a change `lock diff`
    shows. The image itself is not downloaded at lock time (it is hundreds of MiB); the build verifies
    its bytes against `sha256` before use, and `lock mirror` keeps a copy by it."""

    url: str
    sha256: str
    sums_url: str
    sums_sha256: str
    keyring_sha256: str
    signature_url: str | None = None  # None: the sums file is clearsigned


@dataclass
class OutputLayer:
    base: CloudImage
