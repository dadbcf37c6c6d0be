"""What an sdist is built with, read from its pyproject.toml (PEP 518) or PEP 517's default, and the sdist's
bytes refused at lock time unless they are the ones its index lists."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagelock.domains.python import sdist
from imagelock.errors import UpstreamError


def _tar(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return buffer.getvalue()


SETUP = {"p-1.0/setup.py": "from setuptools import setup\nsetup()\n"}


@pytest.mark.parametrize("pack", [_tar, _zip])
def test_the_declared_build_requirements_are_read_from_tar_and_zip(pack) -> None:
    files = {**SETUP, "p-1.0/pyproject.toml": '[build-system]\nrequires = ["flit_core >=3.2,<4"]\n'}
    filename = "p-1.0.tar.gz" if pack is _tar else "p-1.0.zip"
    assert sdist.build_requires(pack(files), filename, "p") == ["flit_core<4,>=3.2"]


def test_a_nested_pyproject_is_not_the_projects() -> None:
    files = {**SETUP, "p-1.0/vendored/pyproject.toml": '[build-system]\nrequires = ["other"]\n'}
    assert sdist.build_requires(_tar(files), "p-1.0.tar.gz", "p") == ["setuptools>=40.8.0", "wheel"]


def test_a_pyproject_without_build_system_gets_pep_517s_default() -> None:
    files = {**SETUP, "p-1.0/pyproject.toml": "[tool.black]\nline-length = 99\n"}
    assert sdist.build_requires(_tar(files), "p-1.0.tar.gz", "p") == ["setuptools>=40.8.0", "wheel"]


@pytest.mark.parametrize(
    ("pyproject", "message"),
    [
        ('[build-system]\nbuild-backend = "x"\n', "p: its pyproject.toml's [build-system] has no `requires` array"),
        ('[build-system]\nrequires = ["a>=>1"]\n', "p: build requirement 'a>=>1' is not a PEP 508 requirement"),
        (
            '[build-system]\nrequires = ["a @ https://x.invalid/a.whl"]\n',
            "p: build requirement 'a @ https://x.invalid/a.whl' is a direct URL, which no index can pin",
        ),
        ("[build-system\n", "p: the sdist's pyproject.toml cannot be read"),
    ],
)
def test_an_unusable_build_system_is_refused(pyproject: str, message: str) -> None:
    with pytest.raises(UpstreamError) as refused:
        sdist.build_requires(_tar({**SETUP, "p-1.0/pyproject.toml": pyproject}), "p-1.0.tar.gz", "p")
    assert str(refused.value).startswith(message)


def test_a_broken_archive_is_refused() -> None:
    with pytest.raises(UpstreamError, match="^p: the sdist's pyproject.toml cannot be read"):
        sdist.build_requires(b"not an archive", "p-1.0.tar.gz", "p")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, bytes]]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    data = _tar(SETUP)
    (tmp_path / "p-1.0.tar.gz").write_bytes(data)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/p-1.0.tar.gz", data
    finally:
        server.shutdown()
        server.server_close()


def test_the_sdist_is_read_only_when_it_is_the_one_its_index_lists(served: tuple[str, bytes]) -> None:
    url, data = served
    assert sdist.fetch(url, hashlib.sha256(data).hexdigest(), "p 1.0") == data
    other = hashlib.sha256(b"other").hexdigest()
    with pytest.raises(UpstreamError) as refused:
        sdist.fetch(url, other, "p 1.0")
    assert str(refused.value) == (
        f"p 1.0: the sdist's sha256 is {hashlib.sha256(data).hexdigest()}, its index lists {other}; not used"
    )
