"""disk-image.sh: the pipeline that turns a cloud image into the lock's disk image (the intent's `[output]`).

The template (disk_image.sh, package data) is the same text for every lock; only its data block changes,
each value validated here (imagelock.build.values) and written as one shlex-quoted shell word, so no intent
or lock value is ever read as code. docs/disk-images.md.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path

from imagelock import domains
from imagelock.build.bootstrap import Data, data_block
from imagelock.build.values import SHA256, Values
from imagelock.domains.output.entry import OutputLayer
from imagelock.errors import InputError
from imagelock.hashing import SHA256_HEX
from imagelock.intent.output import OutputIntent
from imagelock.lock.model import Lock
from imagelock.untrusted import load_toml, read_text

SCRIPT = "disk-image.sh"
TEMPLATE = "disk_image.sh"
SLOT_BEGIN = "# >>> disk data"
SLOT_END = "# <<< disk data\n"
_DECLARED = re.compile(r"^readonly (?:-a )?([A-Z_0-9]+)=(?:''|\(\))$", re.MULTILINE)
_VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}-[0-9a-f]{12}$")
_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")


@functools.cache
def _template() -> tuple[str, tuple[str, ...], str]:
    text = resources.files(__package__).joinpath(TEMPLATE).read_text(encoding="utf-8")
    head, begin, rest = text.partition(SLOT_BEGIN)
    slot, end, body = rest.partition(SLOT_END)
    if not (begin and end):
        raise RuntimeError(f"{TEMPLATE}: no data slot ({SLOT_BEGIN!r} ... {SLOT_END.strip()!r})")
    return head, tuple(_DECLARED.findall(slot)), body


def render(lock: Lock, output: OutputIntent, lock_path: str | Path) -> str:
    """The pipeline for this lock and `[output]`: every value checked against its grammar, then quoted."""
    values: Data = {
        "IMAGE_NAME": lock.image_name(),
        "IMAGE_VERSION": lock.version or "",
        "LOCK_DIGEST": lock.digest(),
        "KIND": output.kind,
        "OUT_FILE": output.file,
        "BASE_URL": output.base_url,
        "BASE_NAME": output.base_name,
        "BASE_SHA256": base_sha256(lock, output, lock_path),
        "DISK_SIZE": output.size or "",
        "CUSTOMIZE": output.customize,
        "ROOT_PARTITION": str(output.root_partition),
        "ARTIFACTS": installed_artifacts(lock, lock_path),
    }
    checks = {
        "IMAGE_NAME": _IMAGE,
        "IMAGE_VERSION": _VERSION,
        "LOCK_DIGEST": SHA256_HEX,
        "BASE_SHA256": SHA256_HEX,
        "BASE_URL": _PRINTABLE,
        "BASE_NAME": re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$"),
    }
    for name, grammar in checks.items():
        value = values[name]
        if value and not (isinstance(value, str) and grammar.match(value)):
            raise InputError(lock_path, name.lower().replace("_", "-"), f"{value!r} cannot be written into {SCRIPT}")
    head, names, body = _template()
    if tuple(values) != names:
        raise RuntimeError(f"{TEMPLATE} declares {names}, the renderer writes {tuple(values)}")
    return f"{head}{SLOT_BEGIN} (written by `lock generate`)\n{data_block(values)}{SLOT_END}{body}"


def installed_artifacts(lock: Lock, lock_path: str | Path) -> list[tuple[str, ...]]:
    """Rows (label, sha256) of every file bootstrap.sh installs into the image, once per sha256: the host
    verifies each one before the image sees it, so the guest builds offline from checked bytes. The base
    image (the output layer's own artifact) is left out, and so is a file held without a hash, which
    bootstrap.sh measures from its upstream (an offline build names it when it cannot)."""
    values = Values(lock_path)
    rows: dict[str, tuple[str, ...]] = {}
    for domain, layer, _ in domains.held(lock):
        if domain.name == "output":
            continue
        for artifact in domain.artifacts(layer):
            if artifact.unhashed or artifact.sha256 in rows:
                continue
            label = values.text(artifact.label or f"{artifact.kind} {artifact.name}", "artifacts")
            rows[artifact.sha256] = (label, values.match(artifact.sha256, SHA256, "artifacts", "a sha256"))
    return list(rows.values())


def base_sha256(lock: Lock, output: OutputIntent, lock_path: str | Path) -> str:
    """The sha256 the build demands of the base: the one the lock took from the signed sums, else the
    one the intent states."""
    layer = lock.layers.get("output")
    if output.base.sums_url is not None:
        if not isinstance(layer, OutputLayer):
            raise InputError(
                lock_path, "output", "holds no sha256 for the base from its signed sums: run `lock update`"
            )
        return layer.base.sha256
    assert output.base.sha256 is not None  # the parser asks for one or the other
    return output.base.sha256


def output_of(lock: Lock, lock_path: str | Path) -> OutputIntent | None:
    """The `[output]` of the intent beside the lock (`x.lock` -> `x.toml`), or None when it has none.

    Only an intent that has `[output]` is read whole; it must be the one the lock was made from, so a
    disk image is never built from an `[output]` that `lock update` has not seen."""
    intent_path = Path(lock_path).with_suffix(".toml")
    if not intent_path.is_file():
        return None
    raw = load_toml(read_text(intent_path, "no such intent file"), intent_path)
    if "output" not in raw:
        return None
    intent = domains.read_intent(intent_path)
    if intent.sha256 != lock.intent_sha256:
        raise InputError(
            lock_path,
            "intent-sha256",
            f"not made from {intent_path} as it is now, whose [output] it would build "
            f"(run `lock update {intent_path}`): nothing generated",
        )
    return intent.output


def files(lock: Lock, lock_path: str | Path) -> dict[str, str]:
    """What `lock generate` adds for a lock whose intent has `[output]`: {} for any other lock."""
    output = output_of(lock, lock_path)
    return {SCRIPT: render(lock, output, lock_path)} if output is not None else {}
