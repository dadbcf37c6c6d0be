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
from imagelock.build import (
    ansible,
    bootstrap,
    disk_image,
    manifests,
    packer,
    ray,
    rpm_test,
    sbom,
    sbom_graph,
    sbom_spdx,
)
from imagelock.build.values import Values
from imagelock.errors import InputError
from imagelock.hashing import sha256_bytes
from imagelock.lock import codec
from imagelock.lock.model import Lock

EXECUTABLE = {"bootstrap.sh", disk_image.SCRIPT, rpm_test.SCRIPT}


@dataclass
class Written:
    path: Path
    changed: bool


def load(lock_path: str | Path) -> tuple[Lock, str]:
    """The lock and its exact text; refuses a lock whose content does not match its digest."""
    lock = domains.read_intact_lock(lock_path, "nothing generated")
    return lock, Path(lock_path).read_text(encoding="utf-8")


def render(lock: Lock, lock_text: str, lock_path: str | Path) -> dict[str, str]:
    """File name -> content, for every file `lock generate` writes.

    A lock with variants builds one image per variant: each gets a directory of its own,
    `<variant>/`, holding the same set of files rendered from its view of the lock (its own
    `lock.toml`, which its bootstrap.sh checks against and drift reads), and the whole lock is
    kept beside them as `lock.toml` (docs/variants.md says why one template per variant)."""
    if not lock.variants:
        # a lock whose intent has [output] also gets disk-image.sh, the pipeline to its disk image
        return dict(sorted({**_render_one(lock, lock_text, lock_path), **disk_image.files(lock, lock_path)}.items()))
    files = {"lock.toml": lock_text}
    for name, view in domains.images(lock):
        text = codec.dumps(view)
        files.update({f"{name}/{file}": content for file, content in _render_one(view, text, lock_path).items()})
    return files


def _render_one(lock: Lock, lock_text: str, lock_path: str | Path) -> dict[str, str]:
    """The image's files; a manifest is written only for what the lock holds: no Python layer, no
    pylock.toml, requirements.txt or ray-worker.yaml (a Ray worker runs the venv); no models, no
    models-manifest.json."""
    values = Values(lock_path)
    with lock.frozen():
        models_manifest = manifests.models_manifest(lock, values)
        graph = sbom_graph.of(lock)  # both SBOMs spell one walk over the lock
        files = {
            "bootstrap.sh": bootstrap.render(lock, sha256_bytes(lock_text.encode("utf-8")), values),
            "image.pkr.hcl": packer.render(lock, values, models_manifest),
            "lock.toml": lock_text,
            sbom.FILE_NAME: sbom.render(lock, graph),
            sbom_spdx.FILE_NAME: sbom_spdx.render(lock, graph),
        }
        files.update(rpm_test.files(lock))  # the rpm layer tested as the team tests it, before an image is built
        if lock.models:
            files["models-manifest.json"] = models_manifest
        if lock.python:
            files["ray-worker.yaml"] = ray.render(lock, values)  # a Ray worker runs the image's venv
        # One requirements file and one PEP 751 file per Python env (for a plain [python]: the one of each).
        several = bool(lock.python and lock.python.envs)
        for env, (requirements, pylock) in (manifests.env_files(lock) if lock.python else {}).items():
            name = env if several else None
            files[pylock] = manifests.pylock_toml(lock, values, name)
            files[requirements] = manifests.requirements_txt(lock, values, name)
        return dict(sorted(files.items()))


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


def generate_ansible(
    lock_path: str | Path, out_dir: str | Path, intent_path: str | Path | None = None
) -> list[Written]:
    """`--format ansible`: the intent's [ansible] mapping over the lock, into `out_dir`, an Ansible tree that
    keeps every file imagelock does not own (imagelock.build.ansible). The intent (default: the lock's path
    with .toml) must be the one the lock was made from, so the mapping is the one `lock update` checked."""
    lock, _ = load(lock_path)
    wanted = Path(intent_path) if intent_path is not None else Path(lock_path).with_suffix(".toml")
    intent = domains.read_intent(wanted)
    if intent.ansible is None:
        raise InputError(
            wanted, "ansible", "no [ansible] section: it maps role variables to lock paths (docs/ansible.md)"
        )
    if intent.sha256 != lock.intent_sha256:
        raise InputError(
            lock_path,
            "intent-sha256",
            f"not made from {wanted} as it is now (run `lock update {wanted}`; or name the intent with --intent): "
            "nothing generated",
        )
    with lock.frozen():
        written = ansible.generate(intent.ansible, ansible.views(lock), wanted, out_dir)
    return [Written(path, changed) for path, changed in written]


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
        elif target.name in EXECUTABLE and not os.access(target, os.X_OK):
            problems.append(f"{target}: not executable")
    return problems
