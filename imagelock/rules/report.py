"""What a compatibility rule says: a violation with the facts on both sides and the nearest fix."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Finding:
    """One rule's verdict on one subject.

    `facts` states both sides ("torch 2.5.1+cu124 needs ...", "the lock's driver is ...");
    `fix` is the smallest change to the intent that removes the violation; `source`
    names where the rule's fact table comes from. An `unchecked` finding says a rule
    could not decide (a fact it needs is not recorded) and never fails a lock.
    """

    rule: str
    subject: str
    facts: list[str]
    fix: str = ""
    source: str = ""
    unchecked: bool = False

    def lines(self) -> list[str]:
        head = f"[{self.rule}] {self.subject}" + (" (not checked)" if self.unchecked else "")
        out = [head, *(f"  {fact}" for fact in self.facts)]
        if self.fix:
            out.append(f"  fix: {self.fix}")
        if self.source:
            out.append(f"  source: {self.source}")
        return out

    def one_line(self) -> str:
        text = f"[{self.rule}] {self.subject}: " + "; ".join(self.facts)
        return text + (f"; fix: {self.fix}" if self.fix else "")


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if not f.unchecked]

    @property
    def unchecked(self) -> list[Finding]:
        return [f for f in self.findings if f.unchecked]

    @property
    def ok(self) -> bool:
        return not self.violations

    def lines(self) -> list[str]:
        """Every violation numbered, then what could not be checked."""
        out: list[str] = []
        for number, finding in enumerate(self.violations, 1):
            body = finding.lines()
            out.append(f"{number}. {body[0]}")
            out += [f"   {line}" for line in body[1:]]
        for finding in self.unchecked:
            out += [f"note: {line}" if i == 0 else f"      {line}" for i, line in enumerate(finding.lines())]
        return out
