"""A tiny real disk image (qemu-img), an intent with [output] over it, and a loopback HTTP server for the
base image, shared by the disk-image tests."""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.containers.registry import tool


def tiny_qcow2(path: Path, pattern: int = 0x5A) -> str:
    """An 8 MiB qcow2 with 64 KiB of data at 1 MiB (qemu-img create + qemu-io write); its sha256."""
    subprocess.run([tool("qemu-img"), "create", "-q", "-f", "qcow2", str(path), "8M"], check=True)
    subprocess.run(
        [tool("qemu-io"), "-f", "qcow2", "-c", f"write -P {pattern} 1M 64k", str(path)],
        check=True,
        capture_output=True,
    )
    return hashlib.sha256(path.read_bytes()).hexdigest()


def intent(folder: Path, base_url: str, base_sha256: str, extra: str = 'kind = "raw"') -> Path:
    path = folder / "slice.toml"
    path.write_text(
        'name = "slice"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n'
        f'[output]\n{extra}\n[output.base]\nurl = "{base_url}"\nsha256 = "{base_sha256}"\n'
    )
    return path


def run_pipeline(script: Path, work: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a generated disk-image.sh into `work`, customisation skipped unless `env` says otherwise."""
    return subprocess.run(
        ["bash", str(script), str(work)],
        env={**os.environ, "IMAGELOCK_DISK_CUSTOMIZE": "skip", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@contextmanager
def served(folder: Path) -> Iterator[str]:
    """`folder` over plain HTTP on 127.0.0.1; yields the base URL."""
    handler = functools.partial(_Quiet, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass
