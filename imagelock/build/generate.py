"""`lock generate` and `lock check --generated`: a lock in, the files that build its image out.

Everything is rendered in memory first, so a lock with one bad value writes
nothing at all; then the whole set is swapped into the output directory at once. The same lock always
renders byte-identical files, which is what lets `lock check --generated`
regenerate in memory and name every file that no longer matches.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from imagelock import domains, writes
from imagelock.build import bootstrap, manifests, packer, ray, sbom
from imagelock.build.values import Values
from imagelock.errors import InputError
from imagelock.hashing import sha256_bytes
from imagelock.lock.model import Lock

EXECUTABLE = {"bootstrap.sh"}


@dataclass
class Written:
    path: Path
    changed: bool


def load(lock_path: str | Path) -> tuple[Lock, str]:
    """The lock and its exact text; refuses a lock whose content does not match its digest."""
    lock = domains.read_intact_lock(lock_path, "nothing generated")
    return lock, Path(lock_path).read_text(encoding="utf-8")


def render(lock: Lock, lock_text: str, lock_path: str | Path) -> dict[str, str]:
    """File name -> content, for every file `lock generate` writes."""
    values = Values(lock_path)
    with lock.frozen():
        models_manifest = manifests.models_manifest(lock, values)
        return {
            "bootstrap.sh": bootstrap.render(lock, sha256_bytes(lock_text.encode("utf-8")), values),
            "image.pkr.hcl": packer.render(lock, values, models_manifest),
            "lock.toml": lock_text,
            "models-manifest.json": models_manifest,
            "pylock.toml": manifests.pylock_toml(lock, values),
            "ray-worker.yaml": ray.render(lock, values),
            "requirements.txt": manifests.requirements_txt(lock, values),
            sbom.FILE_NAME: sbom.render(lock),
        }


def render_template(lock: Lock, lock_path: str | Path) -> str:
    """The Packer template alone: what `lock check` judges, without rendering every other file."""
    values = Values(lock_path)
    with lock.frozen():
        return packer.render(lock, values, manifests.models_manifest(lock, values))


def generate(lock_path: str | Path, out_dir: str | Path) -> list[Written]:
    """Render every file, then swap the whole set into `out_dir` at once (imagelock.writes): a reader, a
    concurrent `lock check --generated` or a SIGKILL sees the old set or the new one, never a mix."""
    lock, text = load(lock_path)
    files = render(lock, text, lock_path)
    out = Path(out_dir)
    with writes.exclusive(out, cannot="cannot write generated files here"):
        changed = set(writes.replace_directory(out, files, frozenset(EXECUTABLE)))
    return [Written(out / name, name in changed) for name in files]


def stale_files(lock_path: str | Path, out_dir: str | Path) -> list[str]:
    """One line per generated file that is missing or differs from what this lock generates."""
    lock, text = load(lock_path)
    out = Path(out_dir)
    if not out.is_dir():
        raise InputError(out, None, "no such directory of generated files (run `lock generate`)")
    problems = []
    for name, content in render(lock, text, lock_path).items():
        target = out / name
        if target.is_symlink():
            problems.append(f"{target}: a symlink, not a generated file (run `lock generate {lock_path} -o {out}`)")
        elif not target.is_file():
            problems.append(f"{target}: missing (run `lock generate {lock_path} -o {out}`)")
        elif target.read_bytes() != content.encode("utf-8"):
            problems.append(
                f"{target}: stale, differs from what {lock_path} generates (run `lock generate {lock_path} -o {out}`)"
            )
        elif name in EXECUTABLE and not os.access(target, os.X_OK):
            problems.append(f"{target}: not executable")
    return problems
