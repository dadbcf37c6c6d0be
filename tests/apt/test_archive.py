"""Signed archive access: every failure stops the update with what failed, and writes nothing."""

from __future__ import annotations

import gzip
import lzma
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagelock.domains.apt import archive
from imagelock.errors import UpstreamError, VerificationError
from tests.apt.aptrepo import Key, RepoServer, build_repo, sign
from tests.apt.helpers import lock_update, write_intent
from tests.apt.scenario import SUITES

INDEX = "dists/stable/main/binary-amd64/Packages.xz"


def _release(repo: RepoServer, key: Key) -> archive.SignedRelease:
    return archive.fetch_release(repo.url, "stable", key.keyring, allow_unsigned=False)


def _by_hash_path(repo: RepoServer, sha256: str) -> Path:
    return repo.root / "dists/stable/main/binary-amd64/by-hash/SHA256" / sha256


def test_verified_release_lists_indexes(repo: RepoServer, archive_key: Key) -> None:
    signed = _release(repo, archive_key)
    assert signed.signed and signed.release.by_hash
    assert "main/binary-amd64/Packages.xz" in signed.release.sha256
    index = archive.fetch_packages(repo.url, "stable", signed.release, "main", "amd64")
    assert index.path == "main/binary-amd64/Packages.xz" and "Package: app\n" in index.text.read("".join)
    # by-hash is preferred, so a mirror updating mid-run cannot mix two index generations
    assert any("/by-hash/SHA256/" in p for p in repo.requests)


def test_index_is_fetched_once_then_read_by_hash(repo: RepoServer, archive_key: Key) -> None:
    signed = _release(repo, archive_key)
    archive.fetch_packages(repo.url, "stable", signed.release, "main", "amd64")
    count = len(repo.requests)
    archive.fetch_packages(repo.url, "stable", signed.release, "main", "amd64")
    assert len(repo.requests) == count


def test_wrong_key_is_refused(repo: RepoServer, other_key: Key) -> None:
    with pytest.raises(VerificationError, match="not in the keyring"):
        archive.fetch_release(repo.url, "stable", other_key.keyring, allow_unsigned=False)


def test_altered_signed_text_is_refused(repo: RepoServer, archive_key: Key) -> None:
    path = repo.root / "dists/stable/InRelease"
    path.write_text(path.read_text().replace("Suite: stable", "Suite: stab1e"))
    with pytest.raises(VerificationError, match="BAD signature"):
        _release(repo, archive_key)


def test_text_outside_the_signed_block_is_ignored(repo: RepoServer, archive_key: Key) -> None:
    """Only gpgv's output is parsed: lines appended after the signature cannot add an index."""
    path = repo.root / "dists/stable/InRelease"
    path.write_text(path.read_text() + "SHA256:\n " + "0" * 64 + " 1 main/binary-amd64/Packages.bz2\n")
    assert "main/binary-amd64/Packages.bz2" not in _release(repo, archive_key).release.sha256


def test_unsigned_archive_is_refused(tmp_path: Path, archive_key: Key) -> None:
    root = build_repo(tmp_path / "unsigned", {"stable": SUITES["stable"][:3]}, key=None)
    with RepoServer(root) as server, pytest.raises(VerificationError, match="not signed|no valid signature"):
        archive.fetch_release(server.url, "stable", archive_key.keyring, allow_unsigned=False)


def test_allow_unsigned_works_loudly(tmp_path: Path, capsys) -> None:
    root = build_repo(tmp_path / "unsigned", {"stable": SUITES["stable"][:3]}, key=None)
    with RepoServer(root) as server:
        intent = write_intent(tmp_path, server.url, None, ["pre"], suites=("stable",), allow_unsigned=True)
        code, out, err = lock_update(intent, capsys)
    assert code == 0, err
    assert "WARNING: apt.allow-unsigned = true" in err and "WITHOUT checking its signature" in err
    assert 'keyring-sha256 = "unsigned"' in intent.with_suffix(".lock").read_text()


def test_release_for_another_suite_is_refused(repo: RepoServer, archive_key: Key) -> None:
    """A validly signed Release of another suite served under this suite's name (a replay attack)."""
    updates = repo.root / "dists/updates"
    stable = repo.root / "dists/stable"
    (stable / "InRelease").write_bytes((updates / "InRelease").read_bytes())
    with pytest.raises(VerificationError, match="signed for suite 'updates', not 'stable'"):
        _release(repo, archive_key)


def test_tampered_index_is_refused(repo: RepoServer, archive_key: Key) -> None:
    signed = _release(repo, archive_key)
    sha256 = signed.release.sha256["main/binary-amd64/Packages.xz"][0]
    text = (repo.root / "dists/stable/main/binary-amd64/Packages").read_bytes()
    evil = lzma.compress(text.replace(b"Version: 1.0\n", b"Version: 6.6\n", 1))
    _by_hash_path(repo, sha256).write_bytes(evil)
    (repo.root / INDEX).write_bytes(evil)
    with pytest.raises(VerificationError, match="altered|truncated"):
        archive.fetch_packages(repo.url, "stable", signed.release, "main", "amd64")


def test_truncated_download_is_refused(repo: RepoServer, archive_key: Key) -> None:
    signed = _release(repo, archive_key)
    sha256 = signed.release.sha256["main/binary-amd64/Packages.xz"][0]
    repo.truncate.add(f"/dists/stable/main/binary-amd64/by-hash/SHA256/{sha256}")
    with pytest.raises(VerificationError, match="bytes, but the signed Release says .* \\(truncated"):
        archive.fetch_packages(repo.url, "stable", signed.release, "main", "amd64")


def test_missing_by_hash_file_falls_back_to_the_verified_plain_path(repo: RepoServer, archive_key: Key) -> None:
    signed = _release(repo, archive_key)
    sha256 = signed.release.sha256["main/binary-amd64/Packages.xz"][0]
    _by_hash_path(repo, sha256).unlink()
    index = archive.fetch_packages(repo.url, "stable", signed.release, "main", "amd64")
    assert index.sha256 == sha256
    assert f"/{INDEX}" in repo.requests


def test_missing_by_hash_and_plain_index_names_both(repo: RepoServer, archive_key: Key) -> None:
    signed = _release(repo, archive_key)
    sha256 = signed.release.sha256["main/binary-amd64/Packages.xz"][0]
    _by_hash_path(repo, sha256).unlink()
    (repo.root / INDEX).unlink()
    with pytest.raises(UpstreamError, match="by-hash/SHA256/.*HTTP 404.*Packages.xz: HTTP 404"):
        archive.fetch_packages(repo.url, "stable", signed.release, "main", "amd64")


def test_damaged_cache_entry_is_dropped_not_trusted(repo: RepoServer, archive_key: Key) -> None:
    signed = _release(repo, archive_key)
    sha256 = signed.release.sha256["main/binary-amd64/Packages.xz"][0]
    archive.fetch_packages(repo.url, "stable", signed.release, "main", "amd64")
    stored = list(archive.store_dir().iterdir())
    assert stored
    for path in stored:
        path.write_bytes(b"Package: evil\nVersion: 6.6\n")
    count = len(repo.requests)
    index = archive.fetch_packages(repo.url, "stable", signed.release, "main", "amd64")
    text = index.text.read("".join)
    assert "Package: app\n" in text and "evil" not in text
    assert len(repo.requests) > count  # fetched again, not trusted
    assert sha256 in {p.name for p in stored} or len(stored) == 1


def test_gzip_only_archive(tmp_path: Path, archive_key: Key) -> None:
    root = build_repo(tmp_path / "gz", {"stable": SUITES["stable"][:3]}, archive_key, by_hash=False)
    folder = root / "dists/stable/main/binary-amd64"
    (folder / "Packages.xz").unlink()
    release = root / "dists/stable/Release"
    release.write_text("".join(line + "\n" for line in release.read_text().splitlines() if "Packages.xz" not in line))
    sign(root / "dists/stable", archive_key)
    with RepoServer(root) as server:
        signed = archive.fetch_release(server.url, "stable", archive_key.keyring, allow_unsigned=False)
        index = archive.fetch_packages(server.url, "stable", signed.release, "main", "amd64")
    assert index.path.endswith("Packages.gz")
    assert index.text.read("".join) == gzip.decompress((folder / "Packages.gz").read_bytes()).decode()


def _stored_text(signed: archive.SignedRelease) -> Path:
    return archive.store_dir() / signed.release.sha256["main/binary-amd64/Packages"][0]


def test_store_copy_changed_after_verification_is_refused_when_read(repo: RepoServer, archive_key: Key) -> None:
    """The text is hashed again as it is read: a copy swapped after fetch_packages verified it is never used."""
    signed = _release(repo, archive_key)
    index = archive.fetch_packages(repo.url, "stable", signed.release, "main", "amd64")
    stored = _stored_text(signed)
    stored.write_bytes(stored.read_bytes().replace(b"Version: 1.0\n", b"Version: 6.6\n", 1))
    with pytest.raises(VerificationError, match="stored copy.*altered index"):
        index.text.read("".join)


def test_read_that_stops_early_or_fails_is_still_verified(repo: RepoServer, archive_key: Key) -> None:
    """What a reader saw counts only once the whole text is verified, even if it stopped or failed early."""
    signed = _release(repo, archive_key)
    index = archive.fetch_packages(repo.url, "stable", signed.release, "main", "amd64")

    def fails(chunks: Iterator[str]) -> str:
        next(iter(chunks))
        raise ValueError("the parser gave up")

    assert index.text.read(lambda chunks: next(iter(chunks))).startswith("Package: ")
    with pytest.raises(ValueError, match="gave up"):
        index.text.read(fails)
    stored = _stored_text(signed)
    data = stored.read_bytes()
    stored.write_bytes(data[:-2] + b"X\n")  # the last bytes, which neither reader reaches
    with pytest.raises(VerificationError, match="stored copy"):
        index.text.read(lambda chunks: next(iter(chunks)))
    with pytest.raises(VerificationError, match="stored copy"):
        index.text.read(fails)


def test_chunks_end_between_stanzas_whatever_the_block_size(
    repo: RepoServer, archive_key: Key, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed = _release(repo, archive_key)
    index = archive.fetch_packages(repo.url, "stable", signed.release, "main", "amd64")
    whole = index.text.read("".join)
    monkeypatch.setattr(archive, "BLOCK", 7)  # far smaller than a stanza
    chunks = index.text.read(list)
    assert len(chunks) == whole.count("\n\nPackage: ") + 1
    assert "".join(chunks) == whole
    assert all(chunk.endswith("\n\n") and chunk.startswith("Package: ") for chunk in chunks[:-1])


def test_archive_without_a_plain_digest_is_decompressed_on_each_read(tmp_path: Path, archive_key: Key) -> None:
    """With no digest of the decompressed text to check it by, the verified download is what the store keeps."""
    root = build_repo(tmp_path / "xz", {"stable": SUITES["stable"][:3]}, archive_key, by_hash=False)
    folder = root / "dists/stable/main/binary-amd64"
    release = root / "dists/stable/Release"
    release.write_text(
        "".join(line + "\n" for line in release.read_text().splitlines() if not line.endswith("/Packages"))
    )
    sign(root / "dists/stable", archive_key)
    with RepoServer(root) as server:
        signed = archive.fetch_release(server.url, "stable", archive_key.keyring, allow_unsigned=False)
        index = archive.fetch_packages(server.url, "stable", signed.release, "main", "amd64")
    assert index.text.compression == ".xz" and index.text.stored == index.sha256
    assert index.text.read("".join) == lzma.decompress((folder / "Packages.xz").read_bytes()).decode()


@pytest.mark.parametrize("damage", ["wrong-key", "tampered-index", "truncated"])
def test_update_writes_nothing_when_verification_fails(
    tmp_path: Path, repo: RepoServer, archive_key: Key, other_key: Key, damage: str, capsys
) -> None:
    keyring = other_key.keyring if damage == "wrong-key" else archive_key.keyring
    intent = write_intent(tmp_path, repo.url, keyring, ["app"])
    signed = _release(repo, archive_key)
    sha256 = signed.release.sha256["main/binary-amd64/Packages.xz"][0]
    if damage == "tampered-index":
        _by_hash_path(repo, sha256).write_bytes(b"\xfd7zXZ\x00" + b"\x00" * 100)
    if damage == "truncated":
        repo.truncate.add(f"/dists/stable/main/binary-amd64/by-hash/SHA256/{sha256}")
    code, out, err = lock_update(intent, capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("lock: error: ")
    assert not intent.with_suffix(".lock").exists()


def _snapshot_repo(tmp_path: Path, pristine_repo: Path, stamp: str) -> Path:
    root = tmp_path / "snapshots"
    import shutil

    shutil.copytree(pristine_repo, root / stamp)
    return root


def test_snapshot_newer_than_its_timestamp_is_refused(
    tmp_path: Path, pristine_repo: Path, archive_key: Key, capsys
) -> None:
    root = _snapshot_repo(tmp_path, pristine_repo, "20240415T000000Z")
    with RepoServer(root) as server:
        intent = write_intent(tmp_path, server.url, archive_key.keyring, ["pre"], snapshot="20240415T000000Z")
        code, out, err = lock_update(intent, capsys)
    assert code == 2
    assert "after snapshot 20240415T000000Z: this is not that snapshot" in err
    assert not intent.with_suffix(".lock").exists()


def test_snapshot_from_the_universe_cutoff(tmp_path: Path, pristine_repo: Path, archive_key: Key, capsys) -> None:
    import tomllib

    root = _snapshot_repo(tmp_path, pristine_repo, "20991231T000000Z")
    with RepoServer(root) as server:
        intent = write_intent(
            tmp_path, server.url, archive_key.keyring, ["pre"], snapshot=True, cutoff="2099-12-31T00:00:00Z"
        )
        code, out, err = lock_update(intent, capsys)
    assert code == 0, err
    apt = tomllib.loads(intent.with_suffix(".lock").read_text())["apt"]
    assert apt["snapshot"] == "20991231T000000Z"
    assert apt["sources"][0]["uri"] == f"{server.url}/20991231T000000Z"
    assert apt["sources"][0]["date"].endswith("Z")


def test_expired_release_is_refused(tmp_path: Path, archive_key: Key, capsys) -> None:
    """A validly signed but stale Release (a freeze attack) is refused unless a snapshot is pinned."""
    import time

    from tests.apt.aptrepo import write_suite

    root = tmp_path / "stale"
    write_suite(root, "stable", {"amd64": b""}, archive_key, valid_seconds=1)
    assert "Valid-Until:" in (root / "dists/stable/InRelease").read_text()
    time.sleep(2.1)
    with RepoServer(root) as server:
        intent = write_intent(tmp_path, server.url, archive_key.keyring, ["pre"], suites=("stable",))
        code, out, err = lock_update(intent, capsys)
    assert code == 2
    assert "InRelease: expired: valid until" in err and "stale or re-served Release" in err
    assert not intent.with_suffix(".lock").exists()


def test_release_still_valid_is_accepted(repo: RepoServer, archive_key: Key) -> None:
    import datetime as dt

    signed = _release(repo, archive_key)
    signed.release.valid_until = "Sun, 01 Jan 2090 00:00:00 UTC"
    archive.check_fresh(signed.release, "x")
    with pytest.raises(VerificationError, match="expired"):
        archive.check_fresh(signed.release, "x", now=dt.datetime(2091, 1, 1, tzinfo=dt.UTC))
