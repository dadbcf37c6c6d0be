"""`[[files]]` through the real CLI: pinned by an intent hash, measured, or taken from a signed SHA256SUMS
(checked by the real gpgv), kept across updates without a download, mirrored, and refused on bad input."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagelock import domains
from tests.apt.aptrepo import Key
from tests.files.vendor import INSTALLER, TOOL, Vendor, sha256, vendor_site


@pytest.fixture
def vendor(tmp_path: Path, vendor_key: Key) -> Iterator[Vendor]:
    with vendor_site(tmp_path / "site") as site:
        site.publish({"installer.sh": INSTALLER, "tool-2.0.tar.gz": TOOL}, vendor_key)
        yield site


def _intent(folder: Path, entries: str) -> Path:
    path = folder / "image.toml"
    path.write_text(f'name = "files"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n{entries}')
    return path


def _locked(intent: Path) -> list[dict[str, object]]:
    return tomllib.loads(intent.with_suffix(".lock").read_text())["files"]


def test_files_lock_by_intent_hash_by_measure_and_by_signed_sums(
    tmp_path: Path, vendor: Vendor, vendor_key: Key, lock_cli
) -> None:
    intent = _intent(
        tmp_path,
        f'[[files]]\nurl = "{vendor.url}/installer.sh"\ndest = "/opt/vendor/install.sh"\nmode = "0755"\n'
        f'sha256 = "{sha256(INSTALLER)}"\n'
        f'[[files]]\nurl = "{vendor.url}/tool-2.0.tar.gz"\ndest = "/opt/tool"\nextract = true\n'
        f'sha256sums = "{vendor.url}/SHA256SUMS"\nsignature = "{vendor.url}/SHA256SUMS.gpg"\n'
        f'keyring = "{vendor_key.keyring}"\n'
        f'[[files]]\nurl = "{vendor.url}/SHA256SUMS"\ndest = "/etc/vendor/SHA256SUMS"\n',
    )
    run = lock_cli("update", str(intent))
    assert run.code == 0, run.err
    assert "3 files" in run.out
    entries = {e["dest"]: e for e in _locked(intent)}
    assert entries["/opt/vendor/install.sh"] == {
        "url": f"{vendor.url}/installer.sh",
        "dest": "/opt/vendor/install.sh",
        "sha256": sha256(INSTALLER),
        "size": len(INSTALLER),
        "mode": "0755",
        "extract": False,
    }
    sums = (vendor.root / "SHA256SUMS").read_bytes()
    assert entries["/opt/tool"]["sha256"] == sha256(TOOL) and entries["/opt/tool"]["extract"] is True
    assert entries["/opt/tool"]["sums-sha256"] == sha256(sums)
    assert entries["/opt/tool"]["keyring-sha256"] == sha256(vendor_key.keyring.read_bytes())
    assert entries["/etc/vendor/SHA256SUMS"]["sha256"] == sha256(sums)  # measured: no hash given
    assert lock_cli("check", str(intent)).code == 0

    # Unchanged entries are kept without a download; --refresh files fetches and hashes again.
    vendor.requests.clear()
    again = lock_cli("update", str(intent))
    assert again.code == 0 and vendor.requests == []
    refreshed = lock_cli("update", str(intent), "--refresh", "files")
    assert refreshed.code == 0 and "/installer.sh" in vendor.requests

    # `lock mirror` keeps them by sha256 with everything else.
    mirrored = lock_cli("mirror", str(intent.with_suffix(".lock")), "--to", str(tmp_path / "mirror"))
    assert mirrored.code == 0, mirrored.out
    lock, _ = domains.read_lock(intent.with_suffix(".lock"))
    assert {p.name for p in (tmp_path / "mirror" / "sha256").iterdir()} == {f.sha256 for f in lock.files}


def test_a_clearsigned_sums_file_needs_no_separate_signature(
    tmp_path: Path, vendor: Vendor, vendor_key: Key, lock_cli
) -> None:
    vendor.publish({"installer.sh": INSTALLER}, vendor_key, clearsign=True)
    intent = _intent(
        tmp_path,
        f'[[files]]\nurl = "{vendor.url}/installer.sh"\ndest = "/opt/i.sh"\n'
        f'sha256sums = "{vendor.url}/SHA256SUMS"\nkeyring = "{vendor_key.keyring}"\n',
    )
    run = lock_cli("update", str(intent))
    assert run.code == 0, run.err
    assert _locked(intent)[0]["sha256"] == sha256(INSTALLER)


def _refused(lock_cli, intent: Path, message: str) -> None:
    run = lock_cli("update", str(intent))
    assert (run.code, run.err) == (2, f"lock: error: {message}\n")
    assert not intent.with_suffix(".lock").exists()


def test_a_signature_by_another_key_or_over_other_bytes_refuses_the_lock(
    tmp_path: Path, vendor: Vendor, vendor_key: Key, stranger_key: Key, lock_cli
) -> None:
    entry = (
        f'[[files]]\nurl = "{vendor.url}/installer.sh"\ndest = "/opt/i.sh"\n'
        f'sha256sums = "{vendor.url}/SHA256SUMS"\nsignature = "{vendor.url}/SHA256SUMS.gpg"\n'
        f'keyring = "{vendor_key.keyring}"\n'
    )
    intent = _intent(tmp_path, entry)
    vendor.publish({"installer.sh": INSTALLER}, stranger_key)
    _refused(
        lock_cli,
        intent,
        f"{intent}: files[0].sha256sums {vendor.url}/SHA256SUMS: signed by a key that is not in the keyring "
        f"(keyring {vendor_key.keyring})",
    )
    vendor.publish({"installer.sh": INSTALLER}, vendor_key)
    (vendor.root / "SHA256SUMS").write_text(f"{'0' * 64}  installer.sh\n")  # the sums changed after signing
    _refused(
        lock_cli,
        intent,
        f"{intent}: files[0].sha256sums {vendor.url}/SHA256SUMS: BAD signature (the signed text was altered) "
        f"(keyring {vendor_key.keyring})",
    )


def test_bytes_other_than_the_hash_or_the_signed_sums_say_refuse_the_lock(
    tmp_path: Path, vendor: Vendor, vendor_key: Key, lock_cli
) -> None:
    intent = _intent(
        tmp_path, f'[[files]]\nurl = "{vendor.url}/installer.sh"\ndest = "/opt/i.sh"\nsha256 = "{"a" * 64}"\n'
    )
    _refused(
        lock_cli,
        intent,
        f"{intent}: files[0]: {vendor.url}/installer.sh served sha256 {sha256(INSTALLER)} ({len(INSTALLER)} bytes); "
        f"the intent says {'a' * 64}",
    )
    (vendor.root / "installer.sh").write_bytes(INSTALLER + b"# changed after the sums were signed\n")
    intent = _intent(
        tmp_path,
        f'[[files]]\nurl = "{vendor.url}/installer.sh"\ndest = "/opt/i.sh"\n'
        f'sha256sums = "{vendor.url}/SHA256SUMS"\nsignature = "{vendor.url}/SHA256SUMS.gpg"\n'
        f'keyring = "{vendor_key.keyring}"\n',
    )
    changed = INSTALLER + b"# changed after the sums were signed\n"
    _refused(
        lock_cli,
        intent,
        f"{intent}: files[0]: {vendor.url}/installer.sh served sha256 {sha256(changed)} ({len(changed)} bytes); "
        f"the signed sha256sums lists {sha256(INSTALLER)}",
    )
    intent = _intent(
        tmp_path,
        f'[[files]]\nurl = "{vendor.url}/other.bin"\ndest = "/opt/o"\n'
        f'sha256sums = "{vendor.url}/SHA256SUMS"\nsignature = "{vendor.url}/SHA256SUMS.gpg"\n'
        f'keyring = "{vendor_key.keyring}"\n',
    )
    _refused(lock_cli, intent, f"{intent}: files[0].sha256sums: {vendor.url}/SHA256SUMS lists no other.bin")


@pytest.mark.parametrize(
    ("entry", "key", "message"),
    [
        ('dest = "/opt/x"\n', "files[0].url", "missing: expected the http(s) URL of the file"),
        (
            'url = "file:///etc/passwd"\ndest = "/opt/x"\n',
            "files[0].url",
            "expected an http(s) URL, found 'file:///etc/passwd'",
        ),
        (
            'url = "https://u:pw@h.example.invalid/f"\ndest = "/opt/x"\n',
            "files[0].url",
            "credentials do not belong in an intent: the lock would hold them",
        ),
        (
            'url = "https://h.example.invalid/f"\ndest = "opt/x"\n',
            "files[0].dest",
            "expected an absolute path of plain characters, such as /opt/efa",
        ),
        (
            'url = "https://h.example.invalid/f"\ndest = "/opt/../etc/x"\n',
            "files[0].dest",
            "expected an absolute path of plain characters, such as /opt/efa",
        ),
        (
            'url = "https://h.example.invalid/f"\ndest = "/opt/x"\nsha256 = "abc"\n',
            "files[0].sha256",
            "expected 64 lower-case hex digits",
        ),
        (
            'url = "https://h.example.invalid/f"\ndest = "/opt/x"\nmode = 755\n',
            "files[0].mode",
            'expected an octal file mode as a string, such as "0755"',
        ),
        (
            'url = "https://h.example.invalid/f"\ndest = "/opt/x"\nextract = "yes"\n',
            "files[0].extract",
            "expected true or false",
        ),
        (
            'url = "https://h.example.invalid/f"\ndest = "/opt/x"\nsha256sums = "https://h.example.invalid/S"\n',
            "files[0].keyring",
            "missing: a sha256sums file is trusted only with the keyring whose signature it carries",
        ),
        (
            'url = "https://h.example.invalid/f"\ndest = "/opt/x"\nsignature = "https://h.example.invalid/S.gpg"\n',
            "files[0].sha256sums",
            "missing: signature and keyring check a sha256sums file",
        ),
        ('url = "https://h.example.invalid/f"\ndest = "/opt/x"\nsize = 3\n', "files[0]", None),
    ],
)
def test_bad_entries_are_one_line_naming_the_key(
    tmp_path: Path, lock_cli, entry: str, key: str, message: str | None
) -> None:
    intent = _intent(tmp_path, f"[[files]]\n{entry}")
    run = lock_cli("update", str(intent))
    assert run.code == 2 and run.err.count("\n") == 1
    assert run.err.startswith(f"lock: error: {intent}: {key}")
    if message is not None:
        assert run.err == f"lock: error: {intent}: {key}: {message}\n"
    assert not intent.with_suffix(".lock").exists()


def test_two_entries_with_one_dest_are_refused(tmp_path: Path, lock_cli) -> None:
    intent = _intent(
        tmp_path,
        '[[files]]\nurl = "https://h.example.invalid/a"\ndest = "/opt/x"\n'
        '[[files]]\nurl = "https://h.example.invalid/b"\ndest = "/opt/x"\n',
    )
    _refused(lock_cli, intent, f"{intent}: files[1].dest: /opt/x is already the dest of files[0]")


def test_files_replay_from_a_recording_and_a_gap_is_named(tmp_path: Path, lock_cli) -> None:
    snapshot = tmp_path / "snapshot"
    (snapshot / "files" / "vendor").mkdir(parents=True)
    (snapshot / "files" / "vendor" / "installer.sh").write_bytes(INSTALLER)
    url = "https://downloads.example.invalid/vendor/installer.sh"
    (snapshot / "files" / "urls.json").write_text(f'{{"{url}": "vendor/installer.sh"}}')
    (snapshot / "snapshot.json").write_text('{"indexes": {}, "files": "files"}')
    intent = _intent(tmp_path, f'[[files]]\nurl = "{url}"\ndest = "/opt/i.sh"\n')
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 0, run.err
    assert _locked(intent)[0]["url"] == url and _locked(intent)[0]["sha256"] == sha256(INSTALLER)
    missing = _intent(tmp_path, '[[files]]\nurl = "https://downloads.example.invalid/other"\ndest = "/opt/o"\n')
    run = lock_cli("update", str(missing), "--replay", str(snapshot))
    assert (run.code, run.err) == (
        2,
        f"lock: error: {missing}: files[0].url: https://downloads.example.invalid/other is not in the replayed "
        'snapshot (its snapshot.json names the files recording under "files")\n',
    )


def _unrecorded_snapshot(tmp_path: Path, urls: dict[str, object]) -> Path:
    snapshot = tmp_path / "snapshot"
    (snapshot / "files").mkdir(parents=True)
    (snapshot / "files" / "urls.json").write_text(json.dumps(urls))
    (snapshot / "snapshot.json").write_text('{"indexes": {}, "files": "files"}')
    return snapshot


def test_a_url_recorded_without_its_bytes_is_locked_without_a_hash_reported_and_learned(
    tmp_path: Path, lock_cli
) -> None:
    """A recording made where the vendor's site could not be read lists the URL by name only: the lock holds
    the file without a hash (or with the hash the intent states, verified by the build), `lock check` says
    so, and a build's measurement is learned in."""
    url = "https://downloads.example.invalid/efa/aws-efa-installer-1.30.0.tar.gz"
    stated = "https://downloads.example.invalid/tools/tool.sh"
    snapshot = _unrecorded_snapshot(
        tmp_path, {url: {"_unrecorded": "the vendor's site is not reachable"}, stated: {"_unrecorded": "same"}}
    )
    intent = _intent(
        tmp_path,
        f'[[files]]\nurl = "{url}"\ndest = "/opt/efa"\nextract = true\n'
        f'[[files]]\nurl = "{stated}"\ndest = "/usr/local/bin/tool.sh"\nmode = "0755"\nsha256 = "{sha256(TOOL)}"\n',
    )
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 0, run.err
    assert "files[0] aws-efa-installer-1.30.0.tar.gz: locked without a hash (the vendor's site is not reachable)" in (
        run.err
    )
    entries = {e["dest"]: e for e in _locked(intent)}
    assert "sha256" not in entries["/opt/efa"] and "size" not in entries["/opt/efa"]
    assert (
        entries["/usr/local/bin/tool.sh"]["sha256"] == sha256(TOOL) and "size" not in entries["/usr/local/bin/tool.sh"]
    )

    check = lock_cli("check", str(intent))
    assert check.code == 0, check.out
    assert "file" in check.out and "aws-efa-installer-1.30.0.tar.gz" in check.out and "without a hash" in check.out
    assert lock_cli("check", str(intent), "--strict").code == 1

    measured = tmp_path / "measured.json"
    measured.write_text(json.dumps({"measured": [{"url": url, "sha256": sha256(INSTALLER), "size": len(INSTALLER)}]}))
    learned = lock_cli("update", str(intent), "--learn", str(measured), "--replay", str(snapshot))
    assert learned.code == 0, learned.err
    assert "learned the hash of 1 file(s)" in learned.out
    entries = {e["dest"]: e for e in _locked(intent)}
    assert (entries["/opt/efa"]["sha256"], entries["/opt/efa"]["size"]) == (sha256(INSTALLER), len(INSTALLER))
    assert lock_cli("check", str(intent), "--strict").code == 0
    # The recording still has no bytes for it: resolving again keeps the learned hash.
    before = intent.with_suffix(".lock").read_bytes()
    assert lock_cli("update", str(intent), "--replay", str(snapshot)).code == 0
    assert intent.with_suffix(".lock").read_bytes() == before


def test_a_recording_entry_that_is_neither_a_file_nor_unrecorded_is_refused(tmp_path: Path, lock_cli) -> None:
    url = "https://downloads.example.invalid/a"
    snapshot = _unrecorded_snapshot(tmp_path, {url: {"_unrecorded": 3}})
    intent = _intent(tmp_path, f'[[files]]\nurl = "{url}"\ndest = "/opt/a"\n')
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert (run.code, run.err) == (
        2,
        f"lock: error: {snapshot / 'files' / 'urls.json'}: {url}: expected a file path relative to this directory, "
        'or {"_unrecorded": "<why the bytes are not here>"}\n',
    )
    assert not intent.with_suffix(".lock").exists()
