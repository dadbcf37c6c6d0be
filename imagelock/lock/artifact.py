"""One file a lock pins by content: where it can come from, what it must hash to, where it goes.

Every domain describes its locked files as Artifacts, and everything that
handles files without knowing the domain reads them: `lock check` (is every
file hashed), `lock mirror` (copy each by sha256), the Packer volume size, the
bootstrap's generic file step and drift's generic file comparison.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Artifact:
    """A locked file. `urls` are upstream candidates in the order the build tries them."""

    kind: str  # what the file is, as messages name it: wheel, deb, nvidia, model, file ...
    name: str  # how a person recognises it: a file name, or repo/path
    urls: tuple[str, ...]
    sha256: str
    size: int | None  # None where the upstream publishes no size (PyTorch's wheels)
    # Where the bootstrap's generic file step puts it, and drift looks for it. None when the
    # domain's own build step installs the file (a wheel into a venv, a .deb through dpkg).
    dest: str | None = None
    mode: str | None = None  # octal file mode for `dest`, such as "0644"
    extract: bool = False  # a tarball unpacked into the directory `dest` (drift does not hash the tree)
    hub: bool = False  # served by the Hugging Face Hub: the Hub token is sent there, and only there
    # (environment variable, base URL): when the variable is set, it replaces that base in `urls`
    # (a look-alike or a site mirror of the upstream); the lock keeps the upstream URL.
    moved_by: tuple[str, str] | None = None
    label: str = ""  # how `lock check` names it, such as "python package six 1.17.0 (six-1.17.0-py2.py3-none-any.whl)"
    # Held without a hash on purpose (sha256 ""): its upstream could not give one when the lock was
    # written, so the build measures it (imagelock.commands.learn). Any other empty sha256 is a defect.
    unhashed: bool = False

    @property
    def what(self) -> str:
        return self.label or f"{self.kind} {self.name}"

    @property
    def url(self) -> str:
        """The upstream URL a copy is taken from."""
        return self.urls[0] if self.urls else ""
