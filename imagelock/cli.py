"""The `lock` command. Exit codes everywhere: 0 yes, 1 no, 2 could not answer."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from imagelock import __version__, cli_help, domains
from imagelock.build.generate import generate, generate_ansible, load, stale_files
from imagelock.commands import signing
from imagelock.commands.check import check
from imagelock.commands.init import intent_text, refuse_known_conflicts
from imagelock.commands.mirror import run_mirror
from imagelock.commands.online import check_online
from imagelock.commands.update import UpdateResult, update
from imagelock.drift import collector
from imagelock.drift.run import DriftRequest, drift
from imagelock.errors import EXIT_ERROR, EXIT_NO, EXIT_OK, AnswerIsNo, ImagelockError, InputError, UpstreamError
from imagelock.lock.diff import render, render_summary
from imagelock.lock.finding import Finding
from imagelock.lock.why import why
from imagelock.net.http import redact_text
from imagelock.progress import LayerProgress
from imagelock.writes import write_atomic


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line, like every other input error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError(None, self.prog, message)


def _emit(args: argparse.Namespace, human: str, data: dict[str, object]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, sort_keys=True))
    elif human:
        print(human)


def cmd_init(args: argparse.Namespace) -> int:
    path = Path(args.output or f"locks/{args.name}.toml")
    if path.exists() and not args.force:
        raise InputError(path, None, "already exists (use --force to overwrite)")
    text = intent_text(args.spec, args.name)
    refuse_known_conflicts(args.spec, text, args.name)
    write_atomic(path, text)
    _emit(args, f"wrote {path}; next: lock update {path}", {"intent": str(path)})
    return EXIT_OK


def cmd_update(args: argparse.Namespace) -> int:
    with LayerProgress("update", "resolving") as progress:
        result = _update(args, progress)
    return _answer_update(args, result)


def _update(args: argparse.Namespace, progress: LayerProgress) -> UpdateResult:
    return update(
        args.intent,
        args.lock,
        only=args.only,
        upgrade=args.upgrade,
        upgrade_packages=args.upgrade_package,
        refresh=args.refresh,
        dry_run=args.dry_run,
        engine=args.engine,
        replay=args.replay,
        cutoff=args.cutoff,
        learn=args.learn,
        progress=progress,
    )


def _answer_update(args: argparse.Namespace, result: UpdateResult) -> int:
    """The answer only reads the new lock, so its digest (a walk over every entry) is computed once."""
    with result.lock.frozen():
        return _report_update(args, result)


def _report_update(args: argparse.Namespace, result: UpdateResult) -> int:
    lock = result.lock
    moved = domains.diff_locks(result.previous, lock)
    counts = [line for domain, layer in domains.present(lock) if (line := domain.summary(layer))]
    what = ", ".join(counts) or "nothing"
    if args.dry_run:
        verb = "would change" if result.changed else "would leave unchanged"
    else:
        verb = "wrote" if result.written else "unchanged"
    human = [f"{verb} {result.path}: {what} (image {lock.image_name()}, version {lock.version})"]
    images = {name: view for name, view in domains.images(lock) if name is not None}
    for name, view in images.items():  # each variant's image, and what it holds of its own
        entry = lock.variants[name]
        shared = [f"{s.replace('@', ' as ')}'s" for s in entry.take if "@" in s.partition(":")[0]]
        own = ", ".join([*sorted(entry.layers), *shared]) or "nothing"
        human.append(f"variant {name}: image {view.image_name()} (its own: {own})")
    if args.learn is not None:
        human.append(
            f"learned the hash of {result.learned} file(s) from {args.learn}"
            if result.learned
            else f"learned nothing from {args.learn}: no file this lock holds without a hash is listed there"
        )
    if result.previous is not None and moved.differ:
        human.append(render_summary(moved))
    if result.report:
        human += result.report.lines()
    _emit(
        args,
        "\n".join(human),
        {
            "lock": str(result.path),
            "digest": lock.digest(),
            "image": lock.image_name(),
            "version": lock.version,
            "changed": result.changed,
            "written": result.written,
            "dry_run": args.dry_run,
            "diff": moved.to_json(),
            **(
                {"variants": {n: {"image": v.image_name(), "digest": v.digest()} for n, v in images.items()}}
                if images
                else {}
            ),
        },
    )
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    if args.intent is None and args.generated is None and not (args.online and args.lock):
        raise InputError(None, "lock check", "give the INTENT to check, --generated DIR, or --online --lock LOCK")
    if args.strict and args.intent is None:
        raise InputError(None, "lock check", "--strict needs the INTENT: findings compare the lock with its intent")
    problems: list[str] = []
    notes: list[str] = []
    findings: list[Finding] = []
    digest = image = None
    if args.intent is not None:
        result = check(args.intent, args.lock)
        lock_path = result.lock_path
        problems += [f"{lock_path}: {p}" for p in result.problems]
        notes += result.notes
        findings = result.findings
        digest, image = result.digest, result.image
    else:
        lock_path = Path(args.lock) if args.lock else Path(args.generated) / "lock.toml"
    stale: list[str] = []
    tampered = any(p.startswith(f"{lock_path}: tampered:") for p in problems)
    if args.generated is not None and tampered:
        problems.append(f"{args.generated}: not checked: nothing is generated from a lock edited by hand")
    elif args.generated is not None:
        stale = stale_files(lock_path, args.generated)
        problems += stale
    if digest is None:  # no intent: the lock must still be intact (load refuses one edited by hand)
        lock, _ = load(lock_path)
        digest, image = lock.digest(), lock.image_name()
    what = f"{lock_path}: fresh" if args.intent is not None else f"{lock_path}: intact"
    if args.generated is not None:
        what += f"; generated files in {args.generated} current"
    failed = bool(problems) or (args.strict and bool(findings))
    signed_by = None
    if args.verify_signature is not None and not tampered:
        signed_by = signing.verify(lock_path, Path(args.verify_signature)).principal  # AnswerIsNo: exit 1
        what += f"; signed by {signed_by}"
    online_lines: list[str] = []
    gone: list[str] = []
    if args.online and not tampered:
        with LayerProgress("online", "checking", "artifacts") as progress:
            report = check_online(lock_path, mirror=args.mirror, jobs=args.jobs, progress=progress)
        if report.unanswered:
            raise UpstreamError(
                f"{lock_path}: online: no source answered at all ({report.counted}): "
                "is this machine offline? nothing can be said about the artifacts"
            )
        online_lines = report.lines()
        gone = report.gone_names
        failed = failed or bool(gone)
    human = "\n".join(
        (problems or [f"{what} (image {image})"])
        + [f"{lock_path}: {f.one_line()}" for f in findings]
        + [f"{lock_path}: {n}" for n in notes]
        + online_lines
    )
    _emit(
        args,
        human,
        {
            "lock": str(lock_path),
            "ok": not failed,
            "problems": problems,
            "notes": notes,
            "findings": [f.to_json() for f in findings],
            "strict": args.strict,
            "digest": digest,
            "image": image,
            "stale_files": stale,
            "online": {"checked": args.online, "gone": gone},
            "signed_by": signed_by,
        },
    )
    return EXIT_NO if failed else EXIT_OK


def cmd_sign(args: argparse.Namespace) -> int:
    out = signing.sign(Path(args.lock), Path(args.key))
    _emit(args, f"wrote {out}: an SSH signature (namespace imagelock) over {args.lock}", {"signature": str(out)})
    return EXIT_OK


def cmd_generate(args: argparse.Namespace) -> int:
    out = Path(args.output)
    if args.format == "ansible":
        written = generate_ansible(args.lock, out, args.intent)
    elif args.intent is not None:
        raise InputError(None, "--intent", "only --format ansible reads the intent")
    else:
        written = generate(args.lock, out)
    names = [w.path.relative_to(out).as_posix() for w in written]  # `<variant>/<file>` for a lock with variants
    changed = [name for name, w in zip(names, written, strict=True) if w.changed]
    human = f"wrote {', '.join(changed)} to {out}" if changed else f"{out}: all {len(written)} files already current"
    _emit(args, human, {"output": str(out), "files": names, "changed": changed})
    return EXIT_OK


def cmd_collect(args: argparse.Namespace) -> int:
    argv = ["--root", args.root, "--timeout", str(args.timeout)]
    venvs, folders, placed = list(args.venv or []), list(args.models), []
    if args.lock is not None:  # what `lock drift` compares, whatever the machine's fingerprint says
        from imagelock.drift.compare import LockIndex

        index = LockIndex(domains.read_intact_lock(args.lock, "nothing was collected"))
        venvs = venvs or index.venvs
        folders = folders or index.model_dests
        placed = sorted(index.placed)
    for venv in venvs:
        argv += ["--venv", venv]
    for folder in folders:
        argv += ["--models", folder]
    for path in placed:
        argv += ["--file", path]
    if args.deep:
        argv.append("--deep")
    if not Path(args.root).is_dir():
        raise InputError(args.root, None, "--root: not a directory (expected a root filesystem)")
    return collector.main(argv)


def cmd_drift(args: argparse.Namespace) -> int:
    if args.timeout <= 0:
        raise InputError(None, "--timeout", f"expected a positive number of seconds, found {args.timeout:g}")
    if args.cache is not None or args.release is not None:
        return _drift_cache(args)
    if args.lock is None:
        raise InputError(None, "lock drift", "name the lock (or --cache PATH --release RECORD for a disk image)")
    req = DriftRequest(
        lock=args.lock,
        local=args.local,
        root=args.root,
        facts=args.facts or [],
        ssh=args.ssh,
        ssm=args.ssm,
        ray=args.ray,
        deep=args.deep,
        strict=args.strict,
        fmt=args.format,
        output=args.output,
        timeout=args.timeout,
        s3_bucket=args.s3_bucket,
        s3_prefix=args.s3_prefix,
        max_concurrency=args.max_concurrency,
        max_errors=args.max_errors,
        region=args.region,
    )
    code, text = drift(req)
    if not args.output:
        print(text)
    return code


def _drift_cache(args: argparse.Namespace) -> int:
    """`--cache PATH`: a host's cached disk image against its release record (imagelock.disk.cache)."""
    from imagelock.disk import cache, publish, record

    if args.cache is None:
        raise InputError(None, "--release", "goes with --cache PATH (the cached disk image to verify)")
    others = [
        flag
        for flag, value in (("--root", args.root), ("--facts", args.facts), ("--ssm", args.ssm), ("--ray", args.ray))
        if value
    ]
    if others:
        raise InputError(None, "--cache", f"verifies one file, here or over --ssh; not with {others[0]}")
    if args.release is None and args.lock is None:
        raise InputError(None, "--cache", "name the release record with --release RECORD (or the lock beside it)")
    release = record.read(args.release or publish.record_path(args.lock))
    if args.ssh:
        state = cache.verify_ssh(args.ssh, args.cache, release, args.timeout)
    else:
        state = cache.verify(args.cache, release)
    text = json.dumps(state.to_json(), indent=2, sort_keys=True) if args.format == "json" else state.line()
    if args.output:
        write_atomic(args.output, text + "\n")
    else:
        print(text)
    return state.exit_code


def cmd_publish(args: argparse.Namespace) -> int:
    from imagelock.disk.publish import publish, record_path

    release = publish(args.lock, args.file, args.to)
    _emit(
        args,
        f"published {release.file} ({release.size} bytes, sha256 {release.sha256[:12]}) as {release.reference}@"
        f"{release.digest}; wrote {record_path(args.lock)}",
        release.to_json(),
    )
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    old = domains.read_lock(args.old)[0]
    new = domains.read_lock(args.new)[0]
    result = domains.diff_locks(old, new)
    fmt = "json" if args.json else args.format
    if not (old.variants or new.variants):
        print(render(result, fmt))
        return EXIT_NO if result.differ else EXIT_OK
    variants = domains.diff_variants(old, new)  # each image as it is built, after the shared layers
    differ = result.differ or any(d is None or d.differ for d in variants.values())
    if fmt == "json":
        data = {
            "differ": differ,
            "shared": result.to_json(),
            "variants": {name: (d.to_json() if d else {"removed": True}) for name, d in variants.items()},
        }
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        parts = [f"shared layers: {render(result, fmt)}"]
        parts += [f"variant {name}: {render(d, fmt) if d else 'removed'}" for name, d in variants.items()]
        print("\n".join(parts))
    return EXIT_NO if differ else EXIT_OK


def _default_lock() -> Path:
    """The one lock under ./locks, when there is exactly one."""
    found = sorted(Path("locks").glob("*.lock"))
    if len(found) != 1:
        raise InputError(None, "--lock", f"name the lock to ask (found {len(found)} locks under ./locks)")
    return found[0]


def cmd_why(args: argparse.Namespace) -> int:

    path = Path(args.lock) if args.lock else _default_lock()
    answers = why(domains.read_lock(path)[0], args.name, path)
    human = "\n".join(line for answer in answers for line in answer.lines())
    _emit(
        args,
        human,
        {
            "lock": str(path),
            "answers": [
                {
                    "layer": a.layer,
                    "name": a.name,
                    "version": a.version,
                    "requested": a.requested,
                    "original": a.original,
                    "paths": a.paths,
                    "requested_packages_leading_to_it": a.total,
                }
                for a in answers
            ],
        },
    )
    return EXIT_OK


def cmd_mirror(args: argparse.Namespace) -> int:
    with LayerProgress("mirror", "copying", "artifacts") as progress:
        summary = run_mirror(args.lock, args.to, args.jobs, record_as=args.record_as, progress=progress)
    _emit(args, "\n".join(summary.lines()), summary.to_json())
    return summary.exit_code


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lock", description="Lock every layer of a GPU machine image.")
    parser.add_argument("--version", action="version", version=f"imagelock {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("init", help="write an intent file from a one-line description")
    p.add_argument("spec", help='e.g. "cu124 torch 2.6 + vllm 0.6.6.post1"')
    p.add_argument("--name", default="image", help="the image name (default: image)")
    p.add_argument("-o", "--output", help="intent path (default: locks/NAME.toml)")
    p.add_argument("--force", action="store_true", help="overwrite an existing intent file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("update", help="resolve the intent and write the lock")
    p.add_argument("intent")
    p.add_argument("--lock", help="lock path (default: the intent path with .lock)")
    p.add_argument(
        "--only",
        action="extend",
        nargs="+",
        metavar="DOMAIN",
        help="re-resolve only these domains (python.NAME: only that Python env); the others keep what the lock has",
    )
    p.add_argument("--upgrade", action="store_true", help="re-resolve everything, ignoring locked versions")
    p.add_argument(
        "--upgrade-package",
        action="extend",
        nargs="+",
        default=[],
        metavar="NAME",
        help="move only these packages; everything else keeps its locked version",
    )
    p.add_argument(
        "--refresh",
        action="extend",
        nargs="+",
        default=[],
        metavar="DOMAIN",
        help="recompute recorded hashes of this domain (e.g. nvidia)",
    )
    p.add_argument("--engine", choices=("uv", "pip-tools"), default="uv")
    p.add_argument(
        "--replay",
        metavar="DIR",
        help="serve recorded upstream answers from DIR on loopback "
        "instead of reaching the network (the lock still records upstream URLs)",
    )
    p.add_argument(
        "--cutoff",
        metavar="DATE",
        help="move the universe to this RFC 3339 time (when the intent "
        "pins none); locked versions stay unless --upgrade or --upgrade-package moves them",
    )
    p.add_argument(
        "--learn",
        metavar="MEASURED",
        help="write into the lock the sha256 and size a build measured (its /var/lib/imagelock/measured.json) "
        "for files the lock holds without a hash",
    )
    p.add_argument("--dry-run", action="store_true", help="resolve and report, write nothing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_update)

    p = sub.add_parser("check", help="is the lock fresh for its intent and intact? (offline)")
    p.add_argument("intent", nargs="?", help="the intent (optional with --generated)")
    p.add_argument("--lock", help="lock path (default: the intent path with .lock, or DIR/lock.toml)")
    p.add_argument(
        "--generated",
        metavar="DIR",
        help="also check that DIR holds exactly what "
        "`lock generate` writes for this lock (exit 1 naming each stale file)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="also exit 1 when there is any finding: something the "
        "lock does not pin or prove (docs/reproducibility.md)",
    )
    p.add_argument(
        "--online",
        action="store_true",
        help="also ask every artifact's sources (mirror first) whether they still serve it; exit 1 listing "
        "what is gone",
    )
    p.add_argument("--mirror", help="with --online: the mirror to ask first (default: the lock's [mirror] url)")
    p.add_argument("--jobs", type=int, default=16, help="with --online: sources asked at once (default 16)")
    p.add_argument(
        "--verify-signature",
        metavar="ALLOWED_SIGNERS",
        help="also require LOCK.sig (`lock sign`) made by a key this allowed-signers file lists (exit 1 if not)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("sign", help="sign a lock with an SSH key (writes LOCK.sig; ssh-keygen -Y sign)")
    p.add_argument("lock", help="the lock file")
    p.add_argument("--key", required=True, help="the SSH private key to sign with, such as ~/.ssh/id_ed25519")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sign)

    p = sub.add_parser("generate", help="write bootstrap.sh, the Packer template and manifests for a lock")
    p.add_argument("lock", help="the lock file")
    p.add_argument("-o", "--output", default="generated", help="output directory (default: generated)")
    p.add_argument(
        "--format",
        choices=("image", "ansible"),
        default="image",
        help="image: bootstrap.sh, the Packer template, manifests (DIR is imagelock's); ansible: role defaults, "
        "group_vars/all.yml and a playbook per variant, from the intent's [ansible] section, into an Ansible "
        "tree whose other files are kept (docs/ansible.md)",
    )
    p.add_argument("--intent", help="with --format ansible: the intent (default: the lock's path with .toml)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("collect", help="print this machine's (or a root filesystem's) facts as JSON")
    p.add_argument("--root", default="/", help="root filesystem to read (default: /, the live machine)")
    p.add_argument(
        "--lock",
        metavar="LOCK",
        help="collect what this lock's drift audit needs: its venvs, model folders, placed files",
    )
    p.add_argument(
        "--venv",
        action="append",
        help="a venv to list, once per Python env (default: --lock's, else /etc/imagelock/lock.toml's, "
        "else every /opt/venvs/* and /opt/* venv)",
    )
    p.add_argument(
        "--models",
        action="append",
        default=[],
        metavar="DIR",
        help="a model folder (repeatable; default: --lock's, else /etc/imagelock/lock.toml's)",
    )
    p.add_argument("--deep", action="store_true", help="hash model files and check the venv's RECORD hashes")
    p.add_argument("--timeout", type=float, default=120.0, help="stop after this many seconds (default 120)")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("drift", help="compare a machine or a fleet with the lock (0 same, 1 drift, 2 not audited)")
    p.add_argument("lock", nargs="?", help="the lock (with --cache: optional, its release record is LOCK.release.json)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="this machine (the default)")
    where.add_argument("--root", metavar="DIR", help="a root filesystem")
    where.add_argument(
        "--facts",
        metavar="FILE",
        action="append",
        help="a facts document from `lock collect` (repeat for a fleet of files)",
    )
    where.add_argument("--ssh", metavar="HOST", help="one machine over ssh: [user@]host[:port]")
    where.add_argument("--ssm", metavar="TARGET", help="AWS SSM Run Command: i-...,i-... or tag:KEY=VALUE")
    where.add_argument("--ray", metavar="ADDRESS", help="every alive node of a Ray cluster (e.g. auto)")
    p.add_argument("--deep", action="store_true", help="also hash model files and installed Python files")
    p.add_argument(
        "--strict",
        action="store_true",
        help="the lock's apt layer is the whole dpkg database: report every other package as extra",
    )
    p.add_argument(
        "--format",
        choices=("text", "json", "junit", "prometheus"),
        default="text",
        help="prometheus: node_exporter's textfile format, for its textfile collector",
    )
    p.add_argument("--json", action="store_const", dest="format", const="json", help="same as --format json")
    p.add_argument("-o", "--output", metavar="FILE", help="write the report here instead of stdout")
    p.add_argument("--timeout", type=float, default=300.0, help="per-machine timeout in seconds (default 300)")
    p.add_argument("--s3-bucket", help="SSM: have SSM write outputs to this bucket (needed past 24,000 chars)")
    p.add_argument("--s3-prefix", default="imagelock-drift", help="SSM: key prefix for outputs")
    p.add_argument("--max-concurrency", default="50", help="SSM MaxConcurrency (count or percent)")
    p.add_argument("--max-errors", default="100%", help="SSM MaxErrors (count or percent; default 100%%)")
    p.add_argument("--region", help="AWS region (default: the boto3 configuration)")
    p.add_argument(
        "--cache",
        metavar="PATH",
        help="a node-local disk image: verified, missing or changed against the release record (docs/disk-images.md)",
    )
    p.add_argument("--release", metavar="RECORD", help="with --cache: the release record `lock publish` wrote")
    p.set_defaults(func=cmd_drift)

    p = sub.add_parser("publish", help="push a disk image as an OCI artifact; write LOCK.release.json")
    p.add_argument("lock", help="the lock the disk image was built from")
    p.add_argument("file", help="the .raw or .qcow2 file disk-image.sh wrote")
    p.add_argument("--to", required=True, metavar="REF", help="registry/repository:tag (plain HTTP only on loopback)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser(
        "mirror", help="copy every locked artifact, keyed by sha256, to S3, an HTTP(S) prefix or a directory"
    )
    p.add_argument("lock")
    p.add_argument(
        "--to",
        required=True,
        metavar="TARGET",
        help="s3://BUCKET/PREFIX, an http(s):// prefix that accepts PUT, a directory, or docker://REGISTRY[/PREFIX] "
        "(container images only, by digest)",
    )
    p.add_argument(
        "--record-as",
        metavar="URL",
        help="the http(s):// or s3:// URL builds read the mirror at, recorded in the lock "
        "(default: the --to URL; a directory is recorded only with this)",
    )
    p.add_argument("--jobs", type=int, default=4, help="parallel uploads (default 4)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_mirror)

    p = sub.add_parser("diff", help="what changed between two locks (exit 1 when they differ)")
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument(
        "--format", choices=("text", "markdown", "json"), default="text", help="markdown renders a pull-request body"
    )
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("why", help="why a Python or apt package is in the lock: paths from what was asked for")
    p.add_argument("name")
    p.add_argument("--lock", help="lock path (default: the only lock under ./locks)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_why)
    cli_help.describe(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    wants_json = "--json" in argv
    try:
        args = build_parser().parse_args(argv)
        func: Callable[[argparse.Namespace], int] = args.func
        return func(args)
    except AnswerIsNo as answer:
        summary, details = redact_text(answer.summary), [redact_text(line) for line in answer.details]
        if wants_json:
            print(json.dumps({"ok": False, "summary": summary, "details": details}, indent=2))
        else:
            print(summary)
            for line in details:
                print(line)
        return EXIT_NO
    except ImagelockError as error:
        message = redact_text(str(error))  # whatever an error quotes, a password never reaches the terminal
        details = [redact_text(line) for line in error.details]
        if wants_json:
            print(json.dumps({"ok": False, "error": message, **({"details": details} if details else {})}))
        else:
            for line in details:
                print(line)
        print(f"lock: error: {message}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("lock: interrupted; nothing was written", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # `lock why torch | head`: the reader left; say nothing more, as other Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
