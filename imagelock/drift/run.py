"""`lock drift`: gather facts from one machine or a fleet, compare, report, choose the exit code.

Exit 0: every machine matches the lock. 1: some machine drifted. 2: something could
not be audited (bad lock or facts, unreachable target, collector timeout); with a
fleet the machines that did answer are still reported, and the report is written.
With a single target that could not be audited, one line goes to stderr and no
report is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from imagelock import domains
from imagelock.drift import collector, prometheus
from imagelock.drift.compare import Audit, LockIndex, audit, validate
from imagelock.drift.report import render, shown
from imagelock.errors import EXIT_ERROR, EXIT_NO, EXIT_OK, InputError, UpstreamError
from imagelock.untrusted import load_json, read_text
from imagelock.writes import write_atomic


@dataclass
class DriftRequest:
    lock: str
    local: bool = False
    root: str | None = None
    facts: list[str] = field(default_factory=list)
    ssh: str | None = None
    ssm: str | None = None
    ray: str | None = None
    deep: bool = False
    strict: bool = False
    fmt: str = "text"
    output: str | None = None
    timeout: float = 300.0
    s3_bucket: str | None = None
    s3_prefix: str = "imagelock-drift"
    max_concurrency: str = "50"
    max_errors: str = "100%"
    region: str | None = None


def read_facts(path: str) -> object:
    text = read_text(path, "no such facts file (write one with `lock collect > FILE`)")
    return load_json(text, path, "a facts document from `lock collect`")


def gather(index: LockIndex, req: DriftRequest) -> tuple[list[Audit], bool]:
    """The audits, and whether this is a fleet (several machines possible)."""
    if req.root is not None:
        if not Path(req.root).is_dir():
            raise InputError(req.root, None, "--root: not a directory (expected a root filesystem)")
        facts = collector.collect(
            req.root,
            False,
            index.venv or index.venvs or None,
            index.model_dests,
            req.deep,
            req.timeout,
            sorted(index.placed),
        )
        return [audit(index, facts, req.root)], False
    if req.facts:
        if len(req.facts) == 1:
            data = read_facts(req.facts[0])
            validate(data, req.facts[0])  # one line naming the file, key and expectation
            return [audit(index, data, req.facts[0])], False
        audits = []
        for path in req.facts:
            try:
                audits.append(audit(index, read_facts(path), path))
            except InputError as exc:
                audits.append(Audit(path, error=str(exc)))
        return audits, True
    if req.ssh is not None:
        from imagelock.drift.ssh import audit_host

        return [audit_host(index, req.ssh, req.deep, req.timeout)], False
    if req.ssm is not None:
        from imagelock.drift.fleet_ssm import SsmOptions, audit_fleet

        options = SsmOptions(
            target=req.ssm,
            s3_bucket=req.s3_bucket,
            s3_prefix=req.s3_prefix,
            max_concurrency=req.max_concurrency,
            max_errors=req.max_errors,
            instance_timeout=int(req.timeout),
            region=req.region,
            deep=req.deep,
        )
        return audit_fleet(index, options), True
    if req.ray is not None:
        from imagelock.drift.fleet_ray import audit_cluster

        return audit_cluster(index, req.ray, req.deep, req.timeout), True
    facts = collector.collect(
        "/", True, index.venv or index.venvs or None, index.model_dests, req.deep, req.timeout, sorted(index.placed)
    )
    return [audit(index, facts, facts.get("hostname") or "localhost")], False


def drift(req: DriftRequest) -> tuple[int, str]:
    """Returns the exit code and the report text (already written to req.output when given)."""
    lock = domains.read_intact_lock(req.lock, "nothing was audited: a drift report against an edited lock says nothing")
    if lock.variants:  # a machine is one image: its variant's own lock says what it must hold
        raise InputError(
            req.lock,
            None,
            f"holds the variants {', '.join(sorted(lock.variants))}: audit a machine against its variant's lock "
            "(`lock generate` writes it as <output>/<variant>/lock.toml, and the build copies it onto the machine)",
        )
    if req.output and Path(req.output).is_dir():
        raise InputError(req.output, None, "--output: is a directory (expected a report file path)")
    index = LockIndex(lock, strict_apt=req.strict)
    audits, fleet = gather(index, req)
    if not fleet and audits[0].error is not None:
        raise UpstreamError(f"{shown(audits[0].target)}: could not audit: {shown(audits[0].error)}")
    if not audits:
        raise UpstreamError("no machine to audit")
    if req.fmt == "prometheus":
        text = prometheus.render(audits, index.image, index.digest)
    else:
        text = render(audits, req.fmt, req.lock, index.image, index.digest)
    if req.output:
        write_atomic(req.output, text if text.endswith("\n") else text + "\n")
    # A fleet degrades per machine: 2 only when no machine could be audited. Otherwise a machine that
    # could not be audited is listed in the report, and the fleet is not proven clean: 1, like drift.
    if all(a.error is not None for a in audits):
        return EXIT_ERROR, text
    if any(a.error is not None or a.findings for a in audits):
        return EXIT_NO, text
    return EXIT_OK, text
