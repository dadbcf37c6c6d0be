"""Comparison and reports on facts shaped exactly like the collector's, against the seed lock plus apt/kernel/driver/models."""

from __future__ import annotations

import json
import random
from xml.etree import ElementTree as ET

import pytest

from imagelock import domains
from imagelock.drift.compare import Audit, Finding, LockIndex, audit, compare
from imagelock.drift.report import junit_report, text_report
from imagelock.drift.synthetic import facts_for, plant
from imagelock.lock import codec as lockfile

from .drifthelpers import seed_like_lock


@pytest.fixture(scope="module")
def index() -> LockIndex:
    return LockIndex(seed_like_lock())


def test_clean_facts_have_no_findings(index: LockIndex) -> None:
    assert compare(index, facts_for(index.lock, base_packages=300)) == []


def test_every_kind_against_the_seed(index: LockIndex) -> None:
    facts = facts_for(index.lock)
    dpkg = {row[0]: row for row in facts["dpkg"]}
    dpkg["dkms"][1] = "2.8.7-2ubuntu2.3"
    facts["dpkg"].remove(dpkg["build-essential"])
    facts["dpkg"].append(["dkms", "2.8.7-2ubuntu2.2", "i386"])  # a second arch of an owned package
    dists = {d["name"]: d for d in facts["python"]["distributions"]}
    dists["vllm"]["version"] = "0.6.6.post2"
    facts["python"]["distributions"].remove(dists["safetensors"])
    facts["python"]["distributions"].append({"name": "Flash_Attn", "version": "2.7.0"})
    facts["kernel"]["running"] = "5.15.0-1051-aws"
    facts["nvidia"]["sources"]["modinfo"] = "550.54.14"
    facts["models"][0]["files"][0]["size"] = 901
    facts["fingerprint"]["digest"] = "c" * 64
    got = {(f.layer, f.kind, f.subject, f.expected, f.actual) for f in compare(index, facts)}
    safetensors = next(p.version for p in index.lock.python.packages if p.name == "safetensors")
    assert got == {
        ("image", "other-lock", "fingerprint", index.image, f"seed-{'c' * 12}"),
        ("kernel", "wrong-kernel", "running kernel", "5.15.0-105-generic", "5.15.0-1051-aws"),
        ("nvidia", "wrong-driver", "driver", "550.54.15", "550.54.14"),
        ("apt", "changed-version", "dkms", "2.8.7-2ubuntu2.2", "2.8.7-2ubuntu2.3"),
        ("apt", "missing", "build-essential", "12.9ubuntu3", None),
        ("apt", "extra", "dkms:i386", None, "2.8.7-2ubuntu2.2"),
        ("python", "changed-version", "vllm", "0.6.6.post1", "0.6.6.post2"),
        ("python", "missing", "safetensors", safetensors, None),
        ("python", "extra", "flash-attn", None, "2.7.0"),
        ("models", "changed-hash", "/workspace/models/qwen/config.json", "900 bytes", "901 bytes"),
    }


def test_versions_compare_by_meaning_and_names_by_pep503(index: LockIndex) -> None:
    facts = facts_for(index.lock)
    for dist in facts["python"]["distributions"]:
        if dist["name"] == "huggingface-hub":
            dist["name"] = "Huggingface_Hub"
        if dist["name"] == "vllm":
            dist["version"] = "0.6.6.post1"  # same
        if dist["name"] == "torch":
            dist["version"] = dist["version"].replace("2.5.1", "2.5.1.0")  # PEP 440 equal
    assert compare(index, facts) == []


def test_half_installed_package_is_reported(index: LockIndex) -> None:
    facts = facts_for(index.lock)
    row = next(r for r in facts["dpkg"] if r[0] == "dkms")
    row.append("half-configured")
    (finding,) = compare(index, facts)
    assert (finding.kind, finding.subject, finding.detail) == ("not-installed", "dkms", "dpkg state half-configured")


def test_text_report_reads_like_diff_closures(index: LockIndex) -> None:
    findings = [
        Finding("apt", "changed-version", "dkms", "2.8.7-2ubuntu2.2", "2.8.7-2ubuntu2.3"),
        Finding("python", "missing", "safetensors", "0.4.3", None),
        Finding("python", "extra", "flash-attn", None, "2.7.0"),
    ]
    text = text_report([Audit("worker-1", findings)], index.image)
    assert text == (
        "apt:\n"
        "  dkms: 2.8.7-2ubuntu2.2 → 2.8.7-2ubuntu2.3\n"
        "python:\n"
        "  flash-attn: ∅ → 2.7.0 (extra)\n"
        "  safetensors: 0.4.3 → ∅\n"
        f"worker-1: drifted: 3 findings (apt 1, python 2) against {index.image}"
    )


def test_fleet_summary_counts_and_commonest_first(index: LockIndex) -> None:
    clean = facts_for(index.lock)
    drifted = []
    for i in range(3):
        facts = facts_for(index.lock)
        next(r for r in facts["dpkg"] if r[0] == "dkms")[1] = "2.8.7-2ubuntu2.3"
        if i == 0:
            facts["kernel"]["running"] = "6.8.0-1"
        drifted.append(audit(index, facts, f"w{i}"))
    broken = audit(index, {"facts_version": 2}, "w9")
    audits = [audit(index, clean, "w8"), *drifted, broken]
    text = text_report(audits, index.image)
    tail = text.split("\n\n")[-1].splitlines()
    assert tail[0] == f"fleet: 5 machines: 1 clean, 3 drifted, 1 unreachable, against {index.image}"
    assert tail[1:4] == [
        "commonest findings:",
        "      3 × apt: dkms: 2.8.7-2ubuntu2.2 → 2.8.7-2ubuntu2.3",
        "      1 × kernel: running kernel: 5.15.0-105-generic → 6.8.0-1",
    ]
    assert "w9: could not audit: facts_version: expected 1, found 2" in text


def test_junit_has_a_suite_per_machine_and_a_case_per_layer(index: LockIndex) -> None:
    facts = facts_for(index.lock)
    facts["kernel"]["running"] = "6.8.0-1"
    xml = junit_report(
        [
            audit(index, facts, "w1"),
            audit(index, facts_for(index.lock), "w2"),
            Audit("w3", error="ssh: unreachable: Connection refused"),
        ],
        index.image,
    )
    root = ET.fromstring(xml.split("\n", 1)[1])
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert (root.get("failures"), root.get("errors")) == ("1", "1")
    assert suites["w1"].get("failures") == "1"
    assert suites["w1"].find("testcase[@name='kernel']/failure").text == "running kernel: 5.15.0-105-generic → 6.8.0-1"
    assert suites["w2"].get("failures") == "0" and len(suites["w2"].findall("testcase")) == 6
    assert suites["w3"].find("testcase/error").get("message") == "ssh: unreachable: Connection refused"


def test_planted_drift_is_always_found(index: LockIndex) -> None:
    base = facts_for(index.lock, base_packages=50)
    rng = random.Random(7)
    for _ in range(200):
        assert compare(index, plant(base, rng)), "a planted change went unseen"


@pytest.mark.parametrize(
    "facts, key, expectation",
    [
        ([], None, "expected a JSON object (a facts document from `lock collect`)"),
        ({"facts_version": "1"}, "facts_version", "expected 1, found '1'"),
        ({"facts_version": 1, "dpkg": [["a", "1"]]}, "dpkg[0]", "expected [name, version, arch] strings"),
        ({"facts_version": 1, "dpkg": {}}, "dpkg", "expected a list of [name, version, arch] rows, found dict"),
        (
            {"facts_version": 1, "python": {"distributions": [{"name": "x"}]}},
            "python.distributions",
            "expected a list of {name, version} objects",
        ),
        ({"facts_version": 1, "models": [{"dest": 3}]}, "models[0]", "expected {dest, files} with a files list"),
        (
            {
                "facts_version": 1,
                "complete": False,
                "errors": [{"where": "python", "message": "deadline of 5s reached"}],
            },
            "complete",
            "the collector did not finish (python: deadline of 5s reached)",
        ),
        ({"facts_version": 1, "dpkg": None}, "dpkg", "the lock has an apt layer but the facts hold no dpkg database"),
    ],
)
def test_malformed_facts_name_key_and_expectation(index: LockIndex, facts, key, expectation) -> None:
    result = audit(index, facts, "f.json")
    assert result.status == "unreachable"
    assert result.error == ": ".join(x for x in (key, expectation) if x)


def test_lock_round_trip_keeps_the_digest_the_fingerprint_names(tmp_path) -> None:
    lock = seed_like_lock()
    path = tmp_path / "x.lock"
    path.write_text(lockfile.dumps(lock))
    again, claimed = domains.read_lock(path)
    assert claimed == lock.digest() == again.digest() == LockIndex(again).digest
    assert json.loads(json.dumps(facts_for(again)))["fingerprint"]["digest"] == claimed


@pytest.mark.parametrize(
    "text, version",
    [
        (
            "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\n"
            "GCC version:  gcc version 11.4.0 (Ubuntu 11.4.0-1ubuntu1~22.04)\n",
            "550.54.15",
        ),
        (
            "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  550.54.15  Release Build  (dvs-builder@U16-I3-B03-4-3)"
            "  Tue Mar  5 22:16:19 UTC 2024\n",
            "550.54.15",
        ),
        ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.183.01  Sun May 12 19:39:15 UTC 2024\n", "535.183.01"),
        ("something else\n", None),
    ],
)
def test_driver_version_from_proc(text: str, version: str | None) -> None:
    from imagelock.drift.collector import proc_driver_version

    assert proc_driver_version(text) == version
