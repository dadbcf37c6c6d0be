"""The errors every command turns into one line and an exit code.

Exit codes mean the same in every command: 0 yes, 1 no (stale, drift, conflict),
2 the input or the environment is wrong, so no answer could be given.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

EXIT_OK = 0
EXIT_NO = 1
EXIT_ERROR = 2


class ImagelockError(Exception):
    """Base of every error a user can meet; never shown as a traceback."""

    exit_code = EXIT_ERROR

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        # What could still be judged although this error stopped the answer: printed before the error line.
        self.details: list[str] = []


class InputError(ImagelockError):
    """A user file is wrong: says which file, which key, and what was expected."""

    def __init__(self, path: str | Path | None, key: str | None, message: str) -> None:
        self.path = str(path) if path is not None else None
        self.key = key
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [p for p in (self.path, self.key) if p]
        return ": ".join([*parts, self.message])


class UpstreamError(ImagelockError):
    """An index, archive or API could not be reached or answered wrongly.

    `status` is the HTTP status where the upstream answered with one (None: no answer at all), so a
    caller can tell "this file is not there" (404) from "the upstream is down".
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class VerificationError(ImagelockError):
    """A download or signature did not match what was expected; nothing is written."""


class AnswerIsNo(ImagelockError):
    """The command ran and the answer is "no": a conflict, a stale lock, drift."""

    exit_code = EXIT_NO

    def __init__(self, summary: str, details: Iterable[str] = ()) -> None:
        super().__init__(summary)
        self.summary = summary
        self.details = list(details)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ' (did you mean X?)' suffix when a close match exists, else ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
