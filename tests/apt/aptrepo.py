"""Build a real signed apt repository from tiny .debs, and serve it on loopback.

Everything is made by the real tools: dpkg-deb builds the packages,
apt-ftparchive writes Packages and Release (with by-hash copies), gpg
clearsigns InRelease with a throwaway key made in a temporary GNUPGHOME.
"""

from __future__ import annotations

import dataclasses
import gzip
import lzma
import os
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self


@dataclass
class Deb:
    name: str
    version: str
    arch: str = "amd64"
    fields: dict[str, str] = field(default_factory=dict)  # Depends, Pre-Depends, Provides, Multi-Arch, ...
    files: dict[str, bytes] = field(default_factory=dict)  # path inside the package -> content


@dataclass
class Key:
    home: Path
    fingerprint: str
    keyring: Path  # binary public keyring, what an intent's `keyring` names


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cmd, check=True, capture_output=True, **kwargs)  # type: ignore[call-overload]


def make_key(home: Path, uid: str) -> Key:
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    run(
        [
            "gpg",
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--quick-gen-key",
            uid,
            "ed25519",
            "sign",
            "never",
        ],
        env=env,
    )
    listing = run(["gpg", "--batch", "--with-colons", "--list-secret-keys"], env=env).stdout.decode()
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    keyring = home / "archive-keyring.gpg"
    keyring.write_bytes(run(["gpg", "--batch", "--export", fingerprint], env=env).stdout)
    return Key(home=home, fingerprint=fingerprint, keyring=keyring)


def stop_agent(key: Key) -> None:
    """The gpg-agent a signing started outlives the test otherwise."""
    subprocess.run(
        ["gpgconf", "--kill", "gpg-agent"],
        env={**os.environ, "GNUPGHOME": str(key.home)},
        capture_output=True,
        check=False,
    )


def build_deb(deb: Deb, out: Path, work: Path) -> Path:
    root = work / f"{deb.name}_{deb.version}_{deb.arch}".replace(":", "%3a")
    (root / "DEBIAN").mkdir(parents=True, exist_ok=True)
    lines = [
        f"Package: {deb.name}",
        f"Version: {deb.version}",
        f"Architecture: {deb.arch}",
        "Maintainer: imagelock tests <tests@invalid>",
        f"Priority: {deb.fields.pop('Priority', 'optional')}",
    ]
    description = deb.fields.pop("Description", f"test package {deb.name}")
    lines += [f"{k}: {v}" for k, v in deb.fields.items()]
    lines.append(f"Description: {description}")
    (root / "DEBIAN" / "control").write_text("\n".join(lines) + "\n")
    doc = root / "usr" / "share" / "doc" / deb.name
    doc.mkdir(parents=True, exist_ok=True)
    (doc / "README").write_text(f"{deb.name} {deb.version}\n")
    for path, content in deb.files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)
    target = out / f"{deb.name}_{deb.version.split(':')[-1]}_{deb.arch}.deb"
    out.mkdir(parents=True, exist_ok=True)
    run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(target)])
    return target


def build_repo(
    root: Path,
    suites: dict[str, list[Deb]],
    key: Key | None,
    *,
    arches: tuple[str, ...] = ("amd64",),
    by_hash: bool = True,
) -> Path:
    """root/dists/<suite>/{InRelease,Release,main/binary-<arch>/Packages{,.gz,.xz}}, root/pool/<suite>/*.deb."""
    work = root.parent / f"{root.name}-build"
    for suite, debs in suites.items():
        for deb in debs:
            build_deb(dataclasses.replace(deb, fields=dict(deb.fields)), root / "pool" / suite, work)
        indexes = {
            arch: run(["apt-ftparchive", "--arch", arch, "packages", f"pool/{suite}"], cwd=root).stdout
            for arch in arches
        }
        write_suite(root, suite, indexes, key, by_hash=by_hash)
    return root


def write_suite(
    root: Path,
    suite: str,
    indexes: dict[str, bytes],
    key: Key | None,
    *,
    by_hash: bool = True,
    valid_seconds: int | None = None,
) -> None:
    """Write one suite's Packages indexes (plain, .gz, .xz), its Release by apt-ftparchive, and sign it."""
    for arch, text in indexes.items():
        folder = root / "dists" / suite / "main" / f"binary-{arch}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "Packages").write_bytes(text)
        (folder / "Packages.gz").write_bytes(gzip.compress(text, mtime=0))
        (folder / "Packages.xz").write_bytes(lzma.compress(text))
    options = [
        "-o",
        f"APT::FTPArchive::Release::Suite={suite}",
        "-o",
        f"APT::FTPArchive::Release::Codename={suite}",
        "-o",
        f"APT::FTPArchive::Release::Architectures={' '.join(indexes)}",
        "-o",
        "APT::FTPArchive::Release::Components=main",
        "-o",
        f"APT::FTPArchive::DoByHash={'true' if by_hash else 'false'}",
    ]
    if valid_seconds is not None:
        options += ["-o", f"APT::FTPArchive::Release::ValidTime={valid_seconds}"]
    release = run(["apt-ftparchive", *options, "release", "."], cwd=root / "dists" / suite).stdout
    (root / "dists" / suite / "Release").write_bytes(release)
    if key is not None:
        sign(root / "dists" / suite, key)
    else:
        (root / "dists" / suite / "InRelease").write_bytes(release)


def sign(suite_dir: Path, key: Key) -> None:
    env = {**os.environ, "GNUPGHOME": str(key.home)}
    (suite_dir / "InRelease").unlink(missing_ok=True)
    run(
        [
            "gpg",
            "--batch",
            "--yes",
            "--local-user",
            key.fingerprint,
            "--digest-algo",
            "SHA256",
            "--clearsign",
            "--output",
            str(suite_dir / "InRelease"),
            str(suite_dir / "Release"),
        ],
        env=env,
    )


class _Handler(SimpleHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        self.server.requests.append(path)
        if path in self.server.truncate:
            file = Path(self.translate_path(path))
            body = file.read_bytes()[: file.stat().st_size // 2]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    truncate: set[str]
    requests: list[str]


class RepoServer:
    """Serves a directory on 127.0.0.1; `truncate` paths are served cut in half."""

    def __init__(self, root: Path, server: ThreadingHTTPServer | None = None) -> None:
        """`server`: another loopback server to run the same way (tests/apt/snapshots.py)."""
        if server is None:
            handler = lambda *a, **k: _Handler(*a, directory=str(root), **k)  # noqa: E731
            server = _Server(("127.0.0.1", 0), handler)
            server.truncate = set()  # type: ignore[attr-defined]
            server.requests = []  # type: ignore[attr-defined]
        self._server: Any = server
        self.root = root
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def truncate(self) -> set[str]:
        return self._server.truncate

    @property
    def requests(self) -> list[str]:
        return self._server.requests

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
