"""One progress display per layer, on stderr: rows redrawn in place on a terminal, plain lines elsewhere.

`lock update`, `lock mirror` and `lock check --online` can run for minutes, a layer at a time or all at once.
On a terminal each layer keeps one row (waiting, a spinner and its seconds, a bar and its count, then how it
ended), redrawn in place with ANSI sequences (cursor up to the first row, erase each line); a line anyone
else writes to stderr meanwhile is put above the rows, which are drawn again below it. In a pipe or
a CI log, where nothing is redrawn, each layer writes plain lines: when it starts, at every tenth of its
count, and how it ended. Nothing goes to stdout, which holds the answer (`--json` documents are read by
machines). The display belongs to the process's stderr descriptor: a stderr replaced inside the process by
an object with no descriptor (a program that calls `imagelock.cli.main` and keeps what it prints) gets the
answer and the errors, not the progress. Standard library only.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import TextIO

SPINNER = "|/-\\"
TICK = 0.1  # seconds between redraws of a terminal display: the spinners and seconds move while a layer waits
BAR = 24


@dataclass
class _Row:
    name: str
    total: int | None = None
    done: int = 0
    started: float | None = None
    ended: float | None = None
    outcome: str = ""
    tenth: int = -1  # the last tenth of `total` a plain line was written for

    def seconds(self, now: float) -> float:
        return ((self.ended or now) - self.started) if self.started is not None else 0.0


_live: set[int] = set()  # the live displays now drawn on a terminal, by id


def drawing() -> bool:
    """Whether a live display holds the terminal now: a one-line bar of its own (a download's) would tear
    its rows, and the layer's row already counts that file."""
    return bool(_live)


def has_descriptor(stream: TextIO) -> bool:
    """Whether the stream is an open file descriptor of the process (a tty, a pipe, a log file)."""
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both of the last two
        return False
    return True


def is_terminal(stream: TextIO) -> bool:
    """Redraw only where a person watches: a tty whose TERM can move the cursor."""
    return bool(getattr(stream, "isatty", lambda: False)()) and os.environ.get("TERM", "") != "dumb"


class LayerProgress:
    """Rows by layer name, in the order they are added (or first started).

    `verb` says what a running layer does ("resolving"); `unit` what its count counts ("artifacts").
    Thread-safe: layers resolve, probe and upload on threads of their own."""

    def __init__(self, command: str, verb: str, unit: str = "", stream: TextIO | None = None) -> None:
        self.command = command
        self.verb = verb
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.shown = has_descriptor(self.stream)
        self.live = self.shown and is_terminal(self.stream)
        self._rows: dict[str, _Row] = {}
        self._guard = threading.RLock()
        self._drawn = 0  # rows on screen, to move up over when redrawing
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> LayerProgress:
        if self.live:
            _live.add(id(self))
            if sys.stderr is self.stream:  # what others print meanwhile goes above the rows, not under them
                sys.stderr = _Above(self, self.stream)
            self._ticker = threading.Thread(target=self._tick, name="imagelock-progress", daemon=True)
            self._ticker.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def add(self, rows: dict[str, int | None]) -> None:
        """Rows for layers that have not started, all at once (the display does not grow row by row): each
        with the number of items it will count, or None for a layer that only runs."""
        with self._guard:
            for name, total in rows.items():
                self._rows.setdefault(name, _Row(name, total))
            self._draw()

    def start(self, name: str) -> None:
        with self._guard:
            row = self._rows.setdefault(name, _Row(name))
            row.started = time.monotonic()
            if not self.live:
                count = f" {row.total} {self.unit}".rstrip() if row.total is not None else ""
                self._line(f"{name}: {self.verb}{count}")
            self._draw()

    def advance(self, name: str, count: int = 1, outcome: str = "done") -> None:
        """`count` more items of the layer done; at its total the row ends, saying `outcome`."""
        with self._guard:
            row = self._rows.setdefault(name, _Row(name))
            if row.started is None:
                self.start(name)
            row.done += count
            if not self.live and row.total:
                tenth = row.done * 10 // row.total
                if tenth > row.tenth and row.done < row.total:
                    row.tenth = tenth
                    self._line(f"{name}: {row.done}/{row.total} {self.unit}".rstrip())
            if row.total is not None and row.done >= row.total and row.ended is None:
                self.finish(name, outcome)

    def finish(self, name: str, outcome: str) -> None:
        """The layer ended: `outcome` says how ("done", "2 wheels", "refused", "failed")."""
        with self._guard:
            row = self._rows.setdefault(name, _Row(name))
            if row.started is None:
                row.started = time.monotonic()
            row.ended = time.monotonic()
            row.outcome = outcome
            if not self.live:
                count = f"{row.done}/{row.total} {self.unit}, ".replace(" ,", ",") if row.total else ""
                self._line(f"{name}: {outcome} ({count}{row.seconds(row.ended):.1f} s)")
            self._draw()

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        with self._guard:
            if isinstance(sys.stderr, _Above) and sys.stderr.display is self:
                sys.stderr.end()
                sys.stderr = self.stream
            self._draw()
        _live.discard(id(self))

    def _line(self, text: str) -> None:
        if not self.shown:
            return
        self.stream.write(f"{self.command}: {text}\n")
        self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(TICK):
            with self._guard:
                self._draw()

    def _text(self, row: _Row, width: int, now: float) -> str:
        name = f"{row.name:<{max(len(r.name) for r in self._rows.values())}}"
        if row.started is None:
            state = "waiting"
        elif row.ended is not None:
            count = f"{row.done}/{row.total} {self.unit}, ".replace(" ,", ",") if row.total else ""
            state = f"{row.outcome} ({count}{row.seconds(now):.1f} s)"
        elif row.total:
            filled = BAR * min(row.done, row.total) // row.total
            state = f"[{'#' * filled:<{BAR}}] {row.done}/{row.total} {self.unit}".rstrip()
        else:
            spin = SPINNER[int(now / TICK) % len(SPINNER)]
            state = f"{spin} {self.verb} {row.seconds(now):.1f} s"
        return f"{self.command}: {name} {state}"[: max(width - 1, 10)]

    def above(self, text: str) -> None:
        """Lines someone else wrote to stderr, put above the rows (erased, then drawn again below them)."""
        with self._guard:
            self.stream.write((f"\x1b[{self._drawn}F\x1b[0J" if self._drawn else "") + text)
            self._drawn = 0
            self._draw()

    def _width(self) -> int:
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, OSError, ValueError):
            columns = 0
        return columns or 100  # a terminal that says no size (0): draw as if it had a common one

    def _draw(self) -> None:
        """Rewrite every row in place (terminal only): up to the first row, then each row over its old one.
        A count moving does not redraw by itself: the ticker does, every TICK."""
        if not self.live or not self._rows:
            return
        width = self._width()
        now = time.monotonic()
        out = f"\x1b[{self._drawn}F" if self._drawn else ""
        out += "".join(f"\x1b[2K{self._text(row, width, now)}\n" for row in self._rows.values())
        self._drawn = len(self._rows)
        self.stream.write(out)
        self.stream.flush()


class _Above:
    """sys.stderr while a live display is drawn: each whole line written (a warning, a note) goes above the
    display's rows, which are drawn again below it; everything else is the real stderr's."""

    def __init__(self, display: LayerProgress, real: TextIO) -> None:
        self.display = display
        self.real = real
        self.pending = ""

    def write(self, text: str) -> int:
        with self.display._guard:
            self.pending += text
            if "\n" in self.pending:
                lines, _, self.pending = self.pending.rpartition("\n")
                self.display.above(lines + "\n")
        return len(text)

    def end(self) -> None:
        """What was written without its end of line, as a line of its own."""
        if self.pending:
            self.display.above(self.pending + "\n")
            self.pending = ""

    def flush(self) -> None:
        self.real.flush()

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)
