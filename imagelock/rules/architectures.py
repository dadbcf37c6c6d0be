"""Every model's config.json `architectures` is one the pinned vLLM can load.

vLLM picks the model class by the `architectures` entry of the model's
config.json, looked up in its registry (vllm/model_executor/models/registry.py,
the keys of `_VLLM_MODELS`); an architecture missing there fails at load time
("Model architectures [...] are not supported for now"). The registry's keys at
every release from 0.6.3 (the first with registry.py) to 0.9.2 were read from
each release's sdist on PyPI (URL and sha256 in
data/vllm_architectures.json; recorded by tools/record_vllm_architectures.py).
For example Qwen3ForCausalLM is absent at 0.8.3 and present at 0.8.4, the
release that first supports Qwen3 (vllm-project/vllm#15289).

For a vLLM version between recorded releases the answer is only certain when
the recorded releases on both sides agree; otherwise it is reported as not
checked rather than guessed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from importlib import resources

from packaging.version import Version

from imagelock.lock.model import Lock
from imagelock.rules import lockfacts
from imagelock.rules.report import Finding
from imagelock.rules.targets import Targets

SOURCE = "vllm/model_executor/models/registry.py (_VLLM_MODELS) in the vLLM release sdists on PyPI"


@cache
def registry() -> dict[Version, frozenset[str]]:
    """Recorded vLLM release -> the architectures its registry lists."""
    text = resources.files("imagelock.rules").joinpath("data/vllm_architectures.json").read_text()
    releases = json.loads(text)["releases"]
    return {Version(v): frozenset(r["architectures"]) for v, r in releases.items()}


def supported(vllm: Version, architecture: str) -> bool | None:
    """True/False when the recorded releases decide it, None when they cannot."""
    table = registry()
    if vllm in table:
        return architecture in table[vllm]
    older = [v for v in table if v < vllm]
    newer = [v for v in table if v > vllm]
    if older and architecture in table[max(older)] and newer and architecture in table[min(newer)]:
        return True
    if newer and architecture not in table[min(newer)] and older and architecture not in table[max(older)]:
        return False
    return None


def first_supporting(architecture: str) -> Version | None:
    """The oldest recorded release whose registry lists the architecture."""
    found = [v for v, names in registry().items() if architecture in names]
    return min(found) if found else None


WEIGHTS = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


def check(lock: Lock, targets: Targets) -> Iterator[Finding]:
    vllm = lockfacts.package(lock, "vllm")
    if vllm is None:
        return
    version = lockfacts.public(vllm.version)
    if version is None:
        return
    for model in lock.models:
        if not any(f.path.endswith(WEIGHTS) for f in model.files):
            continue  # tokenizer or config files alone: nothing vLLM could load
        if not model.architectures:
            yield Finding(
                "model-architecture",
                f"{model.repo} on vllm {vllm.version}",
                [
                    f"{model.repo}@{model.commit[:12] or model.revision}: no config.json locked, so its "
                    "architecture is unknown (lock config.json to have it checked)"
                ],
                source=SOURCE,
                unchecked=True,
            )
        for architecture in model.architectures:
            verdict = supported(version, architecture)
            if verdict is None:
                recorded = ", ".join(str(v) for v in sorted(registry()))
                yield Finding(
                    "model-architecture",
                    f"{model.repo} on vllm {vllm.version}",
                    [f"the registries recorded ({recorded}) do not decide {architecture} for vllm {vllm.version}"],
                    source=SOURCE,
                    unchecked=True,
                )
            elif not verdict:
                first = first_supporting(architecture)
                yield Finding(
                    "model-architecture",
                    f"{model.repo} on vllm {vllm.version}",
                    [
                        f"{model.repo}@{model.commit[:12] or model.revision} config.json architectures: {architecture}",
                        f"vllm {vllm.version}'s model registry has no {architecture}",
                    ],
                    fix=(
                        f"require vllm>={first} (the first recorded release that lists {architecture}; "
                        "it may pin another torch)"
                        if first and first > version
                        else f"drop {model.repo} or use a model whose architecture vllm {vllm.version} lists"
                    ),
                    source=SOURCE,
                )
