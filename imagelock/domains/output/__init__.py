"""The output domain: a disk image's base cloud image, when its sha256 comes from a signed SHA256SUMS.

`[output]` is mostly a generator section (imagelock.build.disk_image writes disk-image.sh from it). Its
base is locked only when the intent leaves its sha256 to the vendor's signed sums: then `lock update`
checks the signature and records the sha256, the sums file's sha256 and the keyring's, and the build
verifies the image against that. A sha256 the intent states needs no lock entry. Either way `lock check`
says where the base's sha256 came from. docs/disk-images.md.
"""

from __future__ import annotations

from collections.abc import Iterator

from imagelock.domains.contract import Domain
from imagelock.domains.output.entry import OutputLayer
from imagelock.intent.document import Intent
from imagelock.intent.output import locked_base
from imagelock.lock.artifact import Artifact
from imagelock.lock.diff import Item
from imagelock.lock.model import Lock


def artifacts(layer: OutputLayer) -> Iterator[Artifact]:
    """The cloud image, by sha256: `lock mirror` keeps a copy (vendors remove old image serials)."""
    base = layer.base
    name = base.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    yield Artifact("cloud image", name, (base.url,), base.sha256, None, label=f"output base {name}")


def items(layer: OutputLayer) -> Iterator[Item]:
    """The image by its URL (another serial is another URL: a minor move), the sums and keyring that vouched
    for it (re-signed sums or another keyring alone: a patch)."""
    base = layer.base
    yield Item("base", base.url, base.sha256)
    yield Item("base sha256sums", base.sums_url, base.sums_sha256)
    yield Item("base keyring", "keyring", base.keyring_sha256)


def notes(lock: Lock, intent: Intent) -> list[str]:
    """Where the base's sha256 came from: the signed sums (as locked), or the intent's own word."""
    if intent.output is None:
        return []
    base = intent.output.base
    layer = lock.layers.get("output")
    if base.sums_url is None:
        return [
            f"output base {base.name}: sha256 {base.sha256} stated by the intent, not taken from a signed "
            "SHA256SUMS (give sha256sums, signature and keyring to have the vendor's signature vouch for it)"
        ]
    if not isinstance(layer, OutputLayer):
        return []  # the missing layer is already a `stale:` problem
    locked = layer.base
    return [
        f"output base {base.name}: sha256 {locked.sha256} from the signed SHA256SUMS {locked.sums_url} "
        f"(sha256 {locked.sums_sha256}, signature checked by gpgv with keyring sha256 {locked.keyring_sha256})"
    ]


DOMAIN = Domain(
    name="output",
    layer=OutputLayer,
    parse=locked_base,
    resolver="imagelock.domains.output.layer:resolve",
    summary=lambda layer: "base cloud image from signed sums",
    items=items,
    artifacts=artifacts,
    notes=notes,
    image_order=-1,  # beneath everything: the image the others are installed into
)
