"""`lock mirror` against moto's S3 server, with upstreams served on loopback."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from imagelock import domains
from imagelock.commands.mirror import artifacts, run_mirror
from imagelock.domains.models import layer as models
from imagelock.domains.nvidia import layer as nvidia
from imagelock.errors import EXIT_ERROR, InputError
from imagelock.lock import codec as lockfile
from imagelock.lock.model import (
    AptLayer,
    AptPackage,
    AptSource,
    Lock,
    PythonLayer,
    PythonPackage,
    Universe,
    Wheel,
)
from imagelock.net import http

from .conftest import FileServer, MotoServer, make_ctx
from .hf_lookalike import HubLookalike
from .test_nvidia import DATA as RUNFILE_DATA
from .test_nvidia import GOOD, TEST_CATALOG

WHEEL = b"PK\x03\x04 a stand-in wheel " * 300
DEB = b"!<arch>\n a stand-in deb " * 500
BUCKET = "internal-artifacts"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def upstreams(file_server: FileServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[FileServer]:
    file_server.state.files[f"/99.1.0/local_installers/{GOOD.name}"] = RUNFILE_DATA
    file_server.state.files["/whl/demo-1.0-py3-none-any.whl"] = WHEEL
    file_server.state.files["/ubuntu/20240415T000000Z/pool/main/h/hello/hello_2.10-2_amd64.deb"] = DEB
    monkeypatch.setenv(nvidia.BASE_URL_ENV, file_server.base_url)
    with HubLookalike() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        yield file_server


@pytest.fixture
def lock_path(tmp_path: Path, upstreams: FileServer) -> Path:
    base = upstreams.base_url
    lock = Lock(name="seed", intent_sha256="0" * 64, universe=Universe(cutoff="2025-01-15T00:00:00Z", source="intent"))
    lock.nvidia = nvidia.resolve(make_ctx(tmp_path, '[nvidia]\ncuda = "99.1.0"\n'), TEST_CATALOG)
    lock.python = PythonLayer(
        version="3.11",
        platform="x86_64-manylinux_2_35",
        venv="/opt/venvs/ai",
        engine="uv",
        packages=[
            PythonPackage(
                name="demo",
                version="1.0",
                index="pypi",
                requested=True,
                wheel=Wheel(
                    filename="demo-1.0-py3-none-any.whl",
                    url=f"{base}/whl/demo-1.0-py3-none-any.whl",
                    sha256=_sha(WHEEL),
                    size=len(WHEEL),
                ),
            )
        ],
    )
    lock.apt = AptLayer(
        archive=f"{base}/ubuntu",
        keyring_sha256="0" * 64,
        snapshot="20240415T000000Z",
        sources=[
            AptSource(
                suite="jammy",
                uri=f"{base}/ubuntu/20240415T000000Z",
                components=["main"],
                architectures=["amd64"],
                inrelease_sha256="0" * 64,
            )
        ],
        packages=[
            AptPackage(
                name="hello",
                version="2.10-2",
                arch="amd64",
                filename="pool/main/h/hello/hello_2.10-2_amd64.deb",
                sha256=_sha(DEB),
                size=len(DEB),
                suite="jammy",
            )
        ],
    )
    lock.models = models.resolve(
        make_ctx(
            tmp_path, '[[models]]\nrepo = "Qwen/Qwen3-4B-AWQ"\nfiles = ["config.json", "README.md"]\ndest = "/m/q"\n'
        )
    )
    path = tmp_path / "seed.lock"
    path.write_text(lockfile.dumps(lock))
    return path


def _s3():
    return boto3.client("s3", region_name="us-east-1")


def _bucket_contents() -> dict[str, bytes]:
    s3 = _s3()
    listing = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listing}


def test_mirror_fills_a_partly_filled_bucket_and_records_itself(
    lock_path: Path, moto_server: MotoServer, upstreams: FileServer
) -> None:
    s3 = _s3()
    s3.create_bucket(Bucket=BUCKET)
    # already there, as `lock mirror` leaves it: skipped
    s3.put_object(Bucket=BUCKET, Key=f"prefix/sha256/{_sha(WHEEL)}", Body=WHEEL, Metadata={"sha256": _sha(WHEEL)})
    # there but wrong (a truncated earlier upload): replaced
    s3.put_object(Bucket=BUCKET, Key=f"prefix/sha256/{_sha(DEB)}", Body=DEB[:100], Metadata={"sha256": _sha(DEB)})

    summary = run_mirror(lock_path, f"s3://{BUCKET}/prefix/", jobs=3)
    assert summary.exit_code == 0 and summary.failed == [] and summary.lock_written
    assert [a.kind for a in summary.skipped] == ["wheel"]
    assert sorted(a.kind for a in summary.uploaded) == ["deb", "model", "model", "nvidia"]
    assert summary.skipped_bytes == len(WHEEL)
    assert summary.uploaded_bytes == len(DEB) + len(RUNFILE_DATA) + sum(
        f.size for m in domains.read_lock(lock_path)[0].models for f in m.files
    )
    assert summary.lines()[0].startswith(f"mirror s3://{BUCKET}/prefix: 4 uploaded (")
    assert ", 1 already there (" in summary.lines()[0]

    # every artifact the build downloads is in the bucket, under its sha256, with the right bytes
    contents = _bucket_contents()
    lock, _ = domains.read_lock(lock_path)
    assert sorted(contents) == sorted(f"prefix/sha256/{a.sha256}" for a in artifacts(lock))
    assert all(_sha(body) == key.rsplit("/", 1)[-1] for key, body in contents.items())
    # and the lock says where
    assert lock.mirror is not None and lock.mirror.url == f"s3://{BUCKET}/prefix"
    assert lock.nvidia is not None
    assert lock.nvidia.mirror_url == f"s3://{BUCKET}/prefix/sha256/{_sha(RUNFILE_DATA)}"


def test_a_second_run_moves_nothing(lock_path: Path, moto_server: MotoServer, upstreams: FileServer) -> None:
    _s3().create_bucket(Bucket=BUCKET)
    first = run_mirror(lock_path, f"s3://{BUCKET}/p", jobs=2)
    # what the resolvers fetched (the runfile once, the model files) came from the cache, not upstream again
    fetched = [path for path, _ in upstreams.state.requests]
    assert sorted(fetched) == [
        f"/99.1.0/local_installers/{GOOD.name}",
        "/ubuntu/20240415T000000Z/pool/main/h/hello/hello_2.10-2_amd64.deb",
        "/whl/demo-1.0-py3-none-any.whl",
    ]
    assert len(first.uploaded) == 5
    written = lock_path.read_bytes()
    upstreams.state.requests.clear()
    http.cache_dir().joinpath("blobs").rename(http.cache_dir() / "gone")  # and nothing cached locally
    again = run_mirror(lock_path, f"s3://{BUCKET}/p", jobs=2)
    assert again.uploaded == [] and len(again.skipped) == 5 and again.uploaded_bytes == 0
    assert upstreams.state.requests == []
    assert lock_path.read_bytes() == written


def test_bytes_that_do_not_match_the_lock_are_never_uploaded(
    lock_path: Path, moto_server: MotoServer, upstreams: FileServer
) -> None:
    _s3().create_bucket(Bucket=BUCKET)
    upstreams.state.files["/whl/demo-1.0-py3-none-any.whl"] = WHEEL[:-1] + b"!"
    before = lock_path.read_bytes()
    summary = run_mirror(lock_path, f"s3://{BUCKET}/p", jobs=4)
    assert summary.exit_code == EXIT_ERROR and not summary.lock_written
    ((failed, reason),) = summary.failed
    assert failed.kind == "wheel" and f"the lock records {_sha(WHEEL)}" in reason
    assert f"p/sha256/{_sha(WHEEL)}" not in _bucket_contents()
    assert len(summary.uploaded) == 4  # the others still went up
    assert lock_path.read_bytes() == before
    assert "the lock was not changed" in summary.lines()[-1]


def test_a_mirrored_runfile_is_fetched_from_s3_by_the_nvidia_resolver(
    tmp_path: Path, lock_path: Path, moto_server: MotoServer, upstreams: FileServer
) -> None:
    _s3().create_bucket(Bucket=BUCKET)
    run_mirror(lock_path, f"s3://{BUCKET}/p")
    http.cache_dir().joinpath("blobs").rename(http.cache_dir() / "gone")
    upstreams.state.requests.clear()
    text = f'[nvidia]\ncuda = "99.1.0"\nmirror = "s3://{BUCKET}/p/sha256/{_sha(RUNFILE_DATA)}"\n'
    layer = nvidia.resolve(make_ctx(tmp_path, text), TEST_CATALOG)
    assert layer.sha256 == _sha(RUNFILE_DATA) and layer.mirror_url.startswith("s3://")
    assert upstreams.state.requests == []  # NVIDIA (here its look-alike) was not asked


@pytest.mark.parametrize(
    ("to", "jobs", "key"),
    [
        ("ftp://bucket/x", 4, "--to"),
        ("https://h/x?q=1", 4, "--to"),
        (f"s3://{BUCKET}/p", 0, "--jobs"),
        (f"s3://{BUCKET}/p", 65, "--jobs"),
    ],
)
def test_bad_arguments_are_one_line_and_touch_nothing(lock_path: Path, to: str, jobs: int, key: str) -> None:
    before = lock_path.read_bytes()
    with pytest.raises(InputError) as caught:
        run_mirror(lock_path, to, jobs)
    assert caught.value.key == key and caught.value.exit_code == EXIT_ERROR
    assert lock_path.read_bytes() == before


def test_a_missing_bucket_is_one_line_before_any_work(
    lock_path: Path, moto_server: MotoServer, upstreams: FileServer
) -> None:
    before = lock_path.read_bytes()
    upstreams.state.requests.clear()
    with pytest.raises(InputError) as caught:
        run_mirror(lock_path, "s3://no-such-bucket/p")
    assert str(caught.value) == "--to: bucket no-such-bucket does not exist (create it first)"
    assert upstreams.state.requests == [] and lock_path.read_bytes() == before


def test_the_mirror_command_fills_the_bucket_and_prints_the_summary(
    lock_path: Path, moto_server: MotoServer, upstreams: FileServer, lock_cli
) -> None:
    _s3().create_bucket(Bucket=BUCKET)
    run = lock_cli("mirror", str(lock_path), "--to", f"s3://{BUCKET}/cli", "--jobs", "2")
    assert run.code == 0, run.err
    assert run.out.startswith(f"mirror s3://{BUCKET}/cli: 5 uploaded (")
    assert domains.read_lock(lock_path)[0].mirror.url == f"s3://{BUCKET}/cli"
    run = lock_cli("mirror", str(lock_path), "--to", f"s3://{BUCKET}/cli", "--json")
    assert run.code == 0 and '"uploaded": 0' in run.out and '"skipped": 5' in run.out


def test_a_registry_target_keeps_no_files_and_names_each_one(lock_path: Path, upstreams: FileServer, lock_cli) -> None:
    """`--to docker://…` is for container images: a lock's files are each reported, none fetched, exit 2."""
    before = lock_path.read_bytes()
    upstreams.state.requests.clear()
    run = lock_cli("mirror", str(lock_path), "--to", "docker://127.0.0.1:9/cache")
    assert run.code == 2, run.err
    failed = [line for line in run.out.splitlines() if line.startswith("  failed ")]
    assert len(failed) == 5 and all(
        line.endswith(
            "docker://127.0.0.1:9/cache keeps container images only; mirror files to s3://, http(s):// or a directory"
        )
        for line in failed
    ), run.out
    assert "  5 files not mirrored: a registry keeps container images only" in run.out
    assert upstreams.state.requests == [] and lock_path.read_bytes() == before
