"""End to end: a model file the lock holds without a hash is measured by the build, learned into the lock
with `lock update --learn`, and verified by every build after that (Nix's fixed-output hash report).

The lock comes from the seed's recording, which lists TinyBERT's config.json by name only. A loopback
server stands in for the Hub at build time (HF_ENDPOINT) and serves that file's bytes; the generated
bootstrap.sh runs in a Debian root filesystem (chroot).
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import shutil
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import gen_rootfs as rootfs
import pytest
from imagelock_testing import tree_digest

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "snapshots" / "seed"
REPO = "cross-encoder/ms-marco-TinyBERT-L2-v2"
COMMIT = "81d1926f67cb8eee2c2be17ca9f793c7c3bd20cc"
TOKENIZER = (SEED / "hf" / "files" / "cross-encoder--ms-marco-TinyBERT-L2-v2" / "tokenizer.json").read_bytes()
CONFIG = b'{"architectures": ["BertForSequenceClassification"], "model_type": "bert"}\n'
INTENT = f"""name = "learn"

[universe]
cutoff = "2025-05-01T00:00:00Z"

[[models]]
repo = "{REPO}"
revision = "{COMMIT}"
files = ["tokenizer.json", "config.json"]
dest = "/workspace/models/tinybert"
"""

pytestmark = pytest.mark.e2e


class _Hub(http.server.BaseHTTPRequestHandler):
    """GET /<repo>/resolve/<commit>/<path> from a dict: the Hub's file route, and nothing else."""

    def __init__(self, *args: object, files: dict[str, bytes], **kwargs: object) -> None:
        self.files = files
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        body = self.files.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")


@contextmanager
def hub(files: dict[str, bytes]) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Hub, files=files))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _files(lock: Path) -> dict[str, tuple[str | None, int | None]]:
    [model] = tomllib.loads(lock.read_text())["models"]
    return {f["path"]: (f.get("sha256"), f.get("size")) for f in model["files"]}


def _generate(lock_cli, lock: Path, root: Path, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    assert lock_cli("generate", str(lock), "-o", str(out)).code == 0
    shutil.rmtree(root / "tmp" / "imagelock", ignore_errors=True)
    shutil.copytree(out, root / "tmp" / "imagelock")


def test_a_file_without_a_hash_is_measured_learned_and_then_verified(tmp_path: Path, lock_cli, monkeypatch) -> None:
    intent = tmp_path / "learn.toml"
    intent.write_text(INTENT)
    lock = intent.with_suffix(".lock")
    assert lock_cli("update", str(intent), "--replay", str(SEED)).code == 0
    tokenizer_sha = hashlib.sha256(TOKENIZER).hexdigest()
    assert _files(lock) == {"tokenizer.json": (tokenizer_sha, len(TOKENIZER)), "config.json": (None, None)}
    check = lock_cli("check", str(intent))
    assert (
        check.code == 0 and f"not verified: model files without a hash: 1 model file ({REPO}/config.json)" in check.out
    )

    root = rootfs.unpack(tmp_path / "root")
    generated = tmp_path / "generated"
    _generate(lock_cli, lock, root, generated)
    served = {f"/{REPO}/resolve/{COMMIT}/tokenizer.json": TOKENIZER, f"/{REPO}/resolve/{COMMIT}/config.json": CONFIG}
    with hub(served) as endpoint:
        # `lock mirror` keys files by sha256: one without a hash is not copied, and the summary says so.
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        mirrored = lock_cli("mirror", str(lock), "--to", str(tmp_path / "mirror"))
        assert mirrored.code == 0, mirrored.err
        assert (
            f"  not mirrored: 1 files the lock holds without a hash ({REPO}/config.json): a build measures them"
            in mirrored.out
        )
        assert [p.name for p in (tmp_path / "mirror" / "sha256").iterdir()] == [tokenizer_sha]
        refused = rootfs.run(
            root, "bash", "/tmp/imagelock/bootstrap.sh", env={"HF_ENDPOINT": endpoint, "IMAGELOCK_REQUIRE_HASHES": "1"}
        )
        assert refused.returncode == 1
        assert f"model file {REPO}/config.json@{COMMIT}: the lock has no hash for it" in refused.stderr
        assert not (root / "workspace" / "models" / "tinybert" / "config.json").exists()

        built = rootfs.run(root, "bash", "/tmp/imagelock/bootstrap.sh", env={"HF_ENDPOINT": endpoint})
    assert built.returncode == 0, built.stderr
    config_sha = hashlib.sha256(CONFIG).hexdigest()
    assert (
        f"NOT VERIFIED: the lock has no hash for it; measured sha256 {config_sha} ({len(CONFIG)} bytes)" in built.stderr
    )
    measured_path = root / "var" / "lib" / "imagelock" / "measured.json"
    measured = json.loads(measured_path.read_text())
    # The key is the lock's own upstream address (the Hub), not the stand-in the build was pointed at.
    assert measured["measured"] == [
        {
            "url": f"https://huggingface.co/{REPO}/resolve/{COMMIT}/config.json",
            "sha256": config_sha,
            "size": len(CONFIG),
        }
    ]
    copied = tmp_path / "measured.json"
    shutil.copy(measured_path, copied)

    learned = lock_cli("update", str(intent), "--learn", str(copied), "--replay", str(SEED))
    assert learned.code == 0, learned.err
    assert "learned the hash of 1 file(s)" in learned.out
    assert _files(lock)["config.json"] == (config_sha, len(CONFIG))
    check = lock_cli("check", "--strict", str(intent))
    assert check.code == 0, check.out
    # Resolving again from the recording, which still has no bytes for it, keeps the learned hash.
    before = lock.read_bytes()
    assert lock_cli("update", str(intent), "--refresh", "models", "--replay", str(SEED)).code == 0
    assert lock.read_bytes() == before
    again = lock_cli("update", str(intent), "--learn", str(copied), "--replay", str(SEED))
    assert again.code == 0 and "learned nothing" in again.out and lock.read_bytes() == before

    # From now on the build verifies it: other bytes at the same address stop the run.
    _generate(lock_cli, lock, root, generated)
    (root / "workspace" / "models" / "tinybert" / "config.json").unlink()
    served[f"/{REPO}/resolve/{COMMIT}/config.json"] = CONFIG.replace(b"bert", b"BERT")
    with hub(served) as endpoint:
        tampered = rootfs.run(root, "bash", "/tmp/imagelock/bootstrap.sh", env={"HF_ENDPOINT": endpoint})
    assert tampered.returncode == 1
    assert f"model file {REPO}/config.json@{COMMIT}: sha256 mismatch" in tampered.stderr


@pytest.mark.parametrize(
    ("measured", "key", "expected"),
    [
        ("{", None, "not valid JSON (Expecting property name enclosed in double quotes at line 1)"),
        ("[]", "measured", "expected an array of {url, sha256, size}"),
        (
            '{"measured": [{"url": "file:///etc/passwd", "sha256": "00", "size": 1}]}',
            "measured[0].url",
            "expected the http(s) URL",
        ),
        (
            '{"measured": [{"url": "https://h/x", "sha256": "00", "size": 1}]}',
            "measured[0].sha256",
            "expected 64 lowercase hex digits",
        ),
        (
            '{"measured": [{"url": "https://h/x", "sha256": "' + "0" * 64 + '", "size": -1}]}',
            "measured[0].size",
            "expected a size in bytes, found -1",
        ),
        (
            '{"measured": [{"url": "https://huggingface.co/'
            + REPO
            + "/resolve/"
            + COMMIT
            + '/tokenizer.json", "sha256": "'
            + "0" * 64
            + '", "size": 1}]}',
            None,
            f"model file {REPO}/tokenizer.json: measured sha256 {'0' * 64}, the lock pins",
        ),
    ],
)
def test_a_bad_measured_file_is_one_line_and_writes_nothing(
    tmp_path: Path, lock_cli, measured: str, key: str | None, expected: str
) -> None:
    intent = tmp_path / "learn.toml"
    intent.write_text(INTENT)
    assert lock_cli("update", str(intent), "--replay", str(SEED)).code == 0
    source = tmp_path / "measured.json"
    source.write_text(measured)
    before = tree_digest(tmp_path)
    run = lock_cli("update", str(intent), "--learn", str(source), "--replay", str(SEED))
    assert run.code == 2
    [line] = run.err.splitlines()
    assert line.startswith(f"lock: error: {source}: {key + ': ' if key else ''}")
    assert expected in line
    assert tree_digest(tmp_path) == before
