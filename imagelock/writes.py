"""Writes that cannot be half done, mixed or lost: one file, a directory of files, one writer at a time.

Every file imagelock writes (a lock, generated files, a drift report, an intent) goes
through here, so the rules hold everywhere:

- a reader sees the old content or the new, never a mix: a temp file beside the target,
  renamed over it; a directory of generated files is swapped whole;
- symlinks are never followed: the rename replaces a link, it never writes through it;
- modes follow the old file's mode, else the umask (a temp file alone would be 0600);
- a write that fails is one line naming the file, never a traceback.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from imagelock.errors import InputError

_RENAME_EXCHANGE = 2  # linux/fs.h: swap two paths atomically
STAGING = ".imagelock-"  # the infix of staging directories beside a generated directory


def umask() -> int:
    """The process umask, read without changing it (Linux reports it in /proc; elsewhere set and restore)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def _mode_for(target: Path, executable: bool) -> int:
    """The old regular file's mode, else what a new file gets under the umask."""
    with contextlib.suppress(FileNotFoundError):
        info = target.lstat()
        if stat.S_ISREG(info.st_mode):
            return stat.S_IMODE(info.st_mode)
    return (0o777 if executable else 0o666) & ~umask()


def _fail(path: Path, exc: OSError) -> InputError:
    reason = exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
    return InputError(path, None, f"cannot be written ({reason})")


def write_atomic(path: str | Path, text: str, *, executable: bool = False) -> bool:
    """Write via a temp file and rename; returns False when the content was already identical."""
    target = Path(path)
    data = text.encode("utf-8")
    with contextlib.suppress(OSError):
        if not target.is_symlink() and target.is_file() and target.read_bytes() == data:
            return False
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise _fail(target, exc) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _mode_for(target, executable))
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _fail(target, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one step (renameat2 RENAME_EXCHANGE); False where the kernel or filesystem cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    done = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), _RENAME_EXCHANGE)
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def replace_directory(out: Path, files: Mapping[str, str], executable: frozenset[str] = frozenset()) -> list[str]:
    """`out` holds exactly `files`, swapped in as a whole: a reader (or a SIGKILL) sees the old set or the new.

    The new set is written into a staging directory beside `out`, then exchanged with it in one
    rename. `out` must hold nothing but files of the set: it is replaced, so it must not hold
    anything else a person keeps there. The caller holds `exclusive(out)`, so a staging directory
    beside `out` is a killed run's. Returns the names whose content changed.
    """
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(out, None, f"cannot write generated files here ({exc.strerror})") from None
    _forget_staging(out)
    old: dict[str, bytes] = {}
    if out.is_symlink() or out.exists():
        if not out.is_dir() or out.is_symlink():
            raise InputError(out, None, "exists and is not a directory of generated files (a file or a symlink)")
        tops = {name.split("/", 1)[0] for name in files}  # a name may be `<variant>/<file>`
        others = sorted(p.name for p in out.iterdir() if p.name not in tops)
        if others:
            raise InputError(
                out,
                None,
                f"holds files `lock generate` did not write ({', '.join(others[:5])}"
                f"{', ...' if len(others) > 5 else ''}): generate into a directory of its own",
            )
        for name in files:
            path = out / name
            if path.is_file() and not path.is_symlink():  # a link is replaced, never read or written through
                old[name] = path.read_bytes()
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}{STAGING}", dir=parent))
    except OSError as exc:
        raise InputError(out, None, f"cannot write generated files here ({exc.strerror})") from None
    try:
        mask = umask()
        for name, content in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(content.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(path, (0o777 if path.name in executable else 0o666) & ~mask)
        os.chmod(staging, 0o777 & ~mask)
        if out.exists():
            if not _exchange(staging, out):
                aside = Path(tempfile.mkdtemp(prefix=f".{out.name}{STAGING}", dir=parent))
                os.rename(out, aside / "old")
                os.rename(staging, out)
                staging = aside
        else:
            os.rename(staging, out)
            staging = Path()
    except OSError as exc:
        raise InputError(out, None, f"cannot write generated files here ({exc.strerror})") from None
    finally:
        if staging != Path():
            shutil.rmtree(staging, ignore_errors=True)  # the old set, or the new one when it never went in
    return [name for name, content in files.items() if old.get(name) != content.encode("utf-8")]


def _forget_staging(out: Path) -> None:
    """Staging directories a killed run left beside `out` (never inside it) are removed by the next run."""
    with contextlib.suppress(OSError):
        for stale in out.parent.glob(f".{out.name}{STAGING}*"):
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)


@contextlib.contextmanager
def exclusive(path: Path, *, wait: float = 30.0, cannot: str = "cannot be written") -> Iterator[None]:
    """One writer at a time for `path`: an advisory lock on its directory (the file itself is replaced by
    rename, so locking its inode would lock nothing). Waits up to `wait` seconds, then says who holds it."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except FileExistsError:  # a file where a folder of the path belongs
        raise InputError(path, None, f"{cannot} ({os.strerror(errno.ENOTDIR)})") from None
    except OSError as exc:
        raise InputError(path, None, f"{cannot} ({exc.strerror})") from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise InputError(
                        path, None, f"another imagelock process has been writing in {folder} for {wait:.0f} s"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)
