"""The models domain: `[[models]]` -> Hugging Face repos at one commit, each file pinned by content."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from imagelock.domains.contract import Domain
from imagelock.domains.models import findings
from imagelock.intent import models as intent
from imagelock.lock.artifact import Artifact
from imagelock.lock.diff import Item
from imagelock.lock.model import Model
from imagelock.net.upstreams import HUB_ENDPOINT


def file_url(repo: str, commit: str, name: str, base: str | None = None) -> str:
    """The Hub's resolve URL for one file at one commit."""
    return f"{(base or HUB_ENDPOINT).rstrip('/')}/{repo}/resolve/{commit}/{quote(name)}"


def artifacts(layer: list[Model]) -> Iterator[Artifact]:
    for model in layer:
        for item in model.files:
            yield Artifact(
                "model",
                f"{model.repo}/{item.path}",
                (file_url(model.repo, model.commit, item.path),),
                item.sha256,
                item.size,
                hub=True,
                moved_by=("HF_ENDPOINT", HUB_ENDPOINT),
                label=f"model file {model.repo}/{item.path}",
            )


def items(layer: list[Model]) -> Iterator[Item]:
    for model in layer:
        pinned = model.commit[:12] if model.revision == model.commit else f"{model.revision}@{model.commit[:12]}"
        yield Item(model.repo, pinned)
        for f in model.files:
            yield Item(f"{model.repo}/{f.path}", f.sha256[:12], f.sha256, f.size)


DOMAIN = Domain(
    name="models",
    layer=list[Model],
    parse=intent.parse,
    resolver="imagelock.domains.models.layer:resolve",
    summary=lambda layer: f"{sum(len(m.files) for m in layer)} model files",
    items=items,
    artifacts=artifacts,
    findings=findings.findings,
    image_order=5,
)
