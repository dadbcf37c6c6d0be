"""`lock drift --format prometheus`: node_exporter's textfile format, read back with prometheus_client's own
parser; its values are the report's, and a machine's name cannot end its label or forge a line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from imagelock.drift import prometheus
from imagelock.drift.compare import Audit, Finding, layers_of
from imagelock.drift.report import shown
from imagelock.drift.synthetic import facts_for
from imagelock.lock import codec as lockfile

from .drifthelpers import seed_like_lock

DIGEST = "d" * 64
IMAGE = "seed-dddddddddddd"


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge"
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def test_values_match_the_report_per_machine_and_layer() -> None:
    audits = [
        Audit("w-clean"),
        Audit(
            "w-drift",
            [
                Finding("apt", "changed-version", "dkms", "1", "2"),
                Finding("apt", "missing", "jq", "1.6", None),
                Finding("python", "extra", "six", None, "1.17.0"),
            ],
        ),
        Audit("w-gone", error="ssh: connection refused"),
    ]
    text = prometheus.render(audits, IMAGE, DIGEST, at=1764806400.5)
    samples = _samples(text)
    lock = {"image": IMAGE, "lock_digest": DIGEST}
    items = {(labels["machine"], labels["layer"]): value for labels, value in samples["imagelock_drift_items"]}
    for labels, _ in samples["imagelock_drift_items"]:
        assert {k: labels[k] for k in lock} == lock
    layers = layers_of(f for a in audits for f in a.findings)
    assert set(items) == {(m, layer) for m in ("w-clean", "w-drift") for layer in layers}  # none for w-gone
    assert items[("w-drift", "apt")] == 2 and items[("w-drift", "python")] == 1
    assert sum(items.values()) == 3 and items[("w-clean", "apt")] == 0
    assert {labels["machine"]: v for labels, v in samples["imagelock_drift_drifted"]} == {"w-clean": 0, "w-drift": 1}
    assert {labels["machine"]: v for labels, v in samples["imagelock_drift_audited"]} == {
        "w-clean": 1,
        "w-drift": 1,
        "w-gone": 0,
    }
    assert {labels["machine"]: v for labels, v in samples["imagelock_drift_last_audit_timestamp_seconds"]} == {
        "w-clean": 1764806400.5,
        "w-drift": 1764806400.5,
    }  # an unreachable machine keeps no fresh audit time: `time() - last audit` alerts on it
    assert {labels["status"]: v for labels, v in samples["imagelock_drift_machines"]} == {
        "clean": 1,
        "drifted": 1,
        "unreachable": 1,
    }


@pytest.mark.parametrize(
    "target",
    ['w"1', "w\\1", "w\n1", 'w"} 1\nimagelock_drift_items{machine="forged",layer="apt"} 99', '\\n"\\"', "w\u202e1"],
)
def test_a_hostile_machine_name_is_escaped_not_obeyed(target: str) -> None:
    audits = [Audit(target, [Finding("apt", "missing", "jq", "1.6", None)]), Audit("w-2")]
    text = prometheus.render(audits, IMAGE, DIGEST, at=0)
    samples = _samples(text)
    machines = {labels["machine"] for labels, _ in samples["imagelock_drift_items"]}
    assert machines == {shown(target), "w-2"}  # read back exactly as the other reports write it
    assert len(samples["imagelock_drift_items"]) == 2 * len(layers_of(audits[0].findings))
    assert sum(v for _, v in samples["imagelock_drift_items"]) == 1  # no forged sample
    assert all(line.startswith(("#", "imagelock_drift_")) for line in text.splitlines())


def test_the_cli_writes_the_textfile_for_a_fleet_of_facts(lock_cli, tmp_path: Path) -> None:
    """Through `lock drift`: one machine's name comes from its facts file's name, quotes and newline included."""
    lock = seed_like_lock()
    (tmp_path / "seed.lock").write_text(lockfile.dumps(lock))
    clean, drifted = tmp_path / "clean.json", tmp_path / 'dr"if\\t\ned.json'
    clean.write_text(json.dumps(facts_for(lock, "w-clean")))
    facts = facts_for(lock, "w-drift")
    next(r for r in facts["dpkg"] if r[0] == "dkms")[1] = "2.8.7-2ubuntu2.3"
    drifted.write_text(json.dumps(facts))
    out = tmp_path / "imagelock.prom"
    run = lock_cli(
        "drift", str(tmp_path / "seed.lock"), "--facts", str(clean), "--facts", str(drifted),
        "--format", "prometheus", "-o", str(out),
    )  # fmt: skip
    assert (run.code, run.out) == (1, "")
    samples = _samples(out.read_text())
    digest = lock.digest()
    apt = {labels["machine"]: v for labels, v in samples["imagelock_drift_items"] if labels["layer"] == "apt"}
    assert apt == {str(clean): 0, shown(str(drifted)): 1}
    assert {labels["lock_digest"] for labels, _ in samples["imagelock_drift_items"]} == {digest}
    # The JSON report of the same run says the same.
    run = lock_cli("drift", str(tmp_path / "seed.lock"), "--facts", str(clean), "--facts", str(drifted), "--json")
    report = json.loads(run.out)
    assert {m["target"]: len(m["findings"]) for m in report["machines"]} == {str(clean): 0, str(drifted): 1}
