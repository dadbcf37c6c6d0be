"""`lock update --replay`: the seed snapshot's recorded Hub answers the real huggingface_hub client.

The recording (snapshots/seed/hf) holds public facts only, so these tests pin
the exact values its README cites: a lock made from it must carry them
unchanged, and nothing loopback.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest
from imagelock_testing import SEED_SNAPSHOT, tree_digest

from imagelock.commands import update
from imagelock.errors import EXIT_ERROR, InputError
from imagelock.replay.server import ReplayServer, Snapshot, _Handler

GTE = "e7f32e3c00f91d699e8c43b53106206bcc72bb22"
TINYBERT = "81d1926f67cb8eee2c2be17ca9f793c7c3bd20cc"
QWEN = "74d4bd2bd4bff9cafc9345221320bffb08b406a3"
SECRET = "hf_imagelockREPLAYtoken0123456789abcdefXYZ"

HEAD = 'name = "models"\n\n[universe]\ncutoff = "2025-05-01T00:00:00Z"\n'
GTE_MODEL = f"""
[[models]]
repo = "Alibaba-NLP/gte-modernbert-base"
revision = "{GTE}"
files = ["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]
dest = "/workspace/models/gte-modernbert-base"
"""
QWEN_MODEL = f"""
[[models]]
repo = "Qwen/Qwen3-4B-AWQ"
revision = "{QWEN}"
files = ["model.safetensors", "config.json", "tokenizer.json"]
dest = "/workspace/models/qwen/Qwen3-4B-AWQ"
"""
UNRECORDED = """
[[models]]
repo = "Qwen/Qwen3-8B-AWQ"
revision = "main"
files = ["model.safetensors"]
dest = "/workspace/models/qwen/Qwen3-8B-AWQ"
"""


def _intent(folder: Path, *models: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "models.toml"
    path.write_text(HEAD + "".join(models))
    return path


def _files(lock_text: str) -> dict[str, tuple[str, list[tuple[str, str, int, bool]]]]:
    return {
        m["repo"]: (m["commit"], [(f["path"], f.get("sha256"), f.get("size"), f["lfs"]) for f in m["files"]])
        for m in tomllib.loads(lock_text)["models"]
    }


def _refused(lock_cli, intent: Path, snapshot: Path, key: str, message: str) -> None:
    """The update fails with exactly one line naming intent and key, exit 2, and no file changes."""
    before = tree_digest(intent.parent)
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert (run.code, run.err) == (EXIT_ERROR, f"lock: error: {intent}: {key}: {message}\n")
    assert tree_digest(intent.parent) == before


def test_the_seed_models_lock_offline_to_the_recorded_facts(
    tmp_path: Path, lock_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: asking it would fail
    monkeypatch.setenv("HF_TOKEN", SECRET)
    intent = _intent(tmp_path, GTE_MODEL, QWEN_MODEL)
    run = lock_cli("update", str(intent), "--replay", str(SEED_SNAPSHOT))
    assert run.code == 0, run.err
    text = intent.with_suffix(".lock").read_text()
    assert _files(text) == {
        "Alibaba-NLP/gte-modernbert-base": (
            GTE,
            [
                ("config.json", "8ba54dc3d35d7194f5178a4194b649f146753e02dabd22bdca5c5cbac15069ed", 1184, False),
                (
                    "special_tokens_map.json",
                    "ea97ecdbcc73713039d8d64dbb05e3689495c96657fbd9a18f5bed381be81049",
                    694,
                    False,
                ),
                ("tokenizer.json", "6c8aaa9a542084f2457eab775d4eeb51f92a70c0fd9de28d5edb0ddec3c08d30", 3583228, False),
                (
                    "tokenizer_config.json",
                    "9654072f7c873161814043cf08cb5ed72f71d0b935abcd4e267935cb34352c21",
                    20867,
                    False,
                ),
            ],
        ),
        "Qwen/Qwen3-4B-AWQ": (
            QWEN,
            [
                ("config.json", "cf74d40352c502483cca3a94fd8037dce0d7b31c21831f1721ff6ee360b50075", 904, False),
                (
                    "model.safetensors",
                    "a7043493ebd993f5fea18794ad7b5b3e064a52023f392a7fcce7ce0984c341f0",
                    2666027672,
                    True,
                ),
                ("tokenizer.json", "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4", 11422654, True),
            ],
        ),
    }
    assert "127.0.0.1" not in text and "/hf" not in text and SECRET not in text + run.out + run.err


def test_a_replay_sends_no_token_and_serves_lfs_pointer_blob_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import HfApi

    seen: list[dict[str, str]] = []

    class Watching(_Handler):
        def do_GET(self) -> None:  # noqa: N802
            seen.append(dict(self.headers))
            super().do_GET()

    monkeypatch.setenv("HF_TOKEN", SECRET)
    intent = _intent(tmp_path, GTE_MODEL, QWEN_MODEL)
    update.update(intent, replay=ReplayServer(Snapshot.open(SEED_SNAPSHOT), handler=Watching, port=0))
    assert seen and not any("Authorization" in headers for headers in seen)
    with ReplayServer(Snapshot.open(SEED_SNAPSHOT), port=0) as server:
        endpoint = server.hub_endpoint()
        assert endpoint is not None
        info = HfApi(endpoint=endpoint, token=False).model_info("Qwen/Qwen3-4B-AWQ", revision=QWEN, files_metadata=True)
    tokenizer = {s.rfilename: s for s in info.siblings or []}["tokenizer.json"]
    # the git id of the file's LFS pointer, as the Hub lists it (recorded publicly for Qwen3-8B's copy)
    assert tokenizer.blob_id == "cd71f61a15a522601badb3dc960d800d9cb3766c"


def test_a_branch_the_recording_lacks_is_the_resolvers_revision_not_found(tmp_path: Path, lock_cli) -> None:
    intent = _intent(tmp_path, QWEN_MODEL.replace(QWEN, "main"))
    _refused(
        lock_cli,
        intent,
        SEED_SNAPSHOT,
        "models[0].revision",
        "revision 'main' not found in Qwen/Qwen3-4B-AWQ: expected a branch, tag or commit of that repo",
    )


def test_an_unrecorded_repo_is_one_line_and_nothing_is_written(tmp_path: Path, lock_cli) -> None:
    intent = _intent(tmp_path, GTE_MODEL)
    assert lock_cli("update", str(intent), "--replay", str(SEED_SNAPSHOT)).code == 0
    intent.write_text(intent.read_text() + UNRECORDED)
    assert intent.with_suffix(".lock").exists()  # and it stays as it was
    _refused(
        lock_cli,
        intent,
        SEED_SNAPSHOT,
        "models[1].repo",
        "the replayed snapshot has no recording of "
        'Qwen/Qwen3-8B-AWQ (its snapshot.json lists the Hub recording under "hf")',
    )


def test_tinybert_locks_its_tokenizer_and_nothing_unrecorded(tmp_path: Path, lock_cli) -> None:
    """TinyBERT's tokenizer.json is recorded by its exact bytes; its config.json by name only, so it is
    locked without a hash; its weights not at all (see hf/README.md)."""
    model = f"""
[[models]]
repo = "cross-encoder/ms-marco-TinyBERT-L2-v2"
revision = "{TINYBERT}"
files = ["tokenizer.json"]
dest = "/workspace/models/ms-marco-TinyBERT-L2-v2"
"""
    intent = _intent(tmp_path, model)
    run = lock_cli("update", str(intent), "--replay", str(SEED_SNAPSHOT))
    assert run.code == 0, run.err
    assert _files(intent.with_suffix(".lock").read_text()) == {
        "cross-encoder/ms-marco-TinyBERT-L2-v2": (
            TINYBERT,
            [("tokenizer.json", "d241a60d5e8f04cc1b2b3e9ef7a4921b27bf526d9f6050ab90f9267a1f9e5c66", 711396, False)],
        )
    }
    intent.write_text(intent.read_text().replace('files = ["tokenizer.json"]', 'files = ["config.json"]'))
    run = lock_cli("update", str(intent), "--replay", str(SEED_SNAPSHOT))
    assert run.code == 0, run.err
    assert _files(intent.with_suffix(".lock").read_text()) == {
        "cross-encoder/ms-marco-TinyBERT-L2-v2": (TINYBERT, [("config.json", None, None, False)])
    }
    intent.write_text(intent.read_text().replace('files = ["config.json"]', 'files = ["model.safetensors"]'))
    before = intent.with_suffix(".lock").read_bytes()
    run = lock_cli("update", str(intent), "--replay", str(SEED_SNAPSHOT))
    assert run.code == EXIT_ERROR
    assert (
        f"models[0].files[0]: 'model.safetensors' matches no file in cross-encoder/ms-marco-TinyBERT-L2-v2 at "
        f"{TINYBERT[:12]}" in run.err
    )
    assert intent.with_suffix(".lock").read_bytes() == before


def test_a_snapshot_without_a_hub_recording_refuses_models(tmp_path: Path, lock_cli) -> None:
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    (snapshot / "snapshot.json").write_text(json.dumps({"indexes": {}}))
    intent = _intent(tmp_path / "work", GTE_MODEL)
    _refused(
        lock_cli,
        intent,
        snapshot,
        "models",
        'the Hugging Face Hub is not in the replayed snapshot (its snapshot.json has no "hf" entry naming one)',
    )


@pytest.mark.parametrize(
    ("change", "key", "expected"),
    [
        (
            lambda doc: doc["answer"]["siblings"].append({"rfilename": "LICENSE"}),
            "answer.siblings[5]",
            "LICENSE is not in LFS, so its bytes are expected under files/Alibaba-NLP--gte-modernbert-base/",
        ),
        (
            lambda doc: doc["answer"]["siblings"].append({"rfilename": "LICENSE", "_unrecorded": 1}),
            "answer.siblings[5]._unrecorded",
            "expected why the file's bytes are not recorded (and no lfs, no bytes)",
        ),
        (
            lambda doc: doc["answer"]["siblings"].append({"rfilename": "model.safetensors", "lfs": {"sha256": "ab"}}),
            "answer.siblings[5].lfs",
            "expected `sha256` (64 lowercase hex) and `size` (an integer)",
        ),
        (lambda doc: doc["refs"].update(main="e7f32e3c"), "refs", "expected a table of branch, tag or commit"),
        (
            lambda doc: doc["answer"].update(id="Alibaba-NLP/other"),
            "answer.id",
            "expected 'Alibaba-NLP/gte-modernbert-base'",
        ),
    ],
)
def test_a_broken_recording_is_one_line_naming_file_and_key(tmp_path: Path, change, key: str, expected: str) -> None:
    snapshot = tmp_path / "snapshot"
    shutil.copytree(SEED_SNAPSHOT / "hf", snapshot / "hf")
    (snapshot / "snapshot.json").write_text(json.dumps({"hf": "hf"}))
    recorded = snapshot / "hf" / "Alibaba-NLP--gte-modernbert-base.json"
    doc = json.loads(recorded.read_text())
    change(doc)
    recorded.write_text(json.dumps(doc))
    with pytest.raises(InputError) as caught:
        ReplayServer(Snapshot.open(snapshot), port=0)
    assert (caught.value.path, caught.value.key) == (str(recorded), key)
    assert expected in caught.value.message and "\n" not in str(caught.value)


def test_a_locked_config_json_gives_the_lock_its_architectures(tmp_path: Path, lock_cli) -> None:
    """What the vLLM-architecture rule matches: config.json's `architectures`, read from its verified bytes."""
    repo, commit = "example-org/tiny-causal-lm", "a" * 40
    config = b'{\n  "architectures": ["Qwen3ForCausalLM"],\n  "model_type": "qwen3"\n}\n'
    snapshot = tmp_path / "snapshot"
    (snapshot / "hf" / "files" / "example-org--tiny-causal-lm").mkdir(parents=True)
    (snapshot / "hf" / "files" / "example-org--tiny-causal-lm" / "config.json").write_bytes(config)
    (snapshot / "hf" / "example-org--tiny-causal-lm.json").write_text(
        json.dumps(
            {
                "refs": {commit: commit},
                "answer": {
                    "id": repo,
                    "sha": commit,
                    "siblings": [
                        {"rfilename": "config.json"},
                        {
                            "rfilename": "model.safetensors",
                            "lfs": {"sha256": "b" * 64, "size": 1234, "pointerSize": 132},
                        },
                    ],
                },
            }
        )
    )
    (snapshot / "snapshot.json").write_text(json.dumps({"hf": "hf"}))
    intent = tmp_path / "work" / "models.toml"
    intent.parent.mkdir()
    intent.write_text(
        HEAD + f'\n[[models]]\nrepo = "{repo}"\nrevision = "{commit}"\n'
        'files = ["config.json", "model.safetensors"]\ndest = "/workspace/models/tiny"\n'
    )
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 0, run.err
    [model] = tomllib.loads(intent.with_suffix(".lock").read_text())["models"]
    assert model["architectures"] == ["Qwen3ForCausalLM"]
    # without config.json among the locked files, the architecture is not known (and not fetched for it)
    intent.write_text(
        intent.read_text().replace('files = ["config.json", "model.safetensors"]', 'files = ["model.safetensors"]')
    )
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 0, run.err
    [model] = tomllib.loads(intent.with_suffix(".lock").read_text())["models"]
    assert "architectures" not in model
