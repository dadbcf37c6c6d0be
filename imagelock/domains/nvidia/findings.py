"""What the NVIDIA layer does not prove, for `lock check`: that it is the only driver the image holds.

The runfile installs one driver branch (550.54.15 is branch 550). The apt layer may also install
NVIDIA's driver packages (`nvidia-driver-570-server`, `libnvidia-compute-580`, ...), pulled in by a
request or a dependency: then two drivers fight over the kernel module and its user-space libraries,
and which one the machine runs depends on the order they were installed in.
"""

from __future__ import annotations

from imagelock.domains.apt.findings import branch_packages
from imagelock.intent.document import Intent
from imagelock.lock.finding import NOT_AS_ASKED, Finding
from imagelock.lock.model import Lock


def findings(lock: Lock, intent: Intent) -> list[Finding]:
    nvidia, apt = lock.nvidia, lock.apt
    if nvidia is None or apt is None:
        return []
    branch = nvidia.driver_version.split(".", 1)[0]
    others = {b: names for b, names in branch_packages(apt).items() if b != branch}
    if not others:
        return []
    listing = "; ".join(f"branch {b}: {', '.join(sorted(names))}" for b, names in sorted(others.items()))
    culprit = min(others[min(others)])
    return [
        Finding(
            NOT_AS_ASKED,
            f"nvidia {nvidia.runfile}",
            f"the runfile installs driver {nvidia.driver_version} (branch {branch}), and the apt layer installs "
            f"another driver's packages ({listing}): two drivers in one image",
            f"drop those packages from [apt] (`lock why {culprit}` shows what pulls them in), or take the driver "
            "from apt alone",
        )
    ]
