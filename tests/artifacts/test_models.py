"""The models domain against a Hub look-alike that the real huggingface_hub client talks to."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagelock import domains
from imagelock.domains.models import layer as models
from imagelock.errors import InputError, VerificationError
from imagelock.lock import codec as lockfile
from imagelock.lock.model import Lock, Universe

from .conftest import assert_input_error, make_ctx
from .hf_lookalike import FIXTURES, HubLookalike

GTE = "e7f32e3c00f91d699e8c43b53106206bcc72bb22"
TINYBERT = "81d1926f67cb8eee2c2be17ca9f793c7c3bd20cc"
QWEN = "136f16ffdca9c9e49527391169e042634b9ad0d6"
SECRET = "hf_imagelockTESTtoken0123456789abcdefXYZ"

SEED = """
[[models]]
repo = "Alibaba-NLP/gte-modernbert-base"
revision = "main"
files = ["config.json", "tokenizer.json", "README.md", "tokenizer_config.json", "special_tokens_map.json"]
dest = "/workspace/models/gte-modernbert-base"

[[models]]
repo = "cross-encoder/ms-marco-TinyBERT-L2-v2"
files = ["config.json", "tokenizer.json", "README.md"]
dest = "/workspace/models/ms-marco-TinyBERT-L2-v2"

[[models]]
repo = "Qwen/Qwen3-4B-AWQ"
revision = "main"
files = ["model.safetensors", "config.json", "tokenizer.json", "README.md"]
dest = "/workspace/models/qwen/Qwen3-4B-AWQ"
"""


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubLookalike]:
    with HubLookalike() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


def _body(repo: str, name: str) -> bytes:
    return (FIXTURES / "files" / repo.replace("/", "--") / name).read_bytes()


def _lock_with(found: list[models.Model]) -> Lock:
    lock = Lock(name="seed", intent_sha256="0" * 64, universe=Universe(cutoff="2025-01-15T00:00:00Z", source="intent"))
    lock.models = found
    return lock


def test_seed_models_lock_at_their_commits_with_per_file_hashes(tmp_path: Path, hub: HubLookalike) -> None:
    found = models.resolve(make_ctx(tmp_path, SEED))
    assert [(m.repo, m.revision, m.commit) for m in found] == [
        ("Alibaba-NLP/gte-modernbert-base", "main", GTE),
        ("cross-encoder/ms-marco-TinyBERT-L2-v2", "main", TINYBERT),
        ("Qwen/Qwen3-4B-AWQ", "main", QWEN),
    ]
    qwen = {f.path: f for f in found[2].files}
    assert sorted(qwen) == ["README.md", "config.json", "model.safetensors", "tokenizer.json"]
    # LFS files: the sha256 and size the API gives, nothing downloaded
    assert qwen["model.safetensors"].lfs and qwen["model.safetensors"].size == 2_600_000_000
    assert (
        qwen["model.safetensors"].sha256 == hashlib.sha256(b"stand-in Qwen/Qwen3-4B-AWQ model.safetensors").hexdigest()
    )
    # other files: fetched at the commit, checked against size and blob id, hashed
    config = _body("Qwen/Qwen3-4B-AWQ", "config.json")
    assert (qwen["config.json"].sha256, qwen["config.json"].size, qwen["config.json"].lfs) == (
        hashlib.sha256(config).hexdigest(),
        len(config),
        False,
    )
    fetched = [r.path for r in hub.state.requests if "/resolve/" in r.path]
    assert len(fetched) == 5 + 3 + 2 and not any("model.safetensors" in p for p in fetched)
    assert all(any(f"/resolve/{c}/" in p for c in (GTE, TINYBERT, QWEN)) for p in fetched)  # by commit, not "main"


def test_manifest_is_derived_from_the_lock_alone(tmp_path: Path, hub: HubLookalike) -> None:
    lock = _lock_with(models.resolve(make_ctx(tmp_path, SEED)))
    reread, _ = domains.loads_lock(lockfile.dumps(lock), "seed.lock")
    rows = models.manifest(reread)
    assert len(rows) == 12
    assert set(rows[0]) == {"repo", "path", "sha256", "size", "hf_revision"}
    qwen = [r for r in rows if r["repo"] == "Qwen/Qwen3-4B-AWQ"]
    assert {r["hf_revision"] for r in qwen} == {QWEN}
    assert [r["path"] for r in qwen] == ["README.md", "config.json", "model.safetensors", "tokenizer.json"]


def test_globs_select_files_and_a_commit_revision_is_accepted(tmp_path: Path, hub: HubLookalike) -> None:
    text = f'[[models]]\nrepo = "Qwen/Qwen3-4B-AWQ"\nrevision = "{QWEN}"\nfiles = ["*.json"]\ndest = "/m/q"\n'
    (found,) = models.resolve(make_ctx(tmp_path, text))
    assert found.commit == QWEN and found.revision == QWEN
    assert [f.path for f in found.files] == [
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.json",
    ]


def test_previous_lock_is_reused_without_asking_the_hub(tmp_path: Path, hub: HubLookalike) -> None:
    first = models.resolve(make_ctx(tmp_path, SEED))
    hub.state.requests.clear()
    again = models.resolve(make_ctx(tmp_path, SEED, previous=_lock_with(first)))
    assert again == first and hub.state.requests == []
    models.resolve(make_ctx(tmp_path, SEED, previous=_lock_with(first), refresh=["models"]))
    assert hub.state.requests


def test_bytes_that_do_not_match_the_listed_blob_are_refused(tmp_path: Path, hub: HubLookalike) -> None:
    listed = _body("Qwen/Qwen3-4B-AWQ", "config.json")
    hub.state.tampered[("Qwen/Qwen3-4B-AWQ", "config.json")] = listed.replace(b"stand-in", b"STAND-IN")
    text = '[[models]]\nrepo = "Qwen/Qwen3-4B-AWQ"\nfiles = ["config.json"]\ndest = "/m/q"\n'
    with pytest.raises(
        VerificationError,
        match=r"config.json at 136f16ffdca9: git blob id [0-9a-f]{40}, the Hub "
        r"lists [0-9a-f]{40}",
    ):
        models.resolve(make_ctx(tmp_path, text))


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        (
            '[[models]]\nrepo = "Qwen/Qwen3-4B-AWQ"\nfiles = ["config.json", "*.gguf"]\ndest = "/m/q"\n',
            "models[0].files[1]",
            "'*.gguf' matches no file in Qwen/Qwen3-4B-AWQ at 136f16ffdca9; files there: LICENSE,",
        ),
        (
            '[[models]]\nrepo = "Qwen/Qwen3-4B-AWQ"\nrevision = "v9.9"\nfiles = ["config.json"]\ndest = "/m/q"\n',
            "models[0].revision",
            "revision 'v9.9' not found in Qwen/Qwen3-4B-AWQ",
        ),
        (
            '[[models]]\nrepo = "Qwen/Qwen3-4B-AWQQ"\nfiles = ["config.json"]\ndest = "/m/q"\n',
            "models[0].repo",
            "Qwen/Qwen3-4B-AWQQ not found on http://127.0.0.1:",
        ),
        (
            '[[models]]\nrepo = "imagelock-test/gated-model"\nfiles = ["config.json"]\ndest = "/m/g"\n',
            "models[0].repo",
            "imagelock-test/gated-model is gated: accept its terms on the Hub, then set HF_TOKEN",
        ),
        (
            '[[models]]\nrepo = "Qwen"\nfiles = ["config.json"]\ndest = "/m/q"\n',
            "models[0].repo",
            "expected a Hub repo id such as \"Qwen/Qwen3-4B-AWQ\", found 'Qwen'",
        ),
        (
            '[[models]]\nrepo = "Qwen/Qwen3-4B-AWQ"\nfiles = []\ndest = "/m/q"\n',
            "models[0].files",
            "expected a non-empty array",
        ),
        (
            '[[models]]\nrepo = "Qwen/Qwen3-4B-AWQ"\nfiles = ["../x"]\ndest = "/m/q"\n',
            "models[0].files[0]",
            "expected a path inside the repo",
        ),
        (
            '[[models]]\nrepo = "Qwen/Qwen3-4B-AWQ"\nfiles = ["config.json"]\ndest = "models/q"\n',
            "models[0].dest",
            "expected an absolute path",
        ),
        (
            '[[models]]\nrepo = "Qwen/Qwen3-4B-AWQ"\nfile = ["config.json"]\ndest = "/m/q"\n',
            "models[0].file",
            "unknown key (did you mean 'files'?)",
        ),
        ('[models]\nrepo = "Qwen/Qwen3-4B-AWQ"\n', "models", "expected an array of tables ([[models]])"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path: Path, hub: HubLookalike, text: str, key: str, expected: str) -> None:
    assert_input_error(models.resolve, make_ctx(tmp_path, text), key, expected)


GATED = '[[models]]\nrepo = "imagelock-test/gated-model"\nfiles = ["*"]\ndest = "/m/g"\n'


def test_gated_repo_with_an_accepted_token_resolves(
    tmp_path: Path, hub: HubLookalike, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.state.accepted_tokens.add(SECRET)
    monkeypatch.setenv("HUGGINGFACE_HUB_TOKEN", SECRET)
    (found,) = models.resolve(make_ctx(tmp_path, GATED))
    assert [f.path for f in found.files] == ["config.json", "model.safetensors"]


def test_gated_repo_with_a_token_lacking_access_says_so(
    tmp_path: Path, hub: HubLookalike, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", SECRET)
    with pytest.raises(InputError, match="is gated and the token in the environment has no access"):
        models.resolve(make_ctx(tmp_path, GATED))


def test_the_token_is_sent_to_the_hub_and_appears_nowhere_else(
    tmp_path: Path,
    hub: HubLookalike,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("HF_TOKEN", SECRET)
    hub.state.accepted_tokens.add(SECRET)
    texts: list[str] = []
    found = models.resolve(make_ctx(tmp_path, SEED + GATED))
    texts.append(lockfile.dumps(_lock_with(found)))
    for bad in (
        '[[models]]\nrepo = "Qwen/Qwen3-4B-AWQ"\nrevision = "nope"\nfiles = ["x"]\ndest = "/m/q"\n',
        '[[models]]\nrepo = "Qwen/Qwen3-4B-AWQ"\nfiles = ["*.gguf"]\ndest = "/m/q"\n',
        '[[models]]\nrepo = "no/such"\nfiles = ["x"]\ndest = "/m/q"\n',
    ):
        with pytest.raises(InputError) as caught:
            models.resolve(make_ctx(tmp_path, bad))
        texts += [str(caught.value), repr(caught.value)]
    hub.state.accepted_tokens.clear()
    with pytest.raises(InputError) as caught:
        models.resolve(make_ctx(tmp_path, GATED))
    texts += [str(caught.value), repr(caught.value)]
    out, err = capfd.readouterr()
    texts += [out, err, caplog.text, *(r.getMessage() for r in caplog.records)]
    assert all(SECRET not in t for t in texts)
    # and it was really used: in the Authorization header, never in a URL
    assert any(r.headers.get("Authorization") == f"Bearer {SECRET}" for r in hub.state.requests)
    assert all(SECRET not in r.path for r in hub.state.requests)
    assert all(SECRET.encode() not in body for body in hub.state.answered)
