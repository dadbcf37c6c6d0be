"""A small signed apt repository made by the real tools (dpkg-deb, apt-ftparchive, gpg).

The same calls as tests/apt/aptrepo.py on the apt branch (Deb, make_key,
build_repo), kept to what the end-to-end test needs; once both branches are
merged this module folds into that one.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Deb:
    name: str
    version: str
    arch: str = "all"
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # path inside the package -> content


@dataclass
class Key:
    home: Path
    fingerprint: str
    keyring: Path  # binary public keyring: what apt's Signed-By names


def _run(cmd: list[str], **kwargs: object) -> bytes:
    return subprocess.run(cmd, check=True, capture_output=True, **kwargs).stdout  # type: ignore[call-overload]


def make_key(home: Path, uid: str) -> Key:
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    _run(["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key", uid,
          "ed25519", "sign", "never"], env=env)
    listing = _run(["gpg", "--batch", "--with-colons", "--list-secret-keys"], env=env).decode()
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    keyring = home / "archive-keyring.gpg"
    keyring.write_bytes(_run(["gpg", "--batch", "--export", fingerprint], env=env))
    return Key(home, fingerprint, keyring)


def stop_agent(key: Key) -> None:
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(key.home)},
                   capture_output=True)


def build_deb(deb: Deb, out: Path, work: Path) -> Path:
    root = work / f"{deb.name}_{deb.version}_{deb.arch}"
    (root / "DEBIAN").mkdir(parents=True, exist_ok=True)
    lines = [f"Package: {deb.name}", f"Version: {deb.version}", f"Architecture: {deb.arch}",
             "Maintainer: imagelock tests <tests@invalid>", *[f"{k}: {v}" for k, v in deb.fields.items()],
             f"Description: test package {deb.name}"]
    (root / "DEBIAN" / "control").write_text("\n".join(lines) + "\n")
    doc = root / "usr" / "share" / "doc" / deb.name
    doc.mkdir(parents=True, exist_ok=True)
    (doc / "README").write_text(f"{deb.name} {deb.version}\n")
    for path, content in deb.files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{deb.name}_{deb.version.split(':')[-1]}_{deb.arch}.deb"
    _run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(target)])
    return target


def build_repo(root: Path, suites: dict[str, list[Deb]], key: Key, *, arches: tuple[str, ...] = ("amd64",)) -> Path:
    """root/dists/<suite>/{InRelease,Release,main/binary-<arch>/Packages}, root/pool/<suite>/*.deb."""
    work = root.parent / f"{root.name}-build"
    for suite, debs in suites.items():
        for deb in debs:
            build_deb(deb, root / "pool" / suite, work)
        for arch in arches:
            folder = root / "dists" / suite / "main" / f"binary-{arch}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "Packages").write_bytes(_run(["apt-ftparchive", "--arch", arch, "packages", f"pool/{suite}"],
                                                   cwd=root))
        options = ["-o", f"APT::FTPArchive::Release::Suite={suite}",
                   "-o", f"APT::FTPArchive::Release::Codename={suite}",
                   "-o", f"APT::FTPArchive::Release::Architectures={' '.join(arches)}",
                   "-o", "APT::FTPArchive::Release::Components=main"]
        suite_dir = root / "dists" / suite
        (suite_dir / "Release").write_bytes(_run(["apt-ftparchive", *options, "release", "."], cwd=suite_dir))
        _run(["gpg", "--batch", "--yes", "--local-user", key.fingerprint, "--digest-algo", "SHA256", "--clearsign",
              "--output", str(suite_dir / "InRelease"), str(suite_dir / "Release")],
             env={**os.environ, "GNUPGHOME": str(key.home)})
    return root
