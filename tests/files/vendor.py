"""A vendor's download site on 127.0.0.1: files, a SHA256SUMS signed with a real gpg key (detached or
clearsigned), and a count of what was asked, as `[[files]]` meets it."""

from __future__ import annotations

import functools
import hashlib
import io
import os
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.apt.aptrepo import Key, make_key, run, stop_agent


@pytest.fixture(scope="module")
def vendor_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Key]:
    """The key a vendor signs its SHA256SUMS with (a real gpg key; tests/files and tests/disk use it)."""
    key = make_key(tmp_path_factory.mktemp("vendor-gnupg"), "Vendor Releases <releases@example.invalid>")
    yield key
    stop_agent(key)


@pytest.fixture(scope="module")
def stranger_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Key]:
    """Someone else's key: what it signs no vendor keyring accepts."""
    key = make_key(tmp_path_factory.mktemp("stranger-gnupg"), "Someone Else <else@example.invalid>")
    yield key
    stop_agent(key)


INSTALLER = b"#!/bin/sh\necho vendor installer 1.38.0\n" * 64


def tarball(members: dict[str, bytes]) -> bytes:
    """A reproducible .tar.gz of these files."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.GNU_FORMAT) as archive:
        for name, data in sorted(members.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1700000000, 0o755
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


TOOL = tarball({"tool/bin/tool": b"#!/bin/sh\necho tool 2.0\n", "tool/README": b"the tool\n"})


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Vendor:
    root: Path
    url: str
    requests: list[str] = field(default_factory=list)

    def publish(self, files: dict[str, bytes], key: Key | None, *, clearsign: bool = False) -> None:
        """The files, and a SHA256SUMS over them signed by `key` (detached .gpg, or clearsigned)."""
        for name, data in files.items():
            (self.root / name).write_bytes(data)
        sums = "".join(f"{sha256(data)}  {name}\n" for name, data in sorted(files.items()))
        (self.root / "SHA256SUMS").write_text(sums)
        if key is not None:
            self.sign(key, clearsign=clearsign)

    def sign(self, key: Key, *, clearsign: bool = False) -> None:
        """Sign SHA256SUMS as it is now: a detached SHA256SUMS.gpg, or clearsigned in place."""
        env = {**os.environ, "GNUPGHOME": str(key.home)}
        sign = ["gpg", "--batch", "--yes", "--local-user", key.fingerprint]
        sums_path = self.root / "SHA256SUMS"
        if clearsign:  # the sums file itself carries the signature
            run([*sign, "--clearsign", "--output", str(self.root / "SHA256SUMS.asc"), str(sums_path)], env=env)
            (self.root / "SHA256SUMS.asc").replace(sums_path)
        else:
            run([*sign, "--detach-sign", "--output", str(self.root / "SHA256SUMS.gpg"), str(sums_path)], env=env)


class _Handler(SimpleHTTPRequestHandler):
    vendor: Vendor

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        return

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self.vendor.requests.append(self.path)
        super().do_GET()


@contextmanager
def vendor_site(root: Path) -> Iterator[Vendor]:
    root.mkdir(parents=True, exist_ok=True)
    vendor = Vendor(root, "")
    handler = type("Handler", (_Handler,), {"vendor": vendor})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    vendor.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield vendor
    finally:
        server.shutdown()
        server.server_close()
