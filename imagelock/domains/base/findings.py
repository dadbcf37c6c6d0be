"""What the base image does not prove, for `lock check`: that it boots the locked kernel, or, for a lock
with no base layer, which image the build starts from at all.

The lock records each AMI's id, name, owner and creation date. Its kernel is known only when the
intent gives the base image's package manifest (`[apt] base-manifest`, the `dpkg-query -W` listing
Canonical publishes per serial): the lock then records the kernels it lists. When the locked kernel
is not among them, or nothing says which kernel the image boots, the image does not boot the locked
kernel by itself: Canonical's EC2 images boot the linux-aws flavour, and GRUB boots the highest
version installed. The build makes the locked kernel GRUB's default, reboots into it, and
`bootstrap.sh --booted` stops unless `uname -r` then names it; until that build runs, nothing proves
it. This is "not verified", not "wrong".
"""

from __future__ import annotations

from imagelock.intent.base import UBUNTU
from imagelock.intent.document import Intent
from imagelock.lock.finding import NOT_REPRODUCIBLE, NOT_VERIFIED, Finding
from imagelock.lock.model import Lock

# Layers installed into the base image's own system: what they do depends on which image that is.
SYSTEM_LAYERS = ("apt", "dnf", "kernel", "nvidia")
CANONICAL = "099720109477"  # the AWS account that publishes Ubuntu's official AMIs
BUILD_CHECKS = (
    "the build makes it GRUB's default, reboots into it, and stops unless `uname -r` then names it "
    "(bootstrap.sh --booted)"
)
FIX_NO_MANIFEST = (
    "record the base image's package manifest as [apt] base-manifest (Canonical publishes one per serial), so "
    "`lock check` compares its kernel with the locked one"
)
FIX_NO_CLOUD_MANIFEST = (
    "record the cloud image's package manifest as [apt] base-manifest (Canonical publishes `<image>.manifest` "
    "beside each serial), so `lock check` compares its kernel with the locked one"
)


def cloud_image(lock: Lock, url: str, system: list[str]) -> list[Finding]:
    """A disk image (docs/disk-images.md): disk-image.sh starts from [output.base], refused unless its sha256 is
    the intent's; what that image holds and boots is in the lock only with its package manifest."""
    if lock.apt is not None and lock.apt.base_manifest_sha256:
        return []
    boots = f"the locked kernel {lock.kernel.version}" if lock.kernel else "the locked layers' kernel"
    what = (
        "the disk image starts from this cloud image, pinned by its sha256, but the lock records no package "
        f"manifest for it: nothing shows which of its packages the {', '.join(system)} layers replace, or that it "
        f"boots {boots} (the Packer template `lock generate` also writes has no base: build with disk-image.sh)"
    )
    return [Finding(NOT_VERIFIED, f"base {url}", what, FIX_NO_CLOUD_MANIFEST)]


def _release(lock: Lock) -> str:
    """The Ubuntu release whose suites the apt layer reads, so the suggested base matches the layers."""
    suites = {source.suite.split("-")[0] for source in lock.apt.sources} if lock.apt else set()
    for release, (codename, _volume) in UBUNTU.items():
        if codename in suites:
            return release
    return "22.04"


def findings(lock: Lock, intent: Intent) -> list[Finding]:
    base, kernel = lock.base, lock.kernel
    system = [name for name in SYSTEM_LAYERS if lock.layers.get(name)]
    output = intent.section("output")
    cloud = output.get("base") if isinstance(output, dict) else None
    if base is None and system and isinstance(cloud, dict):
        return cloud_image(lock, str(cloud.get("url")), system)
    if base is None and system:
        return [
            Finding(
                NOT_REPRODUCIBLE,
                "base image",
                f"the lock holds no base image under its {', '.join(system)} layers: the generated Packer template "
                "builds on whatever AMI it is given (-var source_ami=…), so the same lock can make different images",
                f'lock one: [base] image = "ubuntu {_release(lock)}" (or owner + name, an SSM parameter, an AMI id)',
            )
        ]
    if base is None or kernel is None or not base.amis:
        return []
    amis = ", ".join(f"{ami.id} ({ami.region})" for ami in base.amis)
    booted = lock.apt.base_kernels if lock.apt and lock.apt.base_manifest_sha256 else None
    if booted is None:
        canonical = (
            ", and Canonical's EC2 images boot the linux-aws flavour"
            if any(ami.owner == CANONICAL for ami in base.amis)
            else ""
        )
        what = (
            f"nothing proves it boots the locked kernel {kernel.version}: the lock records no package manifest "
            f"for it{canonical}; {BUILD_CHECKS}"
        )
        return [Finding(NOT_VERIFIED, f"base {amis}", what, FIX_NO_MANIFEST)]
    if kernel.version in booted:
        return []
    listed = ", ".join(booted) if booted else "no kernel"
    what = (
        f"its package manifest lists {listed}, not the locked kernel {kernel.version}: the image boots another "
        f"kernel until the build switches it; {BUILD_CHECKS}"
    )
    fix = (
        f'lock the kernel the base boots ([kernel] version = "{booted[-1]}") to build without the switch, or keep '
        f"{kernel.version}: the build checks it"
        if booted
        else f"keep {kernel.version}: the build installs it and checks it"
    )
    return [Finding(NOT_VERIFIED, f"base {amis}", what, fix)]
