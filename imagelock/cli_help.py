"""What `lock --help` and `lock COMMAND --help` say beyond the options: a description, examples and the exit
codes (0 yes, 1 no, 2 could not answer, with what "no" means for that command), as uv and git write theirs.

`describe(parser)` is called once by imagelock.cli.build_parser; the options themselves stay where they are
declared, and an option declared without a help line gets the common one here (`--json`, `lock` ...).
"""

from __future__ import annotations

import argparse
import textwrap

# command -> (description, examples, what exit 1 means; None: the command never answers "no")
COMMANDS: dict[str, tuple[str, tuple[str, ...], str | None]] = {
    "init": (
        "Write an intent file (what the image should hold) from a one-line description; `lock update` locks it.",
        ('lock init "cu124 torch 2.6 + vllm 0.8.0" --name worker',),
        "the line asks for releases that cannot be installed together, as their own published metadata says "
        "(vllm 0.6.6.post1 pins torch==2.5.1); nothing is written",
    ),
    "update": (
        "Resolve the intent against its sources at the universe's cutoff and write the lock: every layer, "
        "every file pinned by sha256. Locked versions stay unless --upgrade or --upgrade-package moves them.",
        ("lock update locks/seed.toml", "lock update locks/seed.toml --only python --upgrade-package vllm"),
        None,
    ),
    "check": (
        "Offline: is the lock fresh for its intent, internally consistent and untampered; optionally are the "
        "generated files current, is it signed, do its sources still serve every artifact.",
        ("lock check locks/seed.toml", "lock check locks/seed.toml --generated generated/seed --strict"),
        "the lock is stale, inconsistent or tampered, a generated file is stale, a signature does not verify, "
        "an artifact is gone (--online) or, with --strict, there is a finding",
    ),
    "sign": (
        "Sign a lock with an SSH key (ssh-keygen -Y sign, namespace imagelock), writing LOCK.sig beside it.",
        ("lock sign locks/seed.lock --key ~/.ssh/id_ed25519",),
        None,
    ),
    "generate": (
        "Write the files that build the lock's image: bootstrap.sh, the Packer template, the manifests, "
        "pylock.toml and the SBOM (sbom.cdx.json, CycloneDX; sbom.spdx.json, SPDX). "
        "Same lock, byte-identical files.",
        ("lock generate locks/seed.lock -o generated/seed",),
        None,
    ),
    "collect": (
        "Print this machine's (or a root filesystem's) facts as one JSON document, for `lock drift --facts`. "
        "Standard library only; writes nothing, opens no connection. It lists the venvs and model folders "
        "--lock names, else those of the image's fingerprint (/etc/imagelock/lock.toml).",
        (
            "lock collect > facts.json",
            "lock collect --lock locks/seed.lock > facts.json",
            "lock collect --root /mnt/image --deep",
        ),
        None,
    ),
    "drift": (
        "Compare a machine, or a fleet, with the lock and name every difference, by layer; "
        "report as text, JSON, JUnit or Prometheus.",
        (
            "lock drift locks/seed.lock --ssh ubuntu@10.0.3.17",
            "lock drift locks/seed.lock --ssm tag:Role=gpu --format prometheus -o imagelock.prom",
        ),
        "some machine drifted from the lock (or, in a fleet, could not be audited)",
    ),
    "mirror": (
        "Copy every locked artifact, keyed by sha256, to S3, an HTTP(S) prefix or a directory: a snapshot "
        "that keeps the lock buildable.",
        (
            "lock mirror locks/seed.lock --to s3://my-bucket/imagelock",
            "lock mirror locks/eks.lock --to docker://mirror.internal:5000/cache",
        ),
        "some artifact could not be copied",
    ),
    "publish": (
        "Push a disk image `lock generate`'s disk-image.sh built as an OCI artifact (one layer, the lock's digest "
        "and version in its annotations), then write LOCK.release.json with the manifest digest.",
        ("lock publish locks/slice.lock build/slice/image.raw --to registry.example.com/images/slice:1.0.0",),
        None,
    ),
    "diff": (
        "What changed between two locks, layer by layer: added, removed, moved versions and hashes.",
        ("lock diff old.lock locks/seed.lock --format markdown",),
        "the locks differ",
    ),
    "why": (
        "Why a Python or apt package is in the lock: every path from what the intent asked for.",
        ("lock why numpy --lock locks/seed.lock",),
        None,
    ),
}

# Options declared without a help line, by their destination.
OPTION_HELP = {
    "json": "print the answer as JSON, for machines",
    "intent": "the intent file (TOML)",
    "lock": "the lock file",
    "old": "the lock before",
    "new": "the lock after",
    "name": "the package to explain",
    "engine": "the Python resolution engine (default: uv)",
}

DOCS = "docs/cli.md"


def exit_status(no: str | None) -> str:
    one = f"  1  no: {no}" if no else "  1  (not used: this command answers no question with no)"
    return "\n".join(
        ("Exit status:", "  0  yes: done, or the answer is yes", one, "  2  could not answer: bad input or environment")
    )


def epilog(examples: tuple[str, ...], no: str | None) -> str:
    lines = ["Examples:", *(f"  {e}" for e in examples), "", exit_status(no), "", f"See {DOCS}."]
    return "\n".join(lines)


def describe(parser: argparse.ArgumentParser) -> None:
    """Give `lock` and every subcommand its description, examples and exit status."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = "\n".join(
        (
            "Examples:",
            '  lock init "cu124 torch 2.6 + vllm 0.8.0"',
            "  lock update locks/image.toml && lock generate locks/image.lock -o generated",
            "  lock drift locks/image.lock --ssh ubuntu@worker-1",
            "",
            "Exit status:",
            "  0  yes (fresh, same, no drift, done)",
            "  1  no (stale, differs, drifted, conflict)",
            "  2  could not answer (bad input, unreachable upstream)",
            "",
            "Run `lock COMMAND --help` for each command's options.",
        )
    )
    for name, sub in subcommands(parser).items():
        description, examples, no = COMMANDS[name]
        sub.formatter_class = argparse.RawDescriptionHelpFormatter
        sub.description = textwrap.fill(description, 79)
        sub.epilog = epilog(examples, no)
        for action in sub._actions:
            if action.help is None:
                action.help = OPTION_HELP.get(action.dest)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Every subcommand's parser, by name, as argparse holds them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}
