"""Small locks for the SBOM tests, built from the lock model: a files, a containers and a dnf layer.

The hashes and digests are placeholders of the right shape (SHA, DIGEST), not upstream values: these locks
test how rows are spelt, never what an upstream publishes.
"""

from __future__ import annotations

from imagelock.domains.containers.entry import Blob, ContainerImage, PlatformImage
from imagelock.lock.model import DnfLayer, DnfPackage, DnfRepo, Lock, PlainFile, Universe

SHA = "a" * 64
DIGEST = "sha256:" + "b" * 64


def small_lock() -> Lock:
    """A lock of a few entries: the validator checks each URL with a full IRI parser (~0.1 s a URL)."""
    return Lock("small", SHA, Universe("2025-05-01T00:00:00Z", "intent"))


def other_layers(lock: Lock) -> None:
    lock.layers["files"] = [PlainFile("https://example.com/tools/tool-1.2.tar.gz", "/opt/tool", SHA, 10, extract=True)]
    platform = PlatformImage("linux/amd64", DIGEST, 10, "m", Blob(DIGEST, 1, "c"), [Blob(DIGEST, 2, "l")])
    lock.layers["containers"] = [
        ContainerImage(
            "nvcr.io/nvidia/Tritonserver:24.01", "nvcr.io", "nvidia/Tritonserver", DIGEST, "m", 10, "t",
            "containerd", False, "24.01", [platform],
        )
    ]  # fmt: skip
    repo = DnfRepo("amazonlinux", "https://cdn.amazonlinux.com/al2023/core/mirrors/2023.6/x86_64", SHA, "k", SHA, "p",
                   SHA, 1)  # fmt: skip
    lock.layers["dnf"] = DnfLayer(
        "2023.6", "x86_64", [repo],
        [DnfPackage("gcc14", "14.2.1", "7.amzn2023", "x86_64", "amazonlinux", "Packages/gcc14.rpm", SHA, 5, epoch=1)],
    )  # fmt: skip
