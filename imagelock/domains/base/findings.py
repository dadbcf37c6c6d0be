"""What the base image does not prove, for `lock check`: that it boots the locked kernel.

The lock records each AMI's id, name, owner and creation date, but not its
package manifest, so it cannot tell which kernel the image boots. When the lock
also pins a kernel, nothing shows the image will run it: Canonical's EC2 images
boot the linux-aws flavour, and GRUB keeps booting the highest version installed.
This is "not verified", not "wrong": the image may well boot the locked kernel.
"""

from __future__ import annotations

from imagelock.intent.document import Intent
from imagelock.lock.finding import NOT_VERIFIED, Finding
from imagelock.lock.model import Lock

CANONICAL = "099720109477"  # the AWS account that publishes Ubuntu's official AMIs
FIX = (
    "record the base image's package manifest (Canonical publishes one per serial), or have the build make the "
    "locked kernel the GRUB default and check `uname -r` after rebooting into it"
)


def findings(lock: Lock, intent: Intent) -> list[Finding]:
    base, kernel = lock.base, lock.kernel
    if base is None or kernel is None or not base.amis:
        return []
    amis = ", ".join(f"{ami.id} ({ami.region})" for ami in base.amis)
    canonical = (
        ", and Canonical's EC2 images boot the linux-aws flavour"
        if any(ami.owner == CANONICAL for ami in base.amis)
        else ""
    )
    return [
        Finding(
            NOT_VERIFIED,
            f"base {amis}",
            f"nothing proves it boots the locked kernel {kernel.version}: the lock records no package "
            f"manifest for it{canonical}",
            FIX,
        )
    ]
