"""The `lock` command. Exit codes everywhere: 0 yes, 1 no, 2 could not answer."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from imagelock import __version__
from imagelock.errors import EXIT_ERROR, EXIT_NO, EXIT_OK, AnswerIsNo, ImagelockError, InputError


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
    from imagelock.lockfile import write_atomic
    from imagelock.resolver.init import intent_text

    path = Path(args.output or f"locks/{args.name}.toml")
    if path.exists() and not args.force:
        raise InputError(path, None, "already exists (use --force to overwrite)")
    text = intent_text(args.spec, args.name)
    write_atomic(path, text)
    _emit(args, f"wrote {path}; next: lock update {path}", {"intent": str(path)})
    return EXIT_OK


def cmd_update(args: argparse.Namespace) -> int:
    from imagelock.resolver.update import update

    result = update(args.intent, args.lock, only=args.only, upgrade=args.upgrade,
                    upgrade_packages=args.upgrade_package, refresh=args.refresh, dry_run=args.dry_run,
                    engine=args.engine, replay=args.replay)
    lock = result.lock
    counts = []
    if lock.python:
        counts.append(f"{len(lock.python.packages)} python packages")
    if lock.apt:
        counts.append(f"{len(lock.apt.packages)} apt packages")
    if lock.nvidia:
        counts.append(f"nvidia {lock.nvidia.runfile}")
    if lock.models:
        counts.append(f"{sum(len(m.files) for m in lock.models)} model files")
    if lock.base:
        counts.append(f"{len(lock.base.amis)} base AMIs")
    what = ", ".join(counts) or "nothing"
    if args.dry_run:
        verb = "would change" if result.changed else "would leave unchanged"
    else:
        verb = "wrote" if result.written else "unchanged"
    _emit(args, f"{verb} {result.path}: {what} (image {lock.image_name()})",
          {"lock": str(result.path), "digest": lock.digest(), "image": lock.image_name(),
           "changed": result.changed, "written": result.written, "dry_run": args.dry_run})
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from imagelock.resolver.check import check

    result = check(args.intent, args.lock)
    human = "\n".join([f"{result.lock_path}: {p}" for p in result.problems] or
                      [f"{result.lock_path}: fresh (image {result.image})"])
    _emit(args, human, {"lock": str(result.lock_path), "ok": result.ok, "problems": result.problems,
                        "digest": result.digest, "image": result.image})
    return EXIT_OK if result.ok else EXIT_NO


def cmd_collect(args: argparse.Namespace) -> int:
    from imagelock.drift import collector

    argv = ["--root", args.root, "--timeout", str(args.timeout)]
    if args.venv:
        argv += ["--venv", args.venv]
    for folder in args.models:
        argv += ["--models", folder]
    if args.deep:
        argv.append("--deep")
    if not Path(args.root).is_dir():
        raise InputError(args.root, None, "--root: not a directory (expected a root filesystem)")
    return collector.main(argv)


def cmd_drift(args: argparse.Namespace) -> int:
    from imagelock.drift.run import DriftRequest, drift

    if args.timeout <= 0:
        raise InputError(None, "--timeout", f"expected a positive number of seconds, found {args.timeout:g}")
    req = DriftRequest(lock=args.lock, local=args.local, root=args.root, facts=args.facts or [], ssh=args.ssh,
                       ssm=args.ssm, ray=args.ray, deep=args.deep, strict=args.strict, fmt=args.format,
                       output=args.output, timeout=args.timeout, s3_bucket=args.s3_bucket,
                       s3_prefix=args.s3_prefix, max_concurrency=args.max_concurrency,
                       max_errors=args.max_errors, region=args.region)
    code, text = drift(req)
    if not args.output:
        print(text)
    return code


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
    p.add_argument("--only", action="append", metavar="DOMAIN", help="re-resolve only this domain")
    p.add_argument("--upgrade", action="store_true", help="re-resolve everything, ignoring locked versions")
    p.add_argument("--upgrade-package", action="append", default=[], metavar="NAME",
                   help="move only this package; everything else keeps its locked version")
    p.add_argument("--refresh", action="append", default=[], metavar="DOMAIN",
                   help="recompute recorded hashes of this domain (e.g. nvidia)")
    p.add_argument("--engine", choices=("uv", "pip-tools"), default="uv")
    p.add_argument("--replay", metavar="DIR", help="serve recorded upstream answers from DIR on loopback "
                   "instead of reaching the network (the lock still records upstream URLs)")
    p.add_argument("--dry-run", action="store_true", help="resolve and report, write nothing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_update)

    p = sub.add_parser("check", help="is the lock fresh for its intent and intact? (offline)")
    p.add_argument("intent")
    p.add_argument("--lock", help="lock path (default: the intent path with .lock)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("collect", help="print this machine's (or a root filesystem's) facts as JSON")
    p.add_argument("--root", default="/", help="root filesystem to read (default: /, the live machine)")
    p.add_argument("--venv", help="the venv to list (default: the one in /etc/imagelock/lock.toml)")
    p.add_argument("--models", action="append", default=[], metavar="DIR", help="a model folder (repeatable)")
    p.add_argument("--deep", action="store_true", help="hash model files and check the venv's RECORD hashes")
    p.add_argument("--timeout", type=float, default=120.0, help="stop after this many seconds (default 120)")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("drift", help="compare a machine or a fleet with the lock (0 same, 1 drift, 2 not audited)")
    p.add_argument("lock")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="this machine (the default)")
    where.add_argument("--root", metavar="DIR", help="a root filesystem")
    where.add_argument("--facts", metavar="FILE", action="append",
                       help="a facts document from `lock collect` (repeat for a fleet of files)")
    where.add_argument("--ssh", metavar="HOST", help="one machine over ssh: [user@]host[:port]")
    where.add_argument("--ssm", metavar="TARGET", help="AWS SSM Run Command: i-...,i-... or tag:KEY=VALUE")
    where.add_argument("--ray", metavar="ADDRESS", help="every alive node of a Ray cluster (e.g. auto)")
    p.add_argument("--deep", action="store_true", help="also hash model files and installed Python files")
    p.add_argument("--strict", action="store_true",
                   help="the lock's apt layer is the whole dpkg database: report every other package as extra")
    p.add_argument("--format", choices=("text", "json", "junit"), default="text")
    p.add_argument("--json", action="store_const", dest="format", const="json", help="same as --format json")
    p.add_argument("-o", "--output", metavar="FILE", help="write the report here instead of stdout")
    p.add_argument("--timeout", type=float, default=300.0, help="per-machine timeout in seconds (default 300)")
    p.add_argument("--s3-bucket", help="SSM: have SSM write outputs to this bucket (needed past 24,000 chars)")
    p.add_argument("--s3-prefix", default="imagelock-drift", help="SSM: key prefix for outputs")
    p.add_argument("--max-concurrency", default="50", help="SSM MaxConcurrency (count or percent)")
    p.add_argument("--max-errors", default="100%", help="SSM MaxErrors (count or percent; default 100%%)")
    p.add_argument("--region", help="AWS region (default: the boto3 configuration)")
    p.set_defaults(func=cmd_drift)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    wants_json = "--json" in argv
    try:
        args = build_parser().parse_args(argv)
        func: Callable[[argparse.Namespace], int] = args.func
        return func(args)
    except AnswerIsNo as answer:
        if wants_json:
            print(json.dumps({"ok": False, "summary": answer.summary, "details": answer.details}, indent=2))
        else:
            print(answer.summary)
            for line in answer.details:
                print(line)
        return EXIT_NO
    except ImagelockError as error:
        if wants_json:
            print(json.dumps({"ok": False, "error": str(error)}))
        print(f"lock: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("lock: interrupted; nothing was written", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
