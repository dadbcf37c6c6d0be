"""The `[[models]]` intent section: Hugging Face repos, a revision each, the files to bake and where."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagelock.errors import InputError
from imagelock.intent.fields import check_keys

KEYS = ("repo", "revision", "files", "dest")
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_DEST = re.compile(r"^/[A-Za-z0-9._/+-]+$")


@dataclass
class ModelIntent:
    repo: str
    revision: str
    files: list[str]
    dest: str
    where: str


def parse(value: Any, path: Path) -> list[ModelIntent]:
    if not isinstance(value, list):
        raise InputError(path, "models", "expected an array of tables ([[models]])")
    models: list[ModelIntent] = []
    seen: dict[str, str] = {}
    for i, table in enumerate(value):
        where = f"models[{i}]"
        check_keys(table, KEYS, path, where)
        for key in ("repo", "revision", "dest"):
            if key in table and not isinstance(table[key], str):
                raise InputError(path, f"{where}.{key}", f"expected a string, found {type(table[key]).__name__}")
        repo = table.get("repo")
        if not repo or not _REPO.match(repo):
            raise InputError(
                path, f"{where}.repo", f'expected a Hub repo id such as "Qwen/Qwen3-4B-AWQ", found {repo!r}'
            )
        revision = table.get("revision", "main")
        if not revision or any(c in revision for c in " \t\n") or ".." in revision:
            raise InputError(path, f"{where}.revision", f"expected a branch, tag or commit, found {revision!r}")
        files = table.get("files")
        if not isinstance(files, list) or not files or not all(isinstance(f, str) and f for f in files):
            raise InputError(path, f"{where}.files", "expected a non-empty array of file names or glob patterns")
        for j, pattern in enumerate(files):
            if pattern.startswith("/") or ".." in pattern.split("/"):
                raise InputError(path, f"{where}.files[{j}]", f"expected a path inside the repo, found {pattern!r}")
        dest = table.get("dest")
        if not dest or not _DEST.match(dest):
            raise InputError(
                path,
                f"{where}.dest",
                f"expected an absolute path of plain characters such as "
                f'"/workspace/models/{repo.split("/")[-1]}", found {dest!r}',
            )
        if dest in seen:
            raise InputError(path, f"{where}.dest", f"{dest} is already the destination of {seen[dest]}")
        seen[dest] = repo
        models.append(ModelIntent(repo=repo, revision=revision, files=list(files), dest=dest, where=where))
    return models
