"""The models domain: `[[models]]` -> Hugging Face repos at one commit, each file pinned by content."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from urllib.parse import quote, unquote

from imagelock.domains.contract import Domain
from imagelock.domains.models import findings, sbom
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
                item.sha256 or "",  # "": not hashed yet; the build measures it (imagelock.commands.learn)
                item.size,
                hub=True,
                moved_by=("HF_ENDPOINT", HUB_ENDPOINT),
                label=f"model file {model.repo}/{item.path}",
                unhashed=item.sha256 is None,
            )


def learn(layer: list[Model], measured: Mapping[str, tuple[str, int]]) -> tuple[list[Model], int]:
    """Each file held without a hash takes the sha256 and size a build measured at its resolve URL."""
    count, out = 0, []
    for model in layer:
        files = []
        for item in model.files:
            found = measured.get(unquote(file_url(model.repo, model.commit, item.path)))
            if item.sha256 is None and found is not None:
                item = replace(item, sha256=found[0], size=found[1])
                count += 1
            files.append(item)
        out.append(replace(model, files=files))
    return out, count


def items(layer: list[Model]) -> Iterator[Item]:
    for model in layer:
        pinned = model.commit[:12] if model.revision == model.commit else f"{model.revision}@{model.commit[:12]}"
        yield Item(model.repo, pinned)
        for f in model.files:
            if f.sha256 is None:
                yield Item(f"{model.repo}/{f.path}", "no hash")
            else:
                yield Item(f"{model.repo}/{f.path}", f.sha256[:12], f.sha256, f.size)


DOMAIN = Domain(
    name="models",
    layer=list[Model],
    parse=intent.parse,
    resolver="imagelock.domains.models.layer:resolve",
    summary=lambda layer: f"{sum(len(m.files) for m in layer)} model files",
    items=items,
    artifacts=artifacts,
    components=lambda layer: sbom.components(layer, file_url),
    findings=findings.findings,
    image_order=5,
    learn=learn,
    identity="repo",
)
