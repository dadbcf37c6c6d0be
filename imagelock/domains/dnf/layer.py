"""The dnf layer of `lock update`: intent -> verified repositories -> libsolv closure -> DnfLayer."""

from __future__ import annotations

import sys
from pathlib import Path

from imagelock.domains.context import UpdateContext
from imagelock.domains.dnf import kernel_devel, numbered
from imagelock.domains.dnf.closure import Solver
from imagelock.domains.dnf.manifest import read_manifest
from imagelock.domains.dnf.releases import choose
from imagelock.domains.dnf.repository import load_repo
from imagelock.hashing import sha256_file
from imagelock.intent.dnf import DnfIntent
from imagelock.lock.model import DnfLayer
from imagelock.net import http


def resolve(ctx: UpdateContext) -> DnfLayer:
    chosen = choose(ctx, ctx.intent.sections["dnf"])
    intent: DnfIntent = chosen.intent
    workdir = ctx.workdir or http.cache_dir() / "keyrings"
    Path(workdir).mkdir(parents=True, exist_ok=True)
    repos = [load_repo(ctx, intent, repo, Path(workdir)) for repo in intent.repos]
    installed = read_manifest(intent.base_manifest) if intent.base_manifest else []
    solver = Solver(intent, repos, installed)
    before = ctx.previous.dnf.chosen if ctx.previous is not None and ctx.previous.dnf is not None else []
    names = numbered.choose(
        intent.choose, solver.offered(), before, upgrade=ctx.upgrade, path=intent.path, releasever=intent.releasever
    )
    closure = solver.solve(names)
    kernel_devel.check(closure.packages, installed)
    for warning in closure.warnings:
        print(f"imagelock: warning: dnf: {warning}", file=sys.stderr)
    return DnfLayer(
        releasever=intent.releasever,
        basearch=intent.basearch,
        repos=[r.record for r in repos],
        packages=sorted(closure.packages, key=lambda p: (p.name, p.arch)),
        install_weak_deps=intent.install_weak_deps,
        base_manifest_sha256=sha256_file(intent.base_manifest) if intent.base_manifest else None,
        release_list=chosen.release_list,
        release_list_sha256=chosen.release_list_sha256,
        chosen=names,
    )
