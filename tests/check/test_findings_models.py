"""The models layer's findings: files the intent asks for that the lock does not hold; and `lock check`'s
finding for the files it holds without a hash."""

from __future__ import annotations

import pytest
from findings_support import SEED_INTENT, SEED_LOCK, seed_intent, seed_lock

from imagelock.commands import check
from imagelock.domains.models import findings as model_findings

GTE = "Alibaba-NLP/gte-modernbert-base"
TINY = "cross-encoder/ms-marco-TinyBERT-L2-v2"


def test_every_file_the_seed_asks_for_is_pinned() -> None:
    assert model_findings.findings(seed_lock(), seed_intent()) == []


def test_a_file_asked_for_and_not_pinned_is_named_with_its_fix() -> None:
    intent = seed_intent(
        ('files = ["config.json", "tokenizer.json", "README.md"]', 'files = ["tokenizer.json", "model.safetensors"]')
    )
    [finding] = model_findings.findings(seed_lock(), intent)
    assert (finding.kind, finding.subject) == ("not verified", f"models {TINY}")
    assert finding.what == (
        "the intent asks for model.safetensors in /workspace/models/ms-marco-TinyBERT-L2-v2, "
        "and the lock holds no file matching it at 81d1926f67cb"
    )
    assert finding.fix.startswith("run `lock update --refresh models`")


@pytest.mark.parametrize(
    ("patterns", "unpinned"),
    [
        ('["*.json"]', []),
        ('["*.json", "*.safetensors"]', ["*.safetensors"]),
        ('["tokenizer*", "onnx/*"]', ["onnx/*"]),
        ('["README.md", "*.bin"]', ["*.bin"]),
    ],
)
def test_patterns_are_matched_against_the_pinned_files(patterns: str, unpinned: list[str]) -> None:
    intent = seed_intent(('files = ["config.json", "tokenizer.json", "README.md"]', f"files = {patterns}"))
    found = model_findings.findings(seed_lock(), intent)
    assert [f.what.split(" in ")[0].removeprefix("the intent asks for ") for f in found] == (
        [", ".join(unpinned)] if unpinned else []
    )


def test_files_held_without_a_hash_are_one_finding_of_check(tmp_path) -> None:
    """The seed holds three model files without a hash (its recording lists them by name only)."""
    result = check.check(SEED_INTENT)
    [finding] = [f for f in result.findings if f.subject == "model files without a hash"]
    assert finding.kind == "not verified"
    assert finding.what.startswith(
        f"3 model files ({GTE}/README.md, {TINY}/README.md, {TINY}/config.json): the upstream could not give "
        "their hash when the lock was written"
    )
    assert "`lock update --learn measured.json`" in finding.fix
    assert result.ok


def test_a_malformed_sha256_is_a_problem_not_a_finding() -> None:
    lock = seed_lock()
    lock.models[1].files[0].sha256 = "abc"
    intent = seed_intent()
    assert [f for f in model_findings.findings(lock, intent)] == []
    problems = check._judge(intent, SEED_LOCK, lock, lock.digest()).problems
    assert any(p.startswith(f"unhashed: model file {TINY}/") and "has no valid sha256" in p for p in problems)


def test_a_model_the_lock_holds_nothing_of_is_named() -> None:
    lock = seed_lock()
    lock.models = lock.models[1:]
    [finding] = model_findings.findings(lock, seed_intent())
    assert finding.subject == f"models {GTE}"
    assert finding.what.endswith("and the lock pins none of its files")
