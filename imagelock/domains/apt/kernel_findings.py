"""What the kernel layer does not show, for `lock check`: a kernel other than the one the flavour means.

Read from the lock and the intent, no network. Ubuntu's `generic` is the
release's own kernel (`linux-image-generic`: 6.8 on noble, 5.15 on jammy); the
same flavour also names the hardware-enablement kernels the release's updates
carry (`linux-image-generic-hwe-24.04`: 6.11 and later), which a build must
not take silently. The lock records the release's own upstream version (`ga`)
and what chose the ABI (`chosen-by`); a lock written before it recorded them,
for a flavour (not a pinned kernel.version), cannot show which kernel it holds,
and says so.
"""

from __future__ import annotations

from imagelock.domains.apt.kernel import upstream
from imagelock.errors import InputError
from imagelock.intent.apt import parse_kernel
from imagelock.intent.document import Intent
from imagelock.lock.finding import NOT_AS_ASKED, NOT_VERIFIED, Finding
from imagelock.lock.model import Lock


def findings(lock: Lock, intent: Intent) -> list[Finding]:
    layer = lock.kernel
    section = intent.section("kernel")
    if layer is None or not isinstance(section, dict):
        return []
    try:
        asked = parse_kernel(section, intent.path)
    except InputError:  # an intent edited since: `lock check` reports the lock stale
        return []
    subject = f"kernel {layer.version}"
    if layer.chosen_by is None and asked.abi is None:  # a pinned kernel.version says itself what chose it
        return [
            Finding(
                NOT_VERIFIED,
                subject,
                f'the lock does not record what chose this ABI for kernel.flavour "{section.get("flavour")}" (it '
                "was written before imagelock recorded `chosen-by` and `ga`, when a flavour took its newest "
                "ABI), so nothing shows whether it is the release's own kernel or a hardware-enablement one",
                "run `lock update --only apt kernel`, which records both (docs/apt.md, kernel tracks)",
            )
        ]
    if asked.track is not None or layer.ga is None or upstream(layer.abi) == layer.ga:
        return []
    key = "kernel.version" if asked.abi else "kernel.flavour"
    return [
        Finding(
            NOT_AS_ASKED,
            subject,
            f"a hardware-enablement kernel ({upstream(layer.abi)}, chosen by {layer.chosen_by or key}), while {key} "
            f'asks for flavour "{layer.flavour}", which means the release\'s own kernel {layer.ga} '
            f"(linux-image-{layer.flavour})",
            f'take the release\'s own kernel (kernel.flavour = "{layer.flavour}" alone, or a {layer.ga} ABI in '
            f'kernel.version), or say the track is meant (kernel.flavour = "{layer.flavour}-hwe-<release>", '
            'e.g. "generic-hwe-24.04")',
        )
    ]
