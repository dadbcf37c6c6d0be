"""`lock init`: turn the one line users type into a full intent file they can edit.

Grammar, parts joined by '+':  `cu124 torch 2.6 + vllm 0.6.6.post1 + python 3.12 + ubuntu 24.04`
  cuXYZ / cpu / rocmX.Y   the PyTorch flavour (torch, torchvision, torchaudio, triton from its index)
  python X.Y              the target interpreter (default 3.11)
  ubuntu 20.04|22.04|24.04  the target OS, which fixes the manylinux glibc level (default 22.04)
  cuda X.Y.Z / driver X.Y.Z the NVIDIA runfile to lock
  NAME [VERSION]          a Python requirement; VERSION with fewer than three parts means VERSION.*
  any PEP 508 string      taken as written (e.g. "transformers>=4.45")

An intent that cannot be locked whatever the index serves (a release whose own metadata pins a dependency
the line excludes: vllm 0.6.6.post1 pins torch==2.5.1) is refused before anything is written: the user
fixes the one line, not a file they did not write.
"""

from __future__ import annotations

import json
import re

from packaging.requirements import InvalidRequirement, Requirement

from imagelock import domains
from imagelock import rules as compat
from imagelock.errors import AnswerIsNo, InputError
from imagelock.intent.python import DEFAULT_BOOTSTRAP, DEFAULT_PYTHON, DEFAULT_VENV, TORCH_FLAVOURS
from imagelock.net.http import redact_text

UBUNTU_GLIBC = {"20.04": 31, "22.04": 35, "24.04": 39}
_VERSION = re.compile(r"^\d+(\.\d+)*([a-z]+\d*)?(\.post\d+)?(\.dev\d+)?$")


def _requirement(name: str, version: str | None, spec: str) -> str:
    if version is None:
        text = name
    elif len(version.split(".")) < 3 and version.replace(".", "").isdigit():
        text = f"{name}=={version}.*"
    else:
        text = f"{name}=={version}"
    try:
        return str(Requirement(text))
    except InvalidRequirement:
        raise InputError("lock init", spec, f"{text!r} is not a valid requirement") from None


def intent_text(spec: str, name: str) -> str:
    """The intent file for a one-line spec, with every default written out and commented."""
    flavour = None
    python = DEFAULT_PYTHON
    ubuntu = "22.04"
    nvidia: dict[str, str] = {}
    requirements: list[str] = []
    for part in (p.strip() for p in spec.split("+")):
        if not part:
            continue
        if any(op in part for op in "=<>!~;[") and not part.startswith(("cu", "cpu", "rocm")):
            try:
                requirements.append(str(Requirement(part)))
            except InvalidRequirement:
                raise InputError("lock init", part, "expected a PEP 508 requirement") from None
            continue
        tokens = part.split()
        i = 0
        while i < len(tokens):
            token = tokens[i].lower()
            following = tokens[i + 1] if i + 1 < len(tokens) and _VERSION.match(tokens[i + 1]) else None
            if token in TORCH_FLAVOURS:
                flavour = token
            elif token == "python" and following:
                python = following
            elif token == "ubuntu" and following:
                if following not in UBUNTU_GLIBC:
                    raise InputError("lock init", part, f"expected Ubuntu {', '.join(UBUNTU_GLIBC)}")
                ubuntu = following
            elif token in ("cuda", "driver") and following:
                nvidia[token] = following
            elif re.fullmatch(r"[a-z0-9][a-z0-9._-]*", token):
                requirements.append(_requirement(token, following, part))
            else:
                raise InputError(
                    "lock init",
                    part,
                    f"cannot read {tokens[i]!r}: expected a package name, a flavour such as cu124, or 'python X.Y'",
                )
            i += 2 if following else 1
    if flavour is None and any(
        r.split("=")[0].split("<")[0].split(">")[0] in ("torch", "torchvision", "torchaudio") for r in requirements
    ):
        flavour = "cpu" if not nvidia else "cu124"
    lines = [
        f"# imagelock intent, written by: lock init {json.dumps(redact_text(spec))}",
        "# Edit freely; `lock update` turns it into a lock. Reference: docs/intent.md",
        f"name = {json.dumps(name)}",
        "",
        "[universe]",
        "# Nothing uploaded after this instant is considered. Left out, the lock records",
        "# the time of its first update, so re-resolving gives the same answer.",
        '# cutoff = "2025-05-01T00:00:00Z"',
        "",
        f"# Target: Ubuntu {ubuntu}, x86_64. Uncomment to lock the base AMI per region.",
        "# [base]",
        f'# image = "ubuntu {ubuntu}"',
        '# regions = ["us-east-1"]',
        "",
    ]
    if nvidia:
        lines += ["[nvidia]"] + [f"{k} = {json.dumps(v)}" for k, v in nvidia.items()] + [""]
    lines += [
        "[python]",
        f"version = {json.dumps(python)}",
        f"platform = {json.dumps(f'x86_64-manylinux_2_{UBUNTU_GLIBC[ubuntu]}')}",
        f"venv = {json.dumps(DEFAULT_VENV)}",
        "requirements = [",
        *[f"    {json.dumps(r)}," for r in requirements],
        "]",
        "# Locked like any other package.",
        f"bootstrap = {json.dumps(list(DEFAULT_BOOTSTRAP))}",
    ]
    if flavour:
        lines += [
            "",
            "# torch, torchvision, torchaudio and triton come from this flavour's PyTorch index,",
            "# and nothing else does.",
            "[python.torch]",
            f"cuda = {json.dumps(flavour)}",
        ]
    text = "\n".join(lines) + "\n"
    domains.loads_intent(text, f"{name}.toml")  # what init writes must read back
    return text


def refuse_known_conflicts(spec: str, text: str, name: str) -> None:
    """AnswerIsNo (exit 1) when the intent `text` cannot be locked by what needs no index: releases whose own
    metadata excludes each other, or exact pins a cross-layer rule refuses (torch 2.6.0 with torchvision
    0.20.1). One line per conflict with its fix, and where the fact comes from."""
    found = compat.without_index(domains.loads_intent(text, f"{name}.toml")).violations
    if not found:
        return
    lines = []
    for finding in found:
        lines += [finding.one_line(), *([f"  source: {finding.source}"] if finding.source else [])]
    count = f"{len(found)} known conflict{'s' if len(found) != 1 else ''}"
    raise AnswerIsNo(
        f"lock init: {json.dumps(redact_text(spec))} cannot be locked ({count}); nothing was written", lines
    )
