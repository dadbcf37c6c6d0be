"""`[output.base]` with its sha256 from a signed SHA256SUMS, as Ubuntu publishes cloud images (a
`SHA256SUMS` and a detached `SHA256SUMS.gpg` beside the image): a loopback vendor site signed by a real
gpg key, checked by the real gpgv through the real CLI; the lock records the image's, the sums' and the
keyring's sha256; disk-image.sh demands that sha256 and builds for real; every bad signature, keyring or
sums file is one line, exit 2, nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apt.aptrepo import Key
from tests.disk.diskhelpers import intent as stated_intent
from tests.disk.diskhelpers import run_pipeline, served, tiny_qcow2
from tests.files.vendor import Vendor, sha256, vendor_site
from tests.imagelock_testing import tree_digest

IMAGE = "noble-server-cloudimg-amd64.img"


@pytest.fixture
def cloud(tmp_path: Path, vendor_key: Key) -> Iterator[tuple[Vendor, bytes]]:
    """A cloud-image directory: the image, another file, and SHA256SUMS + SHA256SUMS.gpg over both."""
    scratch = tmp_path / "made"
    scratch.mkdir()
    tiny_qcow2(scratch / IMAGE)
    image = (scratch / IMAGE).read_bytes()
    with vendor_site(tmp_path / "site") as site:
        site.publish({IMAGE: image, "noble-server-cloudimg-arm64.img": b"another image"}, vendor_key)
        yield site, image


def _intent(folder: Path, site: Vendor, keyring: Path, extra: str = "") -> Path:
    path = folder / "slice.toml"
    path.write_text(
        'name = "slice"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n[output]\nkind = "raw"\n'
        f'[output.base]\nurl = "{site.url}/{IMAGE}"\nsha256sums = "{site.url}/SHA256SUMS"\n'
        f'signature = "{site.url}/SHA256SUMS.gpg"\nkeyring = "{keyring}"\n{extra}'
    )
    return path


def test_the_base_sha256_comes_from_the_signed_sums_and_the_build_demands_it(
    tmp_path: Path, cloud: tuple[Vendor, bytes], vendor_key: Key, lock_cli
) -> None:
    site, image = cloud
    path = _intent(tmp_path, site, vendor_key.keyring)
    run = lock_cli("update", str(path))
    assert run.code == 0, run.err
    locked = tomllib.loads(path.with_suffix(".lock").read_text())["output"]["base"]
    assert locked == {
        "url": f"{site.url}/{IMAGE}",
        "sha256": sha256(image),
        "sums-url": f"{site.url}/SHA256SUMS",
        "sums-sha256": sha256((site.root / "SHA256SUMS").read_bytes()),
        "keyring-sha256": sha256(vendor_key.keyring.read_bytes()),
        "signature-url": f"{site.url}/SHA256SUMS.gpg",
    }
    assert f"/{IMAGE}" not in site.requests  # the image is verified by the build, not downloaded to lock it

    check = lock_cli("check", str(path))
    assert check.code == 0, check.out + check.err
    assert f"output base {IMAGE}: sha256 {sha256(image)} from the signed SHA256SUMS {site.url}/SHA256SUMS" in check.out

    # kept without a request while the URLs and keyring stay; --refresh output checks the signature again
    site.requests.clear()
    assert lock_cli("update", str(path)).code == 0 and site.requests == []
    assert lock_cli("update", str(path), "--refresh", "output").code == 0
    assert sorted(site.requests) == ["/SHA256SUMS", "/SHA256SUMS.gpg"]

    # `lock mirror` keeps the cloud image by its signed sha256 (vendors remove old image serials)
    mirrored = lock_cli("mirror", str(path.with_suffix(".lock")), "--to", str(tmp_path / "mirror"))
    assert mirrored.code == 0, mirrored.out + mirrored.err
    assert (tmp_path / "mirror" / "sha256" / sha256(image)).read_bytes() == image

    generated = lock_cli("generate", str(path.with_suffix(".lock")), "-o", str(tmp_path / "gen"))
    assert generated.code == 0, generated.err
    script = tmp_path / "gen" / "disk-image.sh"
    assert f"readonly BASE_SHA256={sha256(image)}\n" in script.read_text()
    sbom = json.loads((tmp_path / "gen" / "sbom.cdx.json").read_text())
    listed = [c for c in sbom["components"] if c["name"] == IMAGE]
    assert [h["content"] for c in listed for h in c["hashes"] if h["alg"] == "SHA-256"] == [sha256(image)]
    built = run_pipeline(script, tmp_path / "work")
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "work" / "slice.raw").stat().st_size == 8 << 20


def test_a_new_image_under_the_same_url_moves_the_lock_only_on_refresh(
    tmp_path: Path, cloud: tuple[Vendor, bytes], vendor_key: Key, lock_cli
) -> None:
    site, image = cloud
    path = _intent(tmp_path, site, vendor_key.keyring)
    assert lock_cli("update", str(path)).code == 0
    old = tmp_path / "old.lock"
    old.write_bytes(path.with_suffix(".lock").read_bytes())
    tiny_qcow2(site.root / IMAGE, pattern=0x33)  # the vendor republishes and re-signs
    newer = (site.root / IMAGE).read_bytes()
    site.publish({IMAGE: newer}, vendor_key)
    assert lock_cli("update", str(path)).code == 0
    assert path.with_suffix(".lock").read_bytes() == old.read_bytes()  # kept until asked
    assert lock_cli("update", str(path), "--refresh", "output").code == 0
    lock = tomllib.loads(path.with_suffix(".lock").read_text())
    assert lock["output"]["base"]["sha256"] == sha256(newer) and lock["version"] == "1.0.1"
    diff = lock_cli("diff", str(old), str(path.with_suffix(".lock")))
    assert diff.code == 1, diff.err  # 1: the locks differ
    assert "output: 2 changed" in diff.out
    assert f"~ base {site.url}/{IMAGE} (same version, new sha256)" in diff.out
    assert f"~ base sha256sums {site.url}/SHA256SUMS (same version, new sha256)" in diff.out


def test_the_build_refuses_a_base_other_than_the_signed_one(
    tmp_path: Path, cloud: tuple[Vendor, bytes], vendor_key: Key, lock_cli
) -> None:
    site, _ = cloud
    path = _intent(tmp_path, site, vendor_key.keyring)
    assert lock_cli("update", str(path)).code == 0
    assert lock_cli("generate", str(path.with_suffix(".lock")), "-o", str(tmp_path / "gen")).code == 0
    tiny_qcow2(site.root / IMAGE, pattern=0x33)  # the server now serves other bytes under the name
    built = run_pipeline(tmp_path / "gen" / "disk-image.sh", tmp_path / "work")
    assert built.returncode != 0 and not (tmp_path / "work" / "slice.raw").exists()


def test_check_says_a_stated_sha256_is_the_intents_word(tmp_path: Path, lock_cli) -> None:
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    base_sha = tiny_qcow2(upstream / "noble.img")
    with served(upstream) as url:
        path = stated_intent(tmp_path, f"{url}/noble.img", base_sha)
        assert lock_cli("update", str(path)).code == 0
    assert "output" not in tomllib.loads(path.with_suffix(".lock").read_text())
    check = lock_cli("check", str(path))
    assert check.code == 0
    assert f"output base noble.img: sha256 {base_sha} stated by the intent, not taken from a signed SHA256SUMS" in (
        check.out
    )


def _alter_sums(site: Vendor, image: bytes, key: Key) -> None:
    """The sums changed after they were signed."""
    sums = site.root / "SHA256SUMS"
    sums.write_text(sums.read_text().replace(sha256(image), "f" * 64))


def _drop_image(site: Vendor, image: bytes, key: Key) -> None:
    """Validly signed sums that list another image only."""
    site.publish({"noble-server-cloudimg-arm64.img": b"another image"}, key)


def _not_sums(site: Vendor, image: bytes, key: Key) -> None:
    """A validly signed file that is no sums file (a proxy's error page, say)."""
    (site.root / "SHA256SUMS").write_text("<html>moved</html>\n")
    site.sign(key)


# case -> (what the site does, whose keyring the intent names, an extra intent line, the one line expected)
REFUSALS = {
    "altered": (
        _alter_sums,
        "vendor",
        "",
        "{path}: output.base.sha256sums {url}/SHA256SUMS: BAD signature (the signed text was altered) "
        "(keyring {keyring})",
    ),
    "another-signer": (
        None,
        "stranger",
        "",
        "{path}: output.base.sha256sums {url}/SHA256SUMS: signed by a key that is not in the keyring "
        "(keyring {keyring})",
    ),
    "unlisted": (_drop_image, "vendor", "", f"{{path}}: output.base.sha256sums: {{url}}/SHA256SUMS lists no {IMAGE}"),
    "not-sums": (
        _not_sums,
        "vendor",
        "",
        "{path}: output.base.sha256sums: {url}/SHA256SUMS is not a SHA256SUMS file: "
        "no line of the form '<sha256>  <file name>'",
    ),
    "contradicted": (
        None,
        "vendor",
        f'sha256 = "{"a" * 64}"\n',
        f"{{path}}: output.base.sha256: {'a' * 64}, but the signed {{url}}/SHA256SUMS lists {{sha256}} for {IMAGE}",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_what_the_signed_sums_do_not_vouch_for_is_one_line_and_writes_nothing(
    case: str, tmp_path: Path, cloud: tuple[Vendor, bytes], vendor_key: Key, stranger_key: Key, lock_cli
) -> None:
    site, image = cloud
    change, signer, extra, expected = REFUSALS[case]
    if change is not None:
        change(site, image, vendor_key)
    keyring = (vendor_key if signer == "vendor" else stranger_key).keyring
    folder = tmp_path / "intent"
    folder.mkdir()
    path = _intent(folder, site, keyring, extra)
    before = tree_digest(folder)
    run = lock_cli("update", str(path))
    assert run.code == 2, run.err
    message = expected.format(path=path, url=site.url, keyring=keyring, sha256=sha256(image))
    assert run.err == f"lock: error: {message}\n"
    assert not path.with_suffix(".lock").exists()
    assert tree_digest(folder) == before


def test_the_shipped_cloud_image_keyring_holds_ubuntus_signing_keys(tmp_path: Path) -> None:
    """locks/keys/ubuntu-cloudimage-keyring.gpg is the file noble's ubuntu-keyring ships (locks/keys/README.md)."""
    keyring = Path(__file__).parents[2] / "locks" / "keys" / "ubuntu-cloudimage-keyring.gpg"
    data = keyring.read_bytes()
    assert sha256(data) == "c2d40d925557dbe9a0745c12ca0dc98bed593ce9a6652f1b2faa1ff0858dbf2f"
    shown = subprocess.run(
        ["gpg", "--batch", "--with-colons", "--show-keys", str(keyring)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GNUPGHOME": str(tmp_path)},
    ).stdout
    fingerprints = [line.split(":")[9] for line in shown.splitlines() if line.startswith("fpr:")]
    assert fingerprints == ["D2EB44626FDDC30B513D5BB71A5D6C4C7DB87C81", "4A3CE3CD565D7EB5C810E2B97FF3F408476CF100"]
    assert "UEC Image Automatic Signing Key <cdimage@ubuntu.com>" in shown


def test_replay_serves_the_signed_sums_offline_and_names_a_gap(
    tmp_path: Path, cloud: tuple[Vendor, bytes], vendor_key: Key, lock_cli
) -> None:
    """`lock update --replay`: the recording's copies of SHA256SUMS and SHA256SUMS.gpg stand in for the
    vendor's (the lock keeps the vendor's URLs); one listed without its bytes is refused, never trusted."""
    site, image = cloud
    upstream = "https://cloud-images.example.invalid/noble/20250101"
    snapshot = tmp_path / "snapshot"
    (snapshot / "files").mkdir(parents=True)
    for name in ("SHA256SUMS", "SHA256SUMS.gpg"):
        (snapshot / "files" / name).write_bytes((site.root / name).read_bytes())
    recorded: dict[str, object] = {
        f"{upstream}/SHA256SUMS": "SHA256SUMS",
        f"{upstream}/SHA256SUMS.gpg": "SHA256SUMS.gpg",
    }
    (snapshot / "files" / "urls.json").write_text(json.dumps(recorded))
    (snapshot / "snapshot.json").write_text('{"indexes": {}, "files": "files"}')
    (tmp_path / "intent").mkdir()
    path = _intent(tmp_path / "intent", Vendor(site.root, upstream), vendor_key.keyring)
    site.requests.clear()
    run = lock_cli("update", str(path), "--replay", str(snapshot))
    assert run.code == 0, run.err
    assert site.requests == []  # nothing asked of the vendor
    base = tomllib.loads(path.with_suffix(".lock").read_text())["output"]["base"]
    assert (base["url"], base["sha256"]) == (f"{upstream}/{IMAGE}", sha256(image))

    recorded[f"{upstream}/SHA256SUMS.gpg"] = {"_unrecorded": "the site was not reachable"}
    (snapshot / "files" / "urls.json").write_text(json.dumps(recorded))
    (tmp_path / "gap").mkdir()
    gap = _intent(tmp_path / "gap", Vendor(site.root, upstream), vendor_key.keyring)
    before = tree_digest(tmp_path / "gap")
    run = lock_cli("update", str(gap), "--replay", str(snapshot))
    assert (run.code, run.err) == (
        2,
        f"lock: error: {gap}: output.base.signature: {upstream}/SHA256SUMS.gpg is recorded without its bytes "
        "(the site was not reachable): no signature can be checked\n",
    )
    assert tree_digest(tmp_path / "gap") == before
