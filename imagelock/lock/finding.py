"""What a lock cannot promise: one line each, with its fix, for `lock check`.

A compatibility violation (imagelock.rules) says the image would be wrong, and a
stale lock says the lock no longer answers its intent; both fail `lock check`.
A finding says something weaker and still worth a line: the lock does not prove
the image right. Something is read live instead of pinned (not reproducible), a
fact the image depends on is not recorded (not verified), an interpreter is a
pre-release, or the archive installs something other than what was asked.
`lock check` prints findings next to its verdict; `--strict` fails on them.
"""

from __future__ import annotations

from dataclasses import dataclass

NOT_REPRODUCIBLE = "not reproducible"
NOT_VERIFIED = "not verified"
PRERELEASE = "pre-release"
NOT_AS_ASKED = "not as asked"
KINDS = (NOT_REPRODUCIBLE, NOT_VERIFIED, PRERELEASE, NOT_AS_ASKED)


@dataclass(frozen=True)
class Finding:
    """One thing the lock does not pin or prove, said with its fix.

    `subject` names the layer and the entry ("apt jammy-updates", "base ami-..."),
    `what` says what is missing and why it matters, `fix` the smallest change
    to the intent or the build that removes the finding.
    """

    kind: str
    subject: str
    what: str
    fix: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"finding kind {self.kind!r}: expected one of {', '.join(KINDS)}")

    def one_line(self) -> str:
        return f"{self.kind}: {self.subject}: {self.what}; fix: {self.fix}"

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "subject": self.subject, "what": self.what, "fix": self.fix}
