"""How a variant's effective intent is made from the shared one (docs/variants.md), on the seed's intent:
a table merges one level, [base] is replaced whole, a changed section re-resolves what reads it, and each
variant's hash moves only with what that variant is made of."""

from __future__ import annotations

from pathlib import Path

from imagelock import domains

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "locks" / "seed.toml"  # read from its own folder, so its keyring path resolves

VARIANTS = """
[variants.flags]
[variants.flags.nvidia]
install-flags = ["--silent", "--driver"]

[variants.kernel]
[variants.kernel.kernel]
version = "5.15.0-106-generic"

[variants.cloud]
skip = ["python", "models:cross-encoder/ms-marco-TinyBERT-L2-v2"]
[variants.cloud.base]
owner = "898082745236"
name = "Deep Learning Base OSS Nvidia Driver GPU AMI (Amazon Linux 2023) *"
regions = ["us-east-1"]
"""


def _intent(extra: str = ""):
    return domains.loads_intent(SEED.read_text() + VARIANTS + extra, SEED)


def test_a_table_merges_one_level_and_base_is_replaced_whole() -> None:
    intent = _intent()
    flags = intent.variants["flags"]
    assert flags.intent.name == "seed-flags"
    assert flags.intent.raw["nvidia"] == {"cuda": "12.4.1", "install-flags": ["--silent", "--driver"]}
    assert flags.own == ("nvidia",)
    assert "nvidia" not in flags.take and flags.take["apt"] is None and flags.take["python"] is None
    cloud = intent.variants["cloud"]
    assert "image" not in cloud.intent.raw["base"]  # not merged: the shared AMI id would contradict owner + name
    assert cloud.intent.raw["base"]["regions"] == ["us-east-1"]
    assert "python" not in cloud.intent.sections and cloud.own == ("base",)
    assert cloud.take["models"] == ("Alibaba-NLP/gte-modernbert-base",)
    assert cloud.selectors == ["apt", "kernel", "models:Alibaba-NLP/gte-modernbert-base", "nvidia"]


def test_a_changed_kernel_resolves_the_apt_closure_that_reads_it_too() -> None:
    kernel = _intent().variants["kernel"]
    assert kernel.own == ("apt", "kernel")
    assert "apt" not in kernel.take and "kernel" not in kernel.take


def test_each_hash_moves_only_with_what_it_is_made_of() -> None:
    plain = domains.loads_intent(SEED.read_text(), SEED)
    one = _intent()
    two = _intent().variants["flags"]
    assert one.sha256 == plain.sha256  # the shared hash leaves [variants] out
    other = domains.loads_intent(SEED.read_text() + VARIANTS.replace("106", "107"), SEED)
    assert other.variants["kernel"].intent.sha256 != one.variants["kernel"].intent.sha256
    assert other.variants["flags"].intent.sha256 == two.intent.sha256 == one.variants["flags"].intent.sha256
    assert other.variants["cloud"].intent.sha256 == one.variants["cloud"].intent.sha256


def test_a_variant_may_add_a_section_the_shared_intent_lacks() -> None:
    intent = _intent(
        '\n[variants.pull]\ntake = ["base"]\n[[variants.pull.containers]]\nimage = "docker.io/library/busybox:1.36"\n'
    )
    pull = intent.variants["pull"]
    assert "containers" not in intent.sections
    assert pull.own == ("containers",) and pull.selectors == ["base"]
    assert [c.image for c in pull.resolving.sections["containers"]] == ["docker.io/library/busybox:1.36"]
    assert set(pull.intent.sections) == {"base", "containers"}
