"""The models layer's findings: files the intent asks for that the lock does not pin by sha256."""

from __future__ import annotations

import pytest
from findings_support import seed_intent, seed_lock, subjects

from imagelock.domains.models import findings as model_findings

GTE = "Alibaba-NLP/gte-modernbert-base"
TINY = "cross-encoder/ms-marco-TinyBERT-L2-v2"


def test_every_file_the_seed_asks_for_is_pinned() -> None:
    assert model_findings.findings(seed_lock(), seed_intent()) == []


def test_a_file_asked_for_and_not_pinned_is_named_with_its_fix() -> None:
    intent = seed_intent(('files = ["tokenizer.json"]', 'files = ["tokenizer.json", "model.safetensors"]'))
    [finding] = model_findings.findings(seed_lock(), intent)
    assert (finding.kind, finding.subject) == ("not verified", f"models {TINY}")
    assert finding.what == (
        "the intent asks for model.safetensors in /workspace/models/ms-marco-TinyBERT-L2-v2, "
        "and the lock pins no file matching it by sha256 at 81d1926f67cb"
    )
    assert finding.fix.startswith("run `lock update --refresh models`")


@pytest.mark.parametrize(
    ("patterns", "unpinned"),
    [
        ('["*.json"]', []),
        ('["*.json", "*.safetensors"]', ["*.safetensors"]),
        ('["tokenizer*", "onnx/*"]', ["onnx/*"]),
    ],
)
def test_patterns_are_matched_against_the_pinned_files(patterns: str, unpinned: list[str]) -> None:
    intent = seed_intent(('files = ["tokenizer.json"]', f"files = {patterns}"))
    found = model_findings.findings(seed_lock(), intent)
    assert [f.what.split(" in ")[0].removeprefix("the intent asks for ") for f in found] == (
        [", ".join(unpinned)] if unpinned else []
    )


def test_a_file_without_a_valid_sha256_is_not_pinned() -> None:
    lock = seed_lock()
    lock.models[1].files[0].sha256 = ""
    assert subjects(model_findings.findings(lock, seed_intent())) == [f"not verified: models {TINY}"]


def test_a_model_the_lock_holds_nothing_of_is_named() -> None:
    lock = seed_lock()
    lock.models = lock.models[1:]
    [finding] = model_findings.findings(lock, seed_intent())
    assert finding.subject == f"models {GTE}"
    assert finding.what.endswith("and the lock pins none of its files")
