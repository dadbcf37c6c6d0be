"""Fleet audits on a running Ray cluster: the collector once on every alive node.

Each alive node gets one task pinned to it with NodeAffinitySchedulingStrategy
(soft=False, so a task never silently runs on a neighbour). The task runs the
standard-library collector in a child process of the node's own Python, so the
workers need nothing of imagelock installed; its facts come back through the
object store and are compared here. A node whose task fails or does not answer
within the per-node timeout is reported unreachable; the others are still compared.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any

from imagelock.drift.compare import Audit, LockIndex, audit_text, collector_args, collector_source
from imagelock.errors import UpstreamError


def _run_collector(source: str, args: list[str], timeout: float) -> dict[str, Any]:
    """Runs on the node: the collector in a child process; returns stdout or the reason it failed."""
    try:
        done = subprocess.run(
            [sys.executable, "-", *args], input=source.encode(), capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"collector timed out after {timeout:g}s"}
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        return {"error": f"collector exited {done.returncode}: {tail[0][:200]}"}
    return {"stdout": done.stdout.decode("utf-8", "replace")}


def audit_cluster(index: LockIndex, address: str, deep: bool = False, timeout: float = 300.0) -> list[Audit]:
    try:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
    except ImportError:
        raise UpstreamError("--ray needs the `ray` package on this machine (pip install ray)") from None
    owns_connection = not ray.is_initialized()
    if owns_connection:
        try:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        except Exception as exc:  # noqa: BLE001 - ray raises ConnectionError, RuntimeError, ...
            raise UpstreamError(f"ray: cannot connect to {address}: {exc}") from None
    try:
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        if not nodes:
            raise UpstreamError(f"ray: no alive node in the cluster at {address}")
        task = ray.remote(num_cpus=0, max_retries=0)(_run_collector)
        source = collector_source()
        args = collector_args(index, deep, max(10.0, timeout - 15))
        refs = {}
        for node in nodes:
            name = f"{node.get('NodeManagerHostname') or node.get('NodeManagerAddress')}/{node['NodeID'][:12]}"
            strategy = NodeAffinitySchedulingStrategy(node_id=node["NodeID"], soft=False)
            refs[name] = task.options(scheduling_strategy=strategy).remote(source, args, max(1.0, timeout - 5))
        audits = []
        for name, ref in refs.items():
            try:
                answer = ray.get(ref, timeout=timeout)
            except ray.exceptions.GetTimeoutError:
                ray.cancel(ref, force=True)
                audits.append(Audit(name, error=f"no answer within {timeout:g}s (per-node timeout)"))
                continue
            except Exception as exc:  # noqa: BLE001 - a lost node raises one of many Ray errors
                audits.append(Audit(name, error=f"ray task failed: {exc.__class__.__name__}"))
                continue
            if "error" in answer:
                audits.append(Audit(name, error=answer["error"]))
                continue
            audits.append(audit_text(index, answer["stdout"], name))
        return audits
    finally:
        if owns_connection:
            ray.shutdown()
