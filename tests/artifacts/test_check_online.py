"""`lock check --online`: every locked artifact asked of its sources (mirror first) over real HTTP and S3
servers on loopback; what is gone is listed with the `lock mirror` command, nothing is downloaded or written."""

from __future__ import annotations

from pathlib import Path

import boto3

from imagelock import domains
from imagelock.commands.mirror import artifacts, run_mirror
from imagelock.commands.online import check_online
from imagelock.domains.nvidia import layer as nvidia
from imagelock.lock import codec

from .conftest import FileServer, MotoServer
from .test_mirror import BUCKET, WHEEL, lock_path, upstreams  # noqa: F401 - the fixtures the mirror tests use

DEB_PATH = "/ubuntu/20240415T000000Z/pool/main/h/hello/hello_2.10-2_amd64.deb"


def test_every_artifact_still_served_is_a_yes(lock_path: Path, upstreams: FileServer, lock_cli) -> None:
    before = lock_path.read_bytes()
    run = lock_cli("check", "--lock", str(lock_path), "--online", "--jobs", "3")
    assert run.code == 0, run.out + run.err
    assert run.out.splitlines()[-1] == f"{lock_path}: online: all 5 artifacts are fetchable from at least one source"
    # the progress display is drawn on the process's stderr descriptor (test_progress.py), not in here
    assert "online:" not in run.err  # (the loopback file server logs its dropped connections there)
    # No body was sent: the file server refuses HEAD (501), so each probe is a one-byte ranged GET.
    assert all(asked == "bytes=0-0" for path, asked in upstreams.state.requests if path.startswith(("/whl", "/ubuntu")))
    assert lock_path.read_bytes() == before


def test_a_file_gone_from_its_source_is_a_no_with_the_mirror_command(
    lock_path: Path, upstreams: FileServer, lock_cli
) -> None:
    del upstreams.state.files[DEB_PATH]
    upstreams.state.files["/whl/demo-1.0-py3-none-any.whl"] += b"more"
    run = lock_cli("check", "--lock", str(lock_path), "--online")
    assert run.code == 1
    lines = run.out.splitlines()
    assert f"{lock_path}: online: 2 of 5 artifacts are gone from every source" in lines
    base = upstreams.base_url
    assert any(
        line.startswith(f"{lock_path}: gone: apt package hello 2.10-2 (amd64) (sha256 ")
        and line.endswith(f"{base}{DEB_PATH}: HTTP 404")
        for line in lines
    ), lines
    wheel = [line for line in lines if "python package demo" in line or "demo-1.0" in line]
    assert wheel and wheel[0].endswith(f"serves {len(WHEEL) + 4} bytes, the lock says {len(WHEEL)}"), wheel
    assert lines[-1].startswith(f"{lock_path}: fix: `lock mirror {lock_path} --to <s3://")


def test_the_mirror_is_asked_first_and_keeps_a_lock_alive(
    lock_path: Path, upstreams: FileServer, moto_server: MotoServer
) -> None:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
    assert run_mirror(lock_path, f"s3://{BUCKET}/m", jobs=2).exit_code == 0
    upstreams.state.files.clear()  # every upstream dropped every file
    upstreams.state.requests.clear()
    report = check_online(lock_path)
    assert report.gone == []
    assert {p.live for p in report.probes} == {
        f"s3://{BUCKET}/m/sha256/{a.sha256}" for a in artifacts(domains.read_lock(lock_path)[0])
    }
    assert upstreams.state.requests == []  # the mirror answered: no upstream was asked


def test_no_answer_from_anywhere_is_could_not_answer(
    tmp_path: Path, lock_path: Path, upstreams: FileServer, lock_cli, monkeypatch
) -> None:
    """Every source refuses the connection: that says nothing about the artifacts, so it is not a "no"."""
    host = upstreams.base_url.split("//", 1)[1]
    offline = tmp_path / "offline.lock"
    moved = lock_path.read_text().replace(host, "127.0.0.1:9")  # a port nothing listens on
    offline.write_text(codec.dumps(domains.loads_lock(moved, offline)[0]))  # digest recomputed
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the look-alikes the environment names, gone too
    monkeypatch.setenv(nvidia.BASE_URL_ENV, "http://127.0.0.1:9")
    run = lock_cli("check", "--lock", str(offline), "--online", "--mirror", "http://127.0.0.1:9/m")
    assert run.code == 2
    assert run.err.splitlines()[-1] == (
        f"lock: error: {offline}: online: no source answered at all (5 artifacts): is this machine offline? "
        "nothing can be said about the artifacts"
    )
