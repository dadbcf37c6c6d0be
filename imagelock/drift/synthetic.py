"""Facts documents a machine built exactly from a lock would report, and planted drift.

Used by bench/drift_bench.py (10,000 generated documents) and by the fleet tests,
where a real collector cannot run (SSM through moto, files standing for a fleet).
The documents have exactly the shape collector.py prints.
"""

from __future__ import annotations

import copy
import random
from typing import Any

from imagelock.lock.model import Lock


def facts_for(lock: Lock, hostname: str = "worker", base_packages: int = 0, seed: int = 0) -> dict[str, Any]:
    """A clean facts document for `lock`, plus `base_packages` dpkg packages the lock does not own."""
    rng = random.Random(seed)
    dpkg = [[p.name, p.version, p.arch] for p in (lock.apt.packages if lock.apt else [])]
    dpkg += [[f"base-pkg-{i}", f"1.{rng.randrange(100)}-{rng.randrange(9)}", "amd64"] for i in range(base_packages)]
    dpkg.sort()
    digest = lock.digest()
    facts: dict[str, Any] = {
        "facts_version": 1,
        "root": "/",
        "live": True,
        "deep": False,
        "hostname": hostname,
        "complete": True,
        "os_release": {"ID": "ubuntu", "VERSION_ID": "22.04", "VERSION_CODENAME": "jammy"},
        "kernel": {"running": lock.kernel.version if lock.kernel else "6.1.0-test", "installed": []},
        "dpkg": dpkg,
        "python": None,
        "nvidia": {"driver_version": None, "cuda_version": None, "sources": {}},
        "models": [],
        "fingerprint": {"digest": digest, "lock_digest": digest, "lock_name": lock.name},
        "errors": [],
        "elapsed_s": 0.5,
    }
    venvs = []
    for env in lock.python.environments() if lock.python else []:
        dists = [{"name": p.name, "version": p.version, "site": "lib/python3.11/site-packages"} for p in env.packages]
        locked = {p.name for p in env.packages}
        dists += [
            {"name": n, "version": v, "site": "lib/python3.11/site-packages"}
            for n, v in (("pip", "24.1.2"), ("setuptools", "68.0.0"))
            if n not in locked
        ]
        venvs.append({"venv": env.venv, "exists": True, "version": env.version, "distributions": dists})
    if lock.python and lock.python.envs:
        facts["python_envs"] = venvs
    elif venvs:
        facts["python"] = venvs[0]
    if lock.nvidia:
        v = lock.nvidia.driver_version
        facts["nvidia"] = {
            "driver_version": v,
            "cuda_version": None,
            "sources": {"proc": v, "nvidia-smi": v, "modinfo": v},
        }
    facts["models"] = [
        {"dest": m.dest, "exists": True, "files": [{"path": f.path, "size": f.size} for f in m.files]}
        for m in lock.models
    ]
    return facts


def plant(facts: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A copy of `facts` with one to three kinds of drift a real fleet shows."""
    out = copy.deepcopy(facts)
    kinds = rng.sample(["apt", "python", "model", "driver", "fingerprint"], rng.randint(1, 3))
    for kind in kinds:
        owned = [row for row in out["dpkg"] if not row[0].startswith("base-pkg-")]
        if kind == "apt" and owned:
            row = rng.choice(owned)
            row[1] = row[1] + "+hotfix1"
        elif kind == "python" and out.get("python") and out["python"]["distributions"]:
            dist = rng.choice(out["python"]["distributions"])
            dist["version"] = dist["version"] + ".post1"
        elif kind == "model" and out["models"] and out["models"][0]["files"]:
            rng.choice(out["models"][0]["files"])["size"] += 1
        elif kind == "driver" and out["nvidia"]["sources"]:
            out["nvidia"]["sources"]["proc"] = "535.183.01"
        elif kind == "fingerprint":
            out["fingerprint"]["digest"] = "f" * 64
    return out
