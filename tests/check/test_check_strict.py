"""`lock check --strict`: exit 1 on any finding, 0 without; a fresh lock with findings still exits 0 without it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from findings_support import seed_lock
from imagelock_testing import tree_digest

from imagelock import domains
from imagelock.build import findings as build_findings
from imagelock.lock import codec
from imagelock.lock.model import Lock, Universe

INTENT = """name = "tiny"

[universe]
cutoff = "2025-05-01T00:00:00Z"

[[models]]
repo = "cross-encoder/ms-marco-TinyBERT-L2-v2"
revision = "81d1926f67cb8eee2c2be17ca9f793c7c3bd20cc"
files = [FILES]
dest = "/workspace/models/ms-marco-TinyBERT-L2-v2"
"""


def _tiny(folder: Path, files: str) -> Path:
    """An intent baking TinyBERT's tokenizer, and its fresh lock (the seed's entry for it)."""
    intent_path = folder / "tiny.toml"
    intent_path.write_text(INTENT.replace("FILES", files))
    intent = domains.read_intent(intent_path)
    tinybert = seed_lock().models[1]
    tinybert.files = [f for f in tinybert.files if f.path == "tokenizer.json"]  # the one the seed hashes
    lock = Lock(
        name="tiny",
        intent_sha256=intent.sha256,
        universe=Universe("2025-05-01T00:00:00Z", "intent"),
        layers={"models": [tinybert]},
    )
    (folder / "tiny.lock").write_text(codec.dumps(lock))
    return intent_path


def test_a_lock_without_findings_passes_strict(tmp_path: Path, lock_cli) -> None:
    intent = _tiny(tmp_path, '"tokenizer.json"')
    run = lock_cli("check", "--strict", str(intent), "--json")
    data = json.loads(run.out)
    assert (run.code, data["ok"], data["findings"], data["problems"]) == (0, True, [], [])


def test_a_finding_fails_only_under_strict(tmp_path: Path, lock_cli) -> None:
    intent = _tiny(tmp_path, '"tokenizer.json", "pytorch_model.bin"')
    plain = lock_cli("check", str(intent))
    strict = lock_cli("check", "--strict", str(intent))
    assert (plain.code, strict.code) == (0, 1)
    lock = tmp_path / "tiny.lock"
    assert strict.out.splitlines() == [
        f"{lock}: fresh (image {domains.read_lock(lock)[0].image_name()})",
        f"{lock}: not verified: models cross-encoder/ms-marco-TinyBERT-L2-v2: the intent asks for pytorch_model.bin "
        "in /workspace/models/ms-marco-TinyBERT-L2-v2, and the lock holds no file matching it at "
        "81d1926f67cb; fix: run `lock update --refresh models` where the Hub (or a recording of these files) "
        "answers, so the lock records each file's sha256",
    ]


def test_a_stale_lock_fails_with_or_without_strict_and_still_lists_findings(tmp_path: Path, lock_cli) -> None:
    intent = _tiny(tmp_path, '"tokenizer.json", "pytorch_model.bin"')
    intent.write_text(intent.read_text().replace('name = "tiny"', 'name = "tiny"\n# edited'))
    intent.write_text(intent.read_text().replace("/workspace/models/ms-marco", "/srv/models/ms-marco"))
    run = lock_cli("check", str(intent))
    assert run.code == 1
    assert "stale:" in run.out.splitlines()[0]
    assert any(": not verified: models cross-encoder/" in line for line in run.out.splitlines())


def test_an_unpinned_plugin_in_the_template_fails_strict(tmp_path: Path, lock_cli, monkeypatch) -> None:
    """The template is read as generated: a plugin without an exact version there is a finding."""
    intent = _tiny(tmp_path, '"tokenizer.json"')
    render = build_findings.generate.render_template

    def loose(*args: object) -> str:
        return render(*args).replace('version = "= ', 'version = ">= ')  # type: ignore[arg-type]

    monkeypatch.setattr(build_findings.generate, "render_template", loose)
    run = lock_cli("check", "--strict", str(intent))
    assert run.code == 1
    assert (
        f"{tmp_path / 'tiny.lock'}: not reproducible: packer plugin amazon (github.com/hashicorp/amazon): "
        "image.pkr.hcl declares it with version '>= 1.3.3'" in run.out
    )


def test_a_lock_that_generates_no_template_has_no_plugin_to_judge(tmp_path: Path, lock_cli) -> None:
    intent = _tiny(tmp_path, '"tokenizer.json"')
    lock_path = tmp_path / "tiny.lock"
    lock = domains.read_lock(lock_path)[0]
    lock.models[0].commit = "g" * 40  # no commit id: the Packer template refuses to tag the image with it
    lock_path.write_text(codec.dumps(lock))
    run = lock_cli("check", "--strict", str(intent), "--json")
    data = json.loads(run.out)
    assert (run.code, data["findings"], data["notes"]) == (0, [], [])
    assert lock_cli("generate", str(lock_path), "-o", str(tmp_path / "out")).code == 2  # generate says why


@pytest.mark.parametrize("argv", [("--strict", "--generated", "GEN"), ("--generated", "GEN", "--strict", "--json")])
def test_strict_without_the_intent_is_refused(tmp_path: Path, lock_cli, argv: tuple[str, ...]) -> None:
    generated = tmp_path / "gen"
    generated.mkdir()
    before = tree_digest(tmp_path)
    run = lock_cli("check", *(str(generated) if a == "GEN" else a for a in argv))
    message = "lock check: --strict needs the INTENT: findings compare the lock with its intent"
    assert run.code == 2
    if "--json" in argv:
        assert json.loads(run.out) == {"ok": False, "error": message}
    else:
        assert (run.out, run.err) == ("", f"lock: error: {message}\n")
    assert tree_digest(tmp_path) == before
