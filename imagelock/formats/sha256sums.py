"""A SHA256SUMS file, as `sha256sum` writes it (GNU coreutils, "md5sum invocation"): one line per file,
`<64 hex digits> <space or *><file name>`, the `*` marking binary mode. Ubuntu's cloud-image and
release directories publish theirs in this form, next to a detached `SHA256SUMS.gpg`.

Only the lines of that form are read; a file with none of them is not a sums file at all.
"""

from __future__ import annotations

import re

_LINE = re.compile(r"^(?P<sha256>[0-9a-fA-F]{64}) [ *](?P<name>.+)$")


class NotSums(ValueError):
    """The text has no `<sha256>  <name>` line."""


def entries(text: str) -> dict[str, str]:
    """File name (`./` left off) -> its lower-case sha256; the first line for a name counts."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if match:
            out.setdefault(match["name"].removeprefix("./"), match["sha256"].lower())
    if not out:
        raise NotSums("no line of the form '<sha256>  <file name>'")
    return out
