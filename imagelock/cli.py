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
    from imagelock.diff import diff, render_summary
    from imagelock.resolver.update import update

    result = update(args.intent, args.lock, only=args.only, upgrade=args.upgrade,
                    upgrade_packages=args.upgrade_package, refresh=args.refresh, dry_run=args.dry_run,
                    engine=args.engine, replay=args.replay, cutoff=args.cutoff)
    lock = result.lock
    moved = diff(result.previous, lock)
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
    human = [f"{verb} {result.path}: {what} (image {lock.image_name()}, version {lock.version})"]
    if result.previous is not None and moved.differ:
        human.append(render_summary(moved))
    if result.report:
        human += result.report.lines()
    _emit(args, "\n".join(human),
          {"lock": str(result.path), "digest": lock.digest(), "image": lock.image_name(), "version": lock.version,
           "changed": result.changed, "written": result.written, "dry_run": args.dry_run,
           "diff": moved.to_json()})
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from imagelock.resolver.check import check

    result = check(args.intent, args.lock)
    human = "\n".join([f"{result.lock_path}: {p}" for p in result.problems] or
                      [f"{result.lock_path}: fresh (image {result.image})"])
    human += "".join(f"\n{result.lock_path}: {note}" for note in result.notes)
    _emit(args, human, {"lock": str(result.lock_path), "ok": result.ok, "problems": result.problems,
                        "notes": result.notes, "digest": result.digest, "image": result.image})
    return EXIT_OK if result.ok else EXIT_NO


def cmd_diff(args: argparse.Namespace) -> int:
    from imagelock import lockfile
    from imagelock.diff import diff, render

    old = lockfile.read(args.old)[0]
    new = lockfile.read(args.new)[0]
    result = diff(old, new)
    print(render(result, "json" if args.json else args.format))
    return EXIT_NO if result.differ else EXIT_OK


def _default_lock() -> Path:
    """The one lock under ./locks, when there is exactly one."""
    found = sorted(Path("locks").glob("*.lock"))
    if len(found) != 1:
        raise InputError(None, "--lock", f"name the lock to ask (found {len(found)} locks under ./locks)")
    return found[0]


def cmd_why(args: argparse.Namespace) -> int:
    from imagelock import lockfile
    from imagelock.why import why

    path = Path(args.lock) if args.lock else _default_lock()
    answers = why(lockfile.read(path)[0], args.name, path)
    human = "\n".join(line for answer in answers for line in answer.lines())
    _emit(args, human, {"lock": str(path), "answers": [
        {"layer": a.layer, "name": a.name, "version": a.version, "requested": a.requested,
         "original": a.original, "paths": a.paths, "requested_packages_leading_to_it": a.total} for a in answers]})
    return EXIT_OK


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
    p.add_argument("--only", action="extend", nargs="+", metavar="DOMAIN",
                   help="re-resolve only these domains; the others keep what the lock has")
    p.add_argument("--upgrade", action="store_true", help="re-resolve everything, ignoring locked versions")
    p.add_argument("--upgrade-package", action="extend", nargs="+", default=[], metavar="NAME",
                   help="move only these packages; everything else keeps its locked version")
    p.add_argument("--refresh", action="extend", nargs="+", default=[], metavar="DOMAIN",
                   help="recompute recorded hashes of this domain (e.g. nvidia)")
    p.add_argument("--engine", choices=("uv", "pip-tools"), default="uv")
    p.add_argument("--replay", metavar="DIR", help="serve recorded upstream answers from DIR on loopback "
                   "instead of reaching the network (the lock still records upstream URLs)")
    p.add_argument("--cutoff", metavar="DATE", help="move the universe to this RFC 3339 time (when the intent "
                   "pins none); locked versions stay unless --upgrade or --upgrade-package moves them")
    p.add_argument("--dry-run", action="store_true", help="resolve and report, write nothing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_update)

    p = sub.add_parser("check", help="is the lock fresh for its intent and intact? (offline)")
    p.add_argument("intent")
    p.add_argument("--lock", help="lock path (default: the intent path with .lock)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("diff", help="what changed between two locks (exit 1 when they differ)")
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                   help="markdown renders a pull-request body")
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("why", help="why a Python or apt package is in the lock: paths from what was asked for")
    p.add_argument("name")
    p.add_argument("--lock", help="lock path (default: the only lock under ./locks)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_why)
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
