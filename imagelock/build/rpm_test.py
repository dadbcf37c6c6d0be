"""rpm-test.sh: for a lock with a [dnf] layer, the script that tests its rpm layer as the team tests, by running
the same bootstrap.sh in a container of the distribution (`--image`, default amazonlinux:2023) or into a root
filesystem from this machine (`--root DIR`, any host with rpm: the tests run it on Debian).

The template (rpm_test.sh, package data) holds no lock value: it runs bootstrap.sh, which carries the lock's
data, so it is the same text for every lock and shellcheck reads it as it is shipped.
"""

from __future__ import annotations

from importlib import resources

from imagelock.lock.model import Lock

SCRIPT = "rpm-test.sh"


def files(lock: Lock) -> dict[str, str]:
    """rpm-test.sh when the lock installs rpms; nothing otherwise."""
    if lock.dnf is None or not lock.dnf.packages:
        return {}
    return {SCRIPT: resources.files(__package__).joinpath("rpm_test.sh").read_text(encoding="utf-8")}
