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

    if args.intent is None and args.generated is None:
        raise InputError(None, "lock check", "give the INTENT to check, or --generated DIR")
    problems: list[str] = []
    digest = image = None
    if args.intent is not None:
        result = check(args.intent, args.lock)
        lock_path = result.lock_path
        problems += [f"{lock_path}: {p}" for p in result.problems]
        digest, image = result.digest, result.image
    else:
        lock_path = Path(args.lock) if args.lock else Path(args.generated) / "lock.toml"
    stale: list[str] = []
    tampered = any(p.startswith(f"{lock_path}: tampered:") for p in problems)
    if args.generated is not None and tampered:
        problems.append(f"{args.generated}: not checked: nothing is generated from a lock edited by hand")
    elif args.generated is not None:
        from imagelock.generators.generate import load, stale_files

        stale = stale_files(lock_path, args.generated)
        problems += stale
        if digest is None:
            lock, _ = load(lock_path)
            digest, image = lock.digest(), lock.image_name()
    what = f"{lock_path}: fresh" if args.intent is not None else f"{lock_path}: intact"
    if args.generated is not None:
        what += f"; generated files in {args.generated} current"
    human = "\n".join(problems or [f"{what} (image {image})"])
    _emit(args, human, {"lock": str(lock_path), "ok": not problems, "problems": problems,
                        "digest": digest, "image": image, "stale_files": stale})
    return EXIT_NO if problems else EXIT_OK


def cmd_generate(args: argparse.Namespace) -> int:
    from imagelock.generators.generate import generate

    out = Path(args.output)
    written = generate(args.lock, out)
    changed = [w.path.name for w in written if w.changed]
    human = (f"wrote {', '.join(changed)} to {out}" if changed else f"{out}: all {len(written)} files already current")
    _emit(args, human, {"output": str(out), "files": [w.path.name for w in written], "changed": changed})
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
    p.add_argument("intent", nargs="?", help="the intent (optional with --generated)")
    p.add_argument("--lock", help="lock path (default: the intent path with .lock, or DIR/lock.toml)")
    p.add_argument("--generated", metavar="DIR", help="also check that DIR holds exactly what "
                   "`lock generate` writes for this lock (exit 1 naming each stale file)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("generate", help="write bootstrap.sh, the Packer template and manifests for a lock")
    p.add_argument("lock", help="the lock file")
    p.add_argument("-o", "--output", default="generated", help="output directory (default: generated)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_generate)
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
