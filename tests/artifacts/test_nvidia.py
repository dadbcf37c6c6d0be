"""The NVIDIA driver domain against a real loopback HTTP server serving a stand-in runfile."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from imagelock.domains.nvidia import layer as nvidia
from imagelock.domains.nvidia.catalog import CATALOG, DOWNLOAD_BASE, Runfile
from imagelock.errors import EXIT_ERROR, UpstreamError, VerificationError
from imagelock.lock.model import Lock, Universe
from imagelock.net import http

from .conftest import FIXTURES, FileServer, assert_input_error, make_ctx

RUNFILE = FIXTURES / "nvidia" / "cuda_99.1.0_999.10.01_linux.run"
DATA = RUNFILE.read_bytes()
GOOD = Runfile("99.1.0", "999.10.01", hashlib.md5(DATA).hexdigest(), len(DATA))
TEST_CATALOG = {
    "99.1.0": GOOD,
    # published facts that the served bytes do not match
    "99.2.0": Runfile("99.2.0", "999.20.01", "0" * 32, len(DATA) + 1),
    # md5 and size match, the independent sha256 does not
    "99.3.0": Runfile("99.3.0", "999.30.01", GOOD.md5, GOOD.size, "e" * 64),
    # all three match
    "99.4.0": Runfile("99.4.0", "999.40.01", GOOD.md5, GOOD.size, hashlib.sha256(DATA).hexdigest()),
}
INTENT = '[nvidia]\ncuda = "{cuda}"\n'


@pytest.fixture
def served(file_server: FileServer, monkeypatch: pytest.MonkeyPatch) -> FileServer:
    for entry in TEST_CATALOG.values():
        file_server.state.files[f"/{entry.cuda}/local_installers/{entry.name}"] = DATA
    monkeypatch.setenv(nvidia.BASE_URL_ENV, file_server.base_url)
    return file_server


def test_matching_runfile_is_locked_with_the_sha256_computed_while_streaming(
    tmp_path: Path, served: FileServer, isolated_cache: Path
) -> None:
    layer = nvidia.resolve(make_ctx(tmp_path, INTENT.format(cuda="99.1.0")), TEST_CATALOG)
    assert layer.sha256 == hashlib.sha256(DATA).hexdigest()
    assert (layer.md5, layer.size) == (GOOD.md5, GOOD.size)
    assert (layer.cuda_version, layer.driver_version) == ("99.1.0", "999.10.01")
    # the lock names NVIDIA's URL, not the look-alike it was fetched from
    assert layer.url == f"{DOWNLOAD_BASE}/99.1.0/local_installers/cuda_99.1.0_999.10.01_linux.run"
    assert layer.install_flags == ["--silent", "--driver", "--dkms"]
    assert layer.mirror_url is None
    # the verified bytes are kept by content for `lock mirror`
    assert http.blob_path(layer.sha256).read_bytes() == DATA
    assert not list((isolated_cache / "downloads").glob("*"))


def test_md5_and_size_mismatch_stops_with_both_values_and_keeps_nothing(
    tmp_path: Path, served: FileServer, isolated_cache: Path
) -> None:
    with pytest.raises(VerificationError) as caught:
        nvidia.resolve(make_ctx(tmp_path, INTENT.format(cuda="99.2.0")), TEST_CATALOG)
    message = str(caught.value)
    assert f"md5 {GOOD.md5}, NVIDIA publishes {'0' * 32}" in message
    assert f"size {len(DATA)} bytes, NVIDIA publishes {len(DATA) + 1}" in message
    assert "\n" not in message and caught.value.exit_code == EXIT_ERROR
    assert not (isolated_cache / "blobs").exists()
    assert not list((isolated_cache / "downloads").glob("*"))


def test_the_independent_sha256_is_a_third_check(tmp_path: Path, served: FileServer, isolated_cache: Path) -> None:
    with pytest.raises(VerificationError) as caught:
        nvidia.resolve(make_ctx(tmp_path, INTENT.format(cuda="99.3.0")), TEST_CATALOG)
    assert str(caught.value).endswith(
        f"sha256 {hashlib.sha256(DATA).hexdigest()}, the catalog's cross-check "
        f"(Spack) lists {'e' * 64}; the file was discarded and nothing was written"
    )
    assert "md5" not in str(caught.value) and not (isolated_cache / "blobs").exists()
    layer = nvidia.resolve(make_ctx(tmp_path, INTENT.format(cuda="99.4.0")), TEST_CATALOG)
    assert layer.sha256 == hashlib.sha256(DATA).hexdigest()


@pytest.mark.parametrize("drop_at", [1, 65_536, 150_000, len(DATA) - 1])
def test_connection_dropped_mid_stream_resumes_to_the_right_hash(
    tmp_path: Path, served: FileServer, drop_at: int
) -> None:
    path = f"/99.1.0/local_installers/{GOOD.name}"
    served.state.drop_after[path] = drop_at
    layer = nvidia.resolve(make_ctx(tmp_path, INTENT.format(cuda="99.1.0")), TEST_CATALOG)
    assert layer.sha256 == hashlib.sha256(DATA).hexdigest()
    ranges = [r for p, r in served.state.requests if p == path]
    # the second request resumed where the bytes stopped, it did not start over
    assert ranges == [None, f"bytes={drop_at}-"]


def test_server_that_ignores_range_restarts_cleanly(tmp_path: Path, served: FileServer) -> None:
    path = f"/99.1.0/local_installers/{GOOD.name}"
    served.state.drop_after[path] = 100_000
    served.state.ignore_range = True
    layer = nvidia.resolve(make_ctx(tmp_path, INTENT.format(cuda="99.1.0")), TEST_CATALOG)
    assert layer.sha256 == hashlib.sha256(DATA).hexdigest()


def test_a_part_file_left_by_an_interrupted_run_is_resumed(
    tmp_path: Path, served: FileServer, isolated_cache: Path
) -> None:
    part = isolated_cache / "downloads" / f"{GOOD.name}.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(DATA[:120_000])
    layer = nvidia.resolve(make_ctx(tmp_path, INTENT.format(cuda="99.1.0")), TEST_CATALOG)
    assert layer.sha256 == hashlib.sha256(DATA).hexdigest()
    assert served.state.requests == [(f"/99.1.0/local_installers/{GOOD.name}", "bytes=120000-")]


def test_unreachable_after_repeated_drops_is_one_upstream_error(
    tmp_path: Path, served: FileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http, "DOWNLOAD_ATTEMPTS", 2)
    monkeypatch.setattr(http.time, "sleep", lambda s: None)
    path = f"/99.1.0/local_installers/{GOOD.name}"

    class Always(dict):
        def pop(self, key, default=None):  # type: ignore[override]
            return 10 if key == path else default

    served.state.drop_after = Always()
    with pytest.raises(UpstreamError) as caught:
        http.download(served.base_url + path, tmp_path / "x.run", total=len(DATA), attempts=2)
    assert "interrupted 2 times" in str(caught.value)
    assert (tmp_path / "x.run.part").exists()  # kept for the next run to resume


def _previous(layer_sha: str, mirror: str | None = None) -> Lock:
    lock = Lock(name="seed", intent_sha256="0" * 64, universe=Universe(cutoff="2025-01-01T00:00:00Z", source="intent"))
    lock.nvidia = nvidia.NvidiaLayer(
        runfile=GOOD.name,
        url=GOOD.url(DOWNLOAD_BASE),
        sha256=layer_sha,
        md5=GOOD.md5,
        size=GOOD.size,
        driver_version=GOOD.driver,
        cuda_version=GOOD.cuda,
        mirror_url=mirror,
    )
    return lock


def test_recorded_sha256_is_reused_without_downloading(tmp_path: Path, served: FileServer) -> None:
    recorded = hashlib.sha256(DATA).hexdigest()
    mirror = f"s3://bucket/sha256/{recorded}"
    ctx = make_ctx(tmp_path, INTENT.format(cuda="99.1.0"), previous=_previous(recorded, mirror))
    layer = nvidia.resolve(ctx, TEST_CATALOG)
    assert layer.sha256 == recorded and layer.mirror_url == mirror
    assert served.state.requests == []


def test_refresh_recomputes_and_refuses_a_changed_sha256(tmp_path: Path, served: FileServer) -> None:
    ctx = make_ctx(tmp_path, INTENT.format(cuda="99.1.0"), previous=_previous("f" * 64), refresh=["nvidia"])
    with pytest.raises(VerificationError, match="differs from the f{64} the lock recorded"):
        nvidia.resolve(ctx, TEST_CATALOG)
    assert len(served.state.requests) == 1
    ctx = make_ctx(
        tmp_path, INTENT.format(cuda="99.1.0"), previous=_previous(hashlib.sha256(DATA).hexdigest()), refresh=["nvidia"]
    )
    assert nvidia.resolve(ctx, TEST_CATALOG).sha256 == hashlib.sha256(DATA).hexdigest()


def test_https_mirror_in_the_intent_is_where_the_bytes_come_from(
    tmp_path: Path, served: FileServer, file_server: FileServer
) -> None:
    file_server.state.files["/internal/nvidia/" + GOOD.name] = DATA
    mirror = f"{file_server.base_url}/internal/nvidia/"
    text = f'[nvidia]\ncuda = "99.1.0"\nmirror = "{mirror}"\n'
    layer = nvidia.resolve(make_ctx(tmp_path, text), TEST_CATALOG)
    assert layer.mirror_url == mirror + GOOD.name
    assert [p for p, _ in served.state.requests] == ["/internal/nvidia/" + GOOD.name]


# --- intent errors: one line naming file, key, and what was expected -------------------


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        (
            '[nvidia]\ncuda = "12.7.0"\n',
            "nvidia.cuda",
            "no runfile for CUDA 12.7.0 in the catalog; nearest: 12.6.2, 12.6.3, 12.8.0, 12.8.1",
        ),
        ('[nvidia]\ncuda = "12.7"\n', "nvidia.cuda", "no runfile for CUDA 12.7 in the catalog; nearest:"),
        (
            '[nvidia]\ndriver = "550.54.16"\n',
            "nvidia.driver",
            "no runfile in the catalog bundles driver 550.54.16; nearest: 550.54.14, 550.54.15, 555.42.02, 555.42.06",
        ),
        (
            '[nvidia]\ncuda = "12.4.1"\ndriver = "550.54.14"\n',
            "nvidia.driver",
            "CUDA 12.4.1's runfile bundles driver 550.54.15, not 550.54.14",
        ),
        ('[nvidia]\ncudaa = "12.4.1"\n', "nvidia.cudaa", "unknown key (did you mean 'cuda'?)"),
        ("[nvidia]\ncuda = 12.4\n", "nvidia.cuda", "expected a string, found float"),
        ('[nvidia]\ncuda = "twelve"\n', "nvidia.cuda", 'expected a CUDA version such as "12.4.1"'),
        ("[nvidia]\n", "nvidia", 'expected `cuda = "12.4.1"` or `driver = "550.54.15"`'),
        ('[nvidia]\ncuda = "12.4.1"\nmirror = "ftp://x/y"\n', "nvidia.mirror", "expected an s3:// or https:// URL"),
        (
            '[nvidia]\ncuda = "12.4.1"\ninstall-flags = ["--dkms; rm -rf /"]\n',
            "nvidia.install-flags[0]",
            "expected a runfile option",
        ),
    ],
)
def test_bad_intent_is_one_clear_line(tmp_path: Path, text: str, key: str, expected: str) -> None:
    assert_input_error(nvidia.resolve, make_ctx(tmp_path, text), key, expected)


@pytest.mark.parametrize(
    ("text", "cuda"),
    [
        ('[nvidia]\ncuda = "12.4.1"\n', "12.4.1"),
        ('[nvidia]\ncuda = "12.4"\n', "12.4.1"),
        ('[nvidia]\ndriver = "550.54.15"\n', "12.4.1"),
        ('[nvidia]\ndriver = "530.30.02"\n', "12.1.1"),  # bundled by 12.1.0 and 12.1.1: the newest
        ('[nvidia]\ncuda = "12.8"\n', "12.8.2"),
    ],
)
def test_intent_selects_one_catalog_runfile(tmp_path: Path, text: str, cuda: str) -> None:
    intent = nvidia.parse(make_ctx(tmp_path, text).intent.section("nvidia"), tmp_path)
    assert nvidia.select(intent, tmp_path).cuda == cuda


def test_catalog_covers_12_1_to_12_8_and_holds_the_seed_runfile() -> None:
    minors = {tuple(v.split(".")[:2]) for v in CATALOG}
    assert minors == {("12", m) for m in ("1", "2", "3", "4", "5", "6", "8")}
    for version, entry in CATALOG.items():
        assert entry.cuda == version
        assert len(entry.md5) == 32 and int(entry.md5, 16) >= 0
        assert 4_000_000_000 < entry.size < 6_000_000_000
        assert entry.sha256 is None or (len(entry.sha256) == 64 and int(entry.sha256, 16) >= 0)
    assert [v for v, e in CATALOG.items() if e.sha256 is None] == ["12.8.2"]
    seed = CATALOG["12.4.1"]
    assert seed.name == "cuda_12.4.1_550.54.15_linux.run"
    assert seed.url() == (
        "https://developer.download.nvidia.com/compute/cuda/12.4.1/local_installers/cuda_12.4.1_550.54.15_linux.run"
    )
    assert (seed.md5, seed.size) == ("afc99bab1d8c6579395d851d948ca3c1", 4454730420)
    assert seed.sha256 == "367d2299b3a4588ab487a6d27276ca5d9ead6e394904f18bccb9e12433b9c4fb"


def test_progress_bar_draws_only_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    quiet, loud = io.StringIO(), Tty()
    for stream in (quiet, loud):
        bar = http.Progress("cuda.run", 1000, stream=stream)
        bar._drawn = -1.0
        bar.advance(500)
        bar.close()
    assert quiet.getvalue() == ""
    assert "cuda.run" in loud.getvalue() and "50.0%" in loud.getvalue()
