"""`lock drift --format prometheus`: the Prometheus text exposition format, for node_exporter's textfile
collector (`--collector.textfile.directory`), so a fleet alerts on drift in the dashboards it already runs.

    # HELP imagelock_drift_items Items on the machine that differ from the lock, by layer (0: as locked).
    # TYPE imagelock_drift_items gauge
    imagelock_drift_items{machine="worker-1",layer="apt",image="seed-448ff578101c",lock_digest="448f…"} 1

Every series carries the machine, the image and the lock's digest as labels, so an alert can say which lock a
machine was held against. The textfile collector refuses samples with their own timestamps, so the time of
the audit is a gauge of its own (`..._last_audit_timestamp_seconds`), as node_exporter's textfile
conventions ask. Spec: prometheus.io/docs/instrumenting/exposition_formats (text format 0.0.4).
A machine's name comes from what it sent: it is written as the other reports write it (imagelock.drift.report
`shown`: no control character, no bidi override) and then escaped as the format says (`\\`, `\"`, `\n`), so it
can neither end its label nor forge a line.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence

from imagelock.drift.compare import Audit, layers_of
from imagelock.drift.report import fleet_counts, shown

PREFIX = "imagelock_drift"


def label_value(text: str) -> str:
    """A label value as the text format quotes it: backslash, double quote and newline escaped."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: Sequence[tuple[str, str]]) -> str:
    return "{" + ",".join(f'{name}="{label_value(value)}"' for name, value in pairs) + "}"


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) and not value.is_integer() else str(int(value))


class _Family:
    def __init__(self, name: str, help_text: str) -> None:
        self.lines = [f"# HELP {PREFIX}_{name} {help_text}", f"# TYPE {PREFIX}_{name} gauge"]
        self.name = f"{PREFIX}_{name}"

    def add(self, pairs: Sequence[tuple[str, str]], value: float) -> None:
        self.lines.append(f"{self.name}{_labels(pairs)} {_number(value)}")


def render(audits: Sequence[Audit], image: str, digest: str, at: float | None = None) -> str:
    """One sample per machine and layer, per machine its audit's time and outcome, and the fleet's counts.
    `at`: when the audit ran, in seconds since the epoch (default: now)."""
    moment = time.time() if at is None else at
    lock = [("image", image), ("lock_digest", digest)]
    items = _Family("items", "Items on the machine that differ from the lock, by layer (0: as locked).")
    audited = _Family("audited", "1 when the machine was audited, 0 when it could not be (unreachable, timed out).")
    drifted = _Family("drifted", "1 when the machine differs from the lock in anything, 0 when it matches it.")
    last = _Family(
        "last_audit_timestamp_seconds", "When the machine was audited against the lock (none when it could not be)."
    )
    machines = _Family("machines", "Machines audited against the lock, by outcome (clean, drifted, unreachable).")
    layers = layers_of(f for a in audits for f in a.findings)
    for a in sorted(audits, key=lambda a: shown(a.target)):
        machine = [("machine", shown(a.target))]
        audited.add(machine + lock, 0 if a.error is not None else 1)
        if a.error is not None:
            continue  # nothing is known of it: no sample rather than a false 0 or a fresh audit time
        last.add(machine + lock, moment)
        drifted.add(machine + lock, 1 if a.findings else 0)
        per = Counter(f.layer for f in a.findings)
        for layer in layers:
            items.add(machine + [("layer", layer)] + lock, per[layer])
    for status in ("clean", "drifted", "unreachable"):
        machines.add([("status", status)] + lock, fleet_counts(audits)[status])
    return "\n".join(line for family in (items, drifted, audited, last, machines) for line in family.lines) + "\n"
