"""The models domain: intent `[[models]]` -> lock `[[models]]`, each file pinned by content at one commit.

    [[models]]
    repo = "Qwen/Qwen3-4B-AWQ"
    revision = "main"                     # branch, tag or commit; default "main"
    files = ["model.safetensors", "*.json"]
    dest = "/workspace/models/qwen/Qwen3-4B-AWQ"

The revision is resolved to its commit through the Hub API (`huggingface_hub`,
`HF_ENDPOINT` honoured). Per file the lock records path, size and sha256: the
LFS sha256 from the API for files in LFS; for the others the bytes are fetched at
the commit, checked against the git blob id and size the API gives, and hashed.

A token from `HF_TOKEN` or `HUGGINGFACE_HUB_TOKEN` is sent to the Hub and to
nothing else; it is never written to the lock, a log or an error message.

The run's upstreams say which Hub to ask: the Hub itself, or a stand-in that
serves a recording on loopback, to which no token is sent and where a repo the
recording lacks is an input error. The lock records commits and hashes only,
never the endpoint.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from pathlib import Path
from typing import Any

from imagelock.domains.context import UpdateContext
from imagelock.domains.models import file_url
from imagelock.errors import InputError, UpstreamError, VerificationError
from imagelock.hashing import git_blob_id, is_sha256, sha256_bytes
from imagelock.intent.models import ModelIntent, parse
from imagelock.lock.model import Lock, Model, ModelFile
from imagelock.net import http
from imagelock.net.upstreams import HubAccess

DEFAULT_ENDPOINT = "https://huggingface.co"
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def _api(hub: HubAccess) -> Any:
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.endpoint, token=hub.token or False)  # False: never a token from ~/.cache


def _hub_error(exc: Exception, model: ModelIntent, path: Path, hub: HubAccess) -> Exception:
    """The Hub's answer as one line naming the intent key; built from facts, never from the request."""
    from huggingface_hub.utils import (  # where every release since 0.2x exports them
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where, repo = model.where, model.repo
    if isinstance(exc, GatedRepoError):
        if hub.stand_in:
            return _gated_at_stand_in(model, path, hub)
        if hub.token is None:
            return InputError(
                path,
                f"{where}.repo",
                f"{repo} is gated: accept its terms on the Hub, then set "
                "HF_TOKEN (or HUGGINGFACE_HUB_TOKEN) to a token of that account",
            )
        return InputError(
            path,
            f"{where}.repo",
            f"{repo} is gated and the token in the environment has no "
            "access to it: accept its terms on the Hub with that account",
        )
    if isinstance(exc, RevisionNotFoundError):
        return InputError(
            path,
            f"{where}.revision",
            f"revision {model.revision!r} not found in {repo}: expected a branch, tag or commit of that repo",
        )
    if isinstance(exc, RepositoryNotFoundError) and hub.stand_in:
        return InputError(path, f"{where}.repo", f"{hub.stand_in} has no recording of {repo} ({hub.missing_note})")
    if isinstance(exc, RepositoryNotFoundError):
        hint = "" if hub.token else " (if it is private, set HF_TOKEN)"
        return InputError(path, f"{where}.repo", f"{repo} not found on {hub.endpoint}{hint}")
    if isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "no answer"
        return UpstreamError(f"Hugging Face Hub {hub.name}: {repo}: HTTP {status}")
    return UpstreamError(f"Hugging Face Hub {hub.name}: {repo}: unreachable ({type(exc).__name__})")


def _gated_at_stand_in(model: ModelIntent, path: Path, hub: HubAccess) -> InputError:
    return InputError(path, f"{model.where}.repo", f"{model.repo} is gated, and {hub.gated_note}")


def _match(patterns: list[str], names: list[str], model: ModelIntent, commit: str, path: Path) -> list[str]:
    chosen: set[str] = set()
    for j, pattern in enumerate(patterns):
        hits = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not hits:
            listing = ", ".join(sorted(names)[:12]) + (", ..." if len(names) > 12 else "")
            raise InputError(
                path,
                f"{model.where}.files[{j}]",
                f"{pattern!r} matches no file in {model.repo} at {commit[:12]}; files there: {listing}",
            )
        chosen.update(hits)
    return sorted(chosen)


def _fetch_small(hub: HubAccess, repo: str, commit: str, sibling: Any, learned: ModelFile | None) -> ModelFile:
    """A file outside LFS: fetch it at the commit, check blob id and size, hash it.

    A stand-in (a recording) may list a file whose bytes it does not hold. Then the file is locked
    without a hash, or with the one an earlier `lock update --learn` recorded for this commit: the
    build measures it, and `lock check` says it is not verified. The Hub itself always holds the bytes
    it lists, so there a missing file is an error.
    """
    headers = {"Authorization": f"Bearer {hub.token}"} if hub.token else None
    try:
        data = http.get_bytes(file_url(repo, commit, sibling.rfilename, hub.endpoint), headers=headers, what=f"{repo}:")
    except UpstreamError as exc:
        if hub.stand_in and exc.status == 404:
            return learned or ModelFile(path=sibling.rfilename)
        raise
    if sibling.size is not None and len(data) != sibling.size:
        raise VerificationError(
            f"{repo}/{sibling.rfilename} at {commit[:12]}: {len(data)} bytes arrived, the Hub lists {sibling.size}"
        )
    if sibling.blob_id and git_blob_id(data) != sibling.blob_id:
        raise VerificationError(
            f"{repo}/{sibling.rfilename} at {commit[:12]}: git blob id "
            f"{git_blob_id(data)}, the Hub lists {sibling.blob_id}"
        )
    sha256 = sha256_bytes(data)
    _keep(sha256, data)
    return ModelFile(path=sibling.rfilename, sha256=sha256, size=len(data), lfs=False)


def _keep(sha256: str, data: bytes) -> None:
    """Keep verified bytes in the content-addressed cache, where `lock mirror` looks first."""
    blob = http.blob_path(sha256)
    if blob.exists():
        return
    blob.parent.mkdir(parents=True, exist_ok=True)
    tmp = blob.with_name(f".{sha256}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, blob)


def resolve_one(model: ModelIntent, path: Path, hub: HubAccess, learned: dict[tuple[str, str], ModelFile]) -> Model:
    """`learned`: (commit, path) -> a file the previous lock pins, for files the upstream cannot hash."""
    api = _api(hub)
    try:
        info = api.model_info(model.repo, revision=model.revision, files_metadata=True)
        gated = bool(getattr(info, "gated", False))
        if gated and hub.token is not None:
            api.auth_check(model.repo)  # the metadata is public; the files need an accepted token
    except Exception as exc:  # noqa: BLE001 - every Hub failure becomes one line
        raise _hub_error(exc, model, path, hub) from None
    if gated and hub.stand_in:
        raise _gated_at_stand_in(model, path, hub)
    if gated and hub.token is None:
        raise InputError(
            path,
            f"{model.where}.repo",
            f"{model.repo} is gated: accept its terms on the Hub, "
            "then set HF_TOKEN (or HUGGINGFACE_HUB_TOKEN) to a token of that account",
        )
    commit = info.sha
    if not commit or not _COMMIT.match(commit):
        raise UpstreamError(f"Hugging Face Hub {hub.name}: {model.repo}: no commit sha for {model.revision!r}")
    if _COMMIT.match(model.revision) and commit != model.revision:
        raise UpstreamError(
            f"Hugging Face Hub {hub.name}: {model.repo}: asked for commit {model.revision}, answered {commit}"
        )
    siblings = {s.rfilename: s for s in info.siblings or []}
    files = []
    for name in _match(model.files, list(siblings), model, commit, path):
        sibling = siblings[name]
        if sibling.lfs is not None:
            sha256, size = sibling.lfs.sha256, sibling.lfs.size
            if not is_sha256(sha256) or not isinstance(size, int):
                raise UpstreamError(f"Hugging Face Hub {hub.name}: {model.repo}/{name}: malformed LFS entry")
            files.append(ModelFile(path=name, sha256=sha256, size=size, lfs=True))
        else:
            files.append(_fetch_small(hub, model.repo, commit, sibling, learned.get((commit, name))))
    return Model(
        repo=model.repo,
        revision=model.revision,
        commit=commit,
        dest=model.dest,
        files=files,
        original_files=list(model.files),
        architectures=_architectures(files),
    )


def _architectures(files: list[ModelFile]) -> list[str]:
    """config.json's `architectures` when config.json is among the locked files: what the
    compatibility rules match against the pinned vLLM's registry. Its verified bytes are in
    the content store (`_keep`); an LFS config.json is not fetched just for this."""
    config = next((f for f in files if f.path == "config.json" and not f.lfs), None)
    if config is None or config.sha256 is None:
        return []
    try:
        data = json.loads(http.blob_path(config.sha256).read_bytes())
    except (OSError, ValueError):
        return []
    names = data.get("architectures") if isinstance(data, dict) else None
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def _reusable(model: ModelIntent, previous: Lock | None) -> Model | None:
    for old in previous.models if previous else []:
        if (old.repo, old.revision, old.dest, old.original_files) == (
            model.repo,
            model.revision,
            model.dest,
            model.files,
        ):
            return old
    return None


def resolve(ctx: UpdateContext) -> list[Model]:
    path = ctx.intent.path
    intents = parse(ctx.intent.section("models"), path)
    moving = ctx.upgrade or "models" in ctx.refresh
    hub = ctx.upstreams.hub((ctx.intent.path, "models"))  # asked even when every model is kept
    out = []
    for model in intents:
        kept = None if moving else _reusable(model, ctx.previous)
        out.append(kept if kept is not None else resolve_one(model, path, hub, _learned(model, ctx.previous)))
    return out


def _learned(model: ModelIntent, previous: Lock | None) -> dict[tuple[str, str], ModelFile]:
    """The files of this repo the previous lock pins by hash, by (commit, path): a file is its commit's
    forever, so a hash learned from a build stays true when the model is resolved again."""
    return {
        (old.commit, item.path): item
        for old in (previous.models if previous else [])
        if old.repo == model.repo
        for item in old.files
        if item.hashed
    }


def manifest(lock: Lock) -> list[dict[str, Any]]:
    """The seed's `models-manifest.json` rows, derived from the lock alone."""
    rows = []
    for model in sorted(lock.models, key=lambda m: (m.repo, m.dest)):
        for item in sorted(model.files, key=lambda f: f.path):
            rows.append(
                {
                    "repo": model.repo,
                    "path": item.path,
                    "sha256": item.sha256,
                    "size": item.size,
                    "hf_revision": model.commit,
                }
            )
    return rows
