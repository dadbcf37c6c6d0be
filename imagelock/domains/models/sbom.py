"""The models layer's SBOM rows: one `pkg:huggingface/<org>/<name>@<commit>` per model, its files as parts.

A file locked without a hash (the Hub gave none when the lock was written) has no hash here either."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from imagelock.lock.component import Component, Purl
from imagelock.lock.model import Model
from imagelock.net.upstreams import HUB_ENDPOINT


def purl(model: Model, file_name: str | None = None) -> Purl:
    namespace, _, name = model.repo.rpartition("/")
    qualifiers = (("file_name", file_name),) if file_name else ()
    return Purl("huggingface", name, namespace or None, model.commit, qualifiers)


def components(layer: list[Model], url: Callable[[str, str, str], str]) -> Iterator[Component]:
    """`url(repo, commit, path)`: the Hub's resolve URL of one file (imagelock.domains.models.file_url)."""
    for model in layer:
        files = tuple(
            Component(
                kind="file",
                name=f"{model.repo}/{f.path}",
                version=model.commit,
                purl=purl(model, f.path),
                sha256=f.sha256,
                urls=(url(model.repo, model.commit, f.path),),
                properties=(("imagelock:dest", f"{model.dest.rstrip('/')}/{f.path}"),),
            )
            for f in model.files
        )
        yield Component(
            kind="machine-learning-model",
            name=model.repo,
            version=model.commit,
            purl=purl(model),
            urls=(f"{HUB_ENDPOINT.rstrip('/')}/{model.repo}/tree/{model.commit}",),
            properties=(("imagelock:revision", model.revision), ("imagelock:dest", model.dest)),
            parts=files,
        )
