"""The artifact domains through `update()`: a whole lock written, or on bad input nothing written at all."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagelock import domains
from imagelock.commands.update import update
from imagelock.domains.models import layer as models
from imagelock.domains.nvidia import catalog as nvidia_catalog
from imagelock.domains.nvidia import layer as nvidia
from imagelock.errors import EXIT_ERROR, ImagelockError, InputError, VerificationError

from .conftest import FileServer, MotoServer
from .hf_lookalike import HubLookalike
from .test_models import QWEN, SECRET
from .test_models import SEED as MODELS
from .test_nvidia import DATA, GOOD, TEST_CATALOG

INTENT = f"""
name = "seed"

[universe]
cutoff = "2025-01-15T00:00:00Z"

[nvidia]
cuda = "99.1.0"

[base]
image = "ubuntu 22.04"
regions = ["us-east-1", "us-west-2"]
{MODELS}
"""


@pytest.fixture
def world(
    file_server: FileServer, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FileServer, HubLookalike]]:
    for entry in TEST_CATALOG.values():
        file_server.state.files[f"/{entry.cuda}/local_installers/{entry.name}"] = DATA
    monkeypatch.setattr(nvidia_catalog, "CATALOG", TEST_CATALOG)
    monkeypatch.setenv(nvidia.BASE_URL_ENV, file_server.base_url)
    with HubLookalike() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        yield file_server, hub


def test_the_seed_domains_lock_together(
    tmp_path: Path, world: tuple[FileServer, HubLookalike], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", SECRET)
    intent = tmp_path / "seed.toml"
    intent.write_text(INTENT)
    result = update(intent)
    assert result.written
    text = result.path.read_text()
    assert SECRET not in text
    lock, digest = domains.read_lock(result.path)
    assert digest == lock.digest()
    assert lock.nvidia is not None and lock.nvidia.sha256 == hashlib.sha256(DATA).hexdigest()
    assert {m.repo: m.commit for m in lock.models}["Qwen/Qwen3-4B-AWQ"] == QWEN
    assert lock.base is not None and [a.region for a in lock.base.amis] == ["us-east-1", "us-west-2"]
    assert len(models.manifest(lock)) == 12

    # a second update asks nobody: every recorded answer stands
    file_server, hub = world
    file_server.state.requests.clear()
    hub.state.requests.clear()
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    again = update(intent)
    assert not again.changed and file_server.state.requests == [] and hub.state.requests == []


BROKEN = {
    "unknown CUDA": (
        INTENT.replace('cuda = "99.1.0"', 'cuda = "99.9.0"'),
        InputError,
        "nvidia.cuda",
        "no runfile for CUDA 99.9.0 in the catalog; nearest: 99.3.0, 99.4.0",
    ),
    "md5 mismatch": (
        INTENT.replace('cuda = "99.1.0"', 'cuda = "99.2.0"'),
        VerificationError,
        None,
        f"md5 {GOOD.md5}, NVIDIA publishes {'0' * 32}",
    ),
    "pattern matching nothing": (
        INTENT.replace('"model.safetensors", "config.json"', '"*.gguf", "config.json"'),
        InputError,
        "models[2].files[0]",
        "'*.gguf' matches no file in Qwen/Qwen3-4B-AWQ",
    ),
    "revision not found": (
        INTENT.replace('revision = "main"\nfiles = ["model', 'revision = "v0"\nfiles = ["model'),
        InputError,
        "models[2].revision",
        "revision 'v0' not found in Qwen/Qwen3-4B-AWQ",
    ),
    "gated repo without token": (
        INTENT + '\n[[models]]\nrepo = "imagelock-test/gated-model"\nfiles = ["*"]\ndest = "/m/g"\n',
        InputError,
        "models[3].repo",
        "is gated",
    ),
    "bad AMI spec": (
        INTENT.replace('image = "ubuntu 22.04"', 'image = "ami-xyz"'),
        InputError,
        "base.image",
        "expected an AMI id such as",
    ),
    "no AMI before the cutoff": (
        INTENT.replace("2025-01-15", "2023-01-15"),
        InputError,
        "base.image",
        "created before 2023-01-15T00:00:00Z in us-east-1",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
@pytest.mark.parametrize("existing", [False, True])
def test_bad_input_writes_nothing(
    tmp_path: Path, world: tuple[FileServer, HubLookalike], case: str, existing: bool
) -> None:
    text, error_type, key, expected = BROKEN[case]
    intent = tmp_path / "seed.toml"
    lock_path = tmp_path / "seed.lock"
    if existing:
        intent.write_text(INTENT)
        update(intent)
    before = lock_path.read_bytes() if existing else None
    intent.write_text(text)
    with pytest.raises(ImagelockError) as caught:
        update(intent)
    error = caught.value
    assert type(error) is error_type and error.exit_code == EXIT_ERROR
    assert expected in str(error) and "\n" not in str(error)
    if key is not None:
        assert isinstance(error, InputError) and error.key == key and error.path == str(intent)
    if existing:
        assert lock_path.read_bytes() == before
    else:
        assert not lock_path.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".seed.lock")] == []


def test_an_update_after_lock_mirror_keeps_the_mirror(
    tmp_path: Path, world: tuple[FileServer, HubLookalike], moto_server: MotoServer
) -> None:
    import boto3

    from imagelock.commands.mirror import artifacts, run_mirror

    intent = tmp_path / "seed.toml"
    # the Qwen weights' LFS bytes are stand-ins the look-alike cannot serve: mirror the rest
    intent.write_text(
        INTENT.replace(
            '"model.safetensors", "config.json", "tokenizer.json", "README.md"', '"config.json", "README.md"'
        )
    )
    result = update(intent)
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="mirror-bucket")
    summary = run_mirror(result.path, "s3://mirror-bucket/img", jobs=4)
    assert summary.exit_code == 0, summary.lines()
    mirrored = result.path.read_bytes()
    lock, _ = domains.read_lock(result.path)
    assert lock.mirror is not None and len(summary.uploaded) == len(artifacts(lock))
    again = update(intent)
    assert not again.changed and result.path.read_bytes() == mirrored
