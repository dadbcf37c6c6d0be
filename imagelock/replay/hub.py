"""Recorded Hugging Face Hub answers, served the way the Hub serves them.

The models resolver asks the Hub three things through `huggingface_hub` (and
one plain GET); a recording answers them from a directory, one file per repo:

  GET /api/models/<org>/<name>/revision/<rev>?blobs=true   model info at a revision
  GET /api/models/<org>/<name>/auth-check                   may the caller read the repo
  GET /<org>/<name>/resolve/<rev>/<path>                    a file's bytes

`<org>--<name>.json` holds `refs` (branch, tag or commit -> commit) and
`answer`, the model-info body trimmed to what the resolver reads. A file outside
LFS is served from its recorded bytes under `files/<org>--<name>/`, and its
`size` and `blobId` are computed from them; an LFS file is listed by its LFS
sha256 and size, and its `blobId` is the git id of its LFS pointer, as on the
Hub. A sibling marked `"_unrecorded": "<why>"` is listed by name only: nothing
about its content is known, so it is served with no size or blob id and its bytes
answer 404 (the models resolver then locks it without a hash). Errors carry the
Hub's status and `X-Error-Code`, so `huggingface_hub` raises its real exceptions
(RepositoryNotFoundError, RevisionNotFoundError, ...).

A replay sends no token, so it refuses a gated repo's files. The tests'
look-alike (tests/artifacts/hf_lookalike.py) builds accepted tokens, planted
bytes and a request log on top of this, so both serve with one copy of the logic.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from imagelock.errors import InputError
from imagelock.hashing import git_blob_id, is_sha256
from imagelock.untrusted import load_json, read_text

_COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass
class Reply:
    """One HTTP answer: status, body, and for errors the Hub's `X-Error-Code`."""

    status: int
    body: bytes
    content_type: str = "application/json"
    error_code: str | None = None


def error(status: int, code: str, message: str) -> Reply:
    return Reply(status, json.dumps({"error": message}).encode(), error_code=code)


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The Git LFS pointer file git stores for an LFS file: the Hub's `blobId` is its git id."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def _check_doc(doc: Any, path: Path, bodies: dict[str, bytes]) -> None:
    """A recording file is refused whole, with one line naming the key, before anything is served."""
    if not isinstance(doc, dict):
        raise InputError(path, None, "expected a table with `refs` and `answer`")
    refs = doc.get("refs")
    if not isinstance(refs, dict) or not all(isinstance(v, str) and _COMMIT.match(v) for v in refs.values()):
        raise InputError(path, "refs", "expected a table of branch, tag or commit -> 40-hex commit")
    answer = doc.get("answer")
    if not isinstance(answer, dict):
        raise InputError(path, "answer", "expected the model-info table")
    repo = path.stem.replace("--", "/", 1)
    if answer.get("id") != repo:
        raise InputError(path, "answer.id", f"expected {repo!r} (the file is named after the repo)")
    if not isinstance(answer.get("sha"), str) or not _COMMIT.match(answer["sha"]):
        raise InputError(path, "answer.sha", "expected a 40-hex commit")
    siblings = answer.get("siblings")
    if not isinstance(siblings, list):
        raise InputError(path, "answer.siblings", "expected an array of files")
    for i, sibling in enumerate(siblings):
        key = f"answer.siblings[{i}]"
        if not isinstance(sibling, dict) or not isinstance(sibling.get("rfilename"), str):
            raise InputError(path, key, "expected a table with `rfilename`")
        lfs = sibling.get("lfs")
        if "_unrecorded" in sibling:
            if not isinstance(sibling["_unrecorded"], str) or "lfs" in sibling or sibling["rfilename"] in bodies:
                raise InputError(
                    path, f"{key}._unrecorded", "expected why the file's bytes are not recorded (and no lfs, no bytes)"
                )
        elif lfs is None:
            if sibling["rfilename"] not in bodies:
                raise InputError(
                    path,
                    key,
                    f"{sibling['rfilename']} is not in LFS, so its bytes are expected "
                    f"under files/{path.stem}/ (size and blob id are computed from them)",
                )
        elif not (isinstance(lfs, dict) and is_sha256(lfs.get("sha256")) and isinstance(lfs.get("size"), int)):
            raise InputError(path, f"{key}.lfs", "expected `sha256` (64 lowercase hex) and `size` (an integer)")


@dataclass
class HubRecording:
    """Per repo: the recorded refs and model-info answer, and the bytes of its files outside LFS."""

    repos: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path) -> HubRecording:
        recording = cls()
        for path in sorted(root.glob("*.json")):
            doc = load_json(read_text(path, "no such recording"), path, "a recorded model-info answer")
            folder = root / "files" / path.stem
            bodies = {
                p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
            }
            _check_doc(doc, path, bodies)
            recording.repos[doc["answer"]["id"]] = doc
            recording.files[doc["answer"]["id"]] = bodies
        return recording

    # --- answers ------------------------------------------------------------------

    def body(self, repo: str, name: str) -> bytes | None:
        """A file's served bytes; a separate step so tests can serve other bytes than those listed."""
        return self.files.get(repo, {}).get(name)

    def reply(self, path: str, *, reads_gated: bool = False) -> Reply:
        """The answer to a GET of `path` (the request path below the Hub endpoint).

        `reads_gated`: the caller holds a token with access to gated repos. A replay
        sends no token, so only the tests' look-alike ever passes True.
        """
        parts = [unquote(p) for p in urlsplit(path).path.split("/") if p]
        if parts[:2] == ["api", "models"] and len(parts) >= 6 and parts[4] == "revision":
            return self._info("/".join(parts[2:4]), "/".join(parts[5:]))
        if parts[:2] == ["api", "models"] and len(parts) == 5 and parts[4] == "auth-check":
            return self._auth_check("/".join(parts[2:4]), reads_gated)
        if len(parts) >= 5 and parts[2] == "resolve":
            return self._resolve("/".join(parts[:2]), parts[3], "/".join(parts[4:]), reads_gated)
        return error(404, "EntryNotFound", "no such route")

    def _commit(self, doc: dict[str, Any], rev: str) -> str | None:
        sha = doc["answer"]["sha"]
        return doc["refs"].get(rev, sha) if rev == sha or rev in doc["refs"] else None

    def _info(self, repo: str, rev: str) -> Reply:
        doc = self.repos.get(repo)
        if doc is None:
            return error(401, "RepoNotFound", "Repository not found")
        commit = self._commit(doc, rev)
        if commit is None:
            return error(404, "RevisionNotFound", "Invalid rev id")
        answer = {k: v for k, v in doc["answer"].items() if not k.startswith("_")}
        answer["sha"] = commit
        siblings = []
        for sibling in doc["answer"]["siblings"]:
            sibling = {k: v for k, v in sibling.items() if not k.startswith("_")}
            if "lfs" in sibling:
                lfs = sibling["lfs"]
                pointer = lfs_pointer(lfs["sha256"], lfs["size"])
                sibling["lfs"] = {"sha256": lfs["sha256"], "size": lfs["size"], "pointerSize": len(pointer)}
                sibling["size"], sibling["blobId"] = lfs["size"], git_blob_id(pointer)
            elif sibling["rfilename"] in self.files[repo]:
                body = self.files[repo][sibling["rfilename"]]
                sibling["size"], sibling["blobId"] = len(body), git_blob_id(body)
            # else: listed `_unrecorded`: the recording knows the file is there, not its size or bytes
            siblings.append(sibling)
        answer["siblings"] = siblings
        return Reply(200, json.dumps(answer).encode())

    def _auth_check(self, repo: str, reads_gated: bool) -> Reply:
        if repo not in self.repos:
            return error(401, "RepoNotFound", "Repository not found")
        if self.repos[repo]["answer"].get("gated") and not reads_gated:
            return error(403, "GatedRepo", "Access to this model is restricted")
        return Reply(200, b"{}")

    def _resolve(self, repo: str, rev: str, name: str, reads_gated: bool) -> Reply:
        doc = self.repos.get(repo)
        if doc is None:
            return error(401, "RepoNotFound", "Repository not found")
        if self._commit(doc, rev) is None:
            return error(404, "RevisionNotFound", "Invalid rev id")
        if doc["answer"].get("gated") and not reads_gated:
            return error(403, "GatedRepo", "Access to this model is restricted")
        body = self.body(repo, name)
        if body is None:
            return error(404, "EntryNotFound", "Entry not found")
        return Reply(200, body, "application/octet-stream")


def send(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
    """Write a reply as the Hub would (error code and message in headers); HEAD gets no body."""
    handler.send_response(reply.status)
    if reply.error_code:
        handler.send_header("X-Error-Code", reply.error_code)
        handler.send_header("X-Error-Message", json.loads(reply.body)["error"])
    handler.send_header("Content-Type", reply.content_type)
    handler.send_header("Content-Length", str(len(reply.body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(reply.body)
