"""Drift reports: text in the style of `nix store diff-closures`, JSON, JUnit XML.

Text, one machine:

    apt:
      dkms: 2.8.7-2ubuntu2.2 → 2.8.7-2ubuntu2.3
    python:
      safetensors: 0.4.3 → ∅
    worker-1: drifted: 2 findings (apt 1, python 1) against seed-a8b53a6f3e94

`∅` stands for "absent", as in nix. A fleet adds one such block per machine and a
summary: how many clean, drifted and unreachable, and the commonest findings first.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any
from xml.etree import ElementTree as ET

from imagelock.drift.compare import Audit, Finding, layers_of, sorted_findings

ABSENT = "∅"


def shown(text: str) -> str:
    """Text a machine sent, fit for one line of a report: every character that is not printable (a newline,
    an escape sequence, a bidi override, a character XML 1.0 forbids) is written as its escape, so a worker
    can neither forge another machine's line, nor drive the reader's terminal, nor break the JUnit XML."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def finding_line(f: Finding) -> str:
    return shown(_finding_line(f))


def _finding_line(f: Finding) -> str:
    if f.kind == "changed-hash" and f.expected and f.actual and f.detail and f.expected == "RECORD":
        return f"{f.subject}: files differ from RECORD ({f.actual}: {f.detail})"
    if f.kind == "changed-hash" and f.expected is None:
        return f"{f.subject}: {f.detail}"
    line = f"{f.subject}: {f.expected or ABSENT} → {f.actual or ABSENT}"
    notes = []
    if f.kind in ("extra", "other-lock", "not-installed") or (f.kind == "changed-hash" and not f.detail):
        notes.append(f.kind.replace("-", " "))
    if f.detail:
        notes.append(f.detail)
    return line + (f" ({'; '.join(notes)})" if notes else "")


def _counts(findings: Sequence[Finding]) -> str:
    per = Counter(f.layer for f in findings)
    return ", ".join(f"{layer} {per[layer]}" for layer in layers_of(findings) if per[layer])


def summary_line(audit: Audit, image: str) -> str:
    target = shown(audit.target)
    if audit.error is not None:
        return f"{target}: could not audit: {shown(audit.error)}"
    if not audit.findings:
        return f"{target}: clean: no drift from {image}"
    n = len(audit.findings)
    return f"{target}: drifted: {n} finding{'s' if n != 1 else ''} ({_counts(audit.findings)}) against {image}"


def text_audit(audit: Audit, image: str) -> str:
    lines: list[str] = []
    current = None
    for f in sorted_findings(audit.findings):
        if f.layer != current:
            current = f.layer
            lines.append(f"{f.layer}:")
        lines.append(f"  {finding_line(f)}")
    lines.append(summary_line(audit, image))
    return "\n".join(lines)


def fleet_counts(audits: Sequence[Audit]) -> dict[str, int]:
    per = Counter(a.status for a in audits)
    return {
        "machines": len(audits),
        "clean": per["clean"],
        "drifted": per["drifted"],
        "unreachable": per["unreachable"],
    }


def commonest(audits: Sequence[Audit]) -> list[tuple[str, int]]:
    """Findings as `layer: line`, with how many machines have them, commonest first."""
    seen: Counter[str] = Counter()
    for a in audits:
        seen.update({f"{f.layer}: {finding_line(f)}" for f in a.findings})
    return sorted(seen.items(), key=lambda item: (-item[1], item[0]))


def text_report(audits: Sequence[Audit], image: str) -> str:
    if len(audits) == 1:
        return text_audit(audits[0], image)
    blocks = [text_audit(a, image) for a in sorted(audits, key=lambda a: a.target)]
    c = fleet_counts(audits)
    lines = [
        f"fleet: {c['machines']} machines: {c['clean']} clean, {c['drifted']} drifted, "
        f"{c['unreachable']} unreachable, against {image}"
    ]
    top = commonest(audits)
    if top:
        lines.append("commonest findings:")
        lines.extend(f"  {n:>5} × {line}" for line, n in top[:20])
        if len(top) > 20:
            lines.append(f"  ... and {len(top) - 20} more")
    return "\n\n".join(blocks) + "\n\n" + "\n".join(lines)


def json_report(audits: Sequence[Audit], lock_path: str, image: str, digest: str) -> str:
    data: dict[str, Any] = {
        "lock": lock_path,
        "image": image,
        "digest": digest,
        "summary": fleet_counts(audits),
        "commonest": [{"finding": line, "machines": n} for line, n in commonest(audits)],
        "machines": [
            {
                "target": a.target,
                "status": a.status,
                "error": a.error,
                "findings": [f.to_json() for f in sorted_findings(a.findings)],
            }
            for a in sorted(audits, key=lambda a: a.target)
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False)


def junit_report(audits: Sequence[Audit], image: str) -> str:
    """One test suite per machine, one test case per layer; errors for unreachable machines."""
    c = fleet_counts(audits)
    layers = layers_of(f for a in audits for f in a.findings)
    suites = ET.Element(
        "testsuites",
        name=f"lock drift {image}",
        tests=str(len(audits) * len(layers)),
        failures=str(sum(len({f.layer for f in a.findings}) for a in audits)),
        errors=str(c["unreachable"]),
    )
    for a in sorted(audits, key=lambda a: a.target):
        target = shown(a.target)
        suite = ET.SubElement(suites, "testsuite", name=target)
        if a.error is not None:
            suite.set("tests", "1")
            suite.set("errors", "1")
            suite.set("failures", "0")
            case = ET.SubElement(suite, "testcase", classname=target, name="audit")
            error = shown(a.error)
            ET.SubElement(case, "error", message=error, type="could-not-audit").text = error
            continue
        failing = 0
        for layer in layers:
            case = ET.SubElement(suite, "testcase", classname=target, name=layer)
            found = [f for f in sorted_findings(a.findings) if f.layer == layer]
            if found:
                failing += 1
                failure = ET.SubElement(
                    case, "failure", type="drift", message=f"{len(found)} finding{'s' if len(found) != 1 else ''}"
                )
                failure.text = "\n".join(finding_line(f) for f in found)
        suite.set("tests", str(len(layers)))
        suite.set("failures", str(failing))
        suite.set("errors", "0")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def render(audits: Sequence[Audit], fmt: str, lock_path: str, image: str, digest: str) -> str:
    if fmt == "json":
        return json_report(audits, lock_path, image, digest)
    if fmt == "junit":
        return junit_report(audits, image)
    return text_report(audits, image)
