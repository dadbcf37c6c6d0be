"""Ubuntu 22.04's archive, held still for one test session, and jammy's own apt-get beside it.

The live oracle test (tests/apt/test_jammy_oracle.py) compares imagelock's
closure with jammy's apt-get over a base image. Both must read the same bytes,
so the archive is read once: each suite's InRelease is fetched and verified by
gpgv against the seed intent's keyring, each Packages index by its signed
SHA256 (through imagelock's own archive code, which keeps them in its by-hash
store), and the verified files are served on loopback as a small archive
(`dists/<suite>/InRelease` and the plain `Packages` of each component).
imagelock and apt-get then both read that archive; a mirror updating in
between cannot make them disagree. The archive URL and keyring are the shipped
seed intent's (locks/seed.toml), never written here.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from imagelock.domains.apt import archive
from imagelock.net import http
from tests.apt import realapt

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "locks" / "seed.toml"
SUITES = ("jammy", "jammy-updates", "jammy-security")
COMPONENTS = ("main", "universe")
ARCH = "amd64"


@dataclass
class Mirror:
    """The verified archive laid out under `root`, as the upstream `archive` signed it."""

    root: Path
    archive: str  # the upstream URL (what a lock would record)
    keyring: Path
    packages: dict[tuple[str, str], Path] = field(default_factory=dict)  # (suite, component) -> plain Packages


def seed_archive() -> tuple[str, Path]:
    """The seed intent's [apt] archive URL and its keyring's path."""
    table = tomllib.loads(SEED.read_text())["apt"]
    return table["archive"].rstrip("/"), (SEED.parent / table["keyring"]).resolve()


def _index_file(index: archive.FetchedIndex, target: Path) -> None:
    """The verified text of an index at `target`: a link into the by-hash store, or a copy read from it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    stored = getattr(index.text, "stored", None)  # the store's own entry, when it holds the plain text
    if stored and not getattr(index.text, "compression", "") and (archive.store_dir() / stored).is_file():
        target.symlink_to(archive.store_dir() / stored)
        return
    with target.open("w", encoding="utf-8") as out:
        index.text.read(lambda chunks: [out.write(chunk) for chunk in chunks])


def make_mirror(root: Path) -> Mirror:
    """Fetch and verify jammy's three suites (main, universe, amd64) and lay them out under `root`."""
    upstream, keyring = seed_archive()
    mirror = Mirror(root=root, archive=upstream, keyring=keyring)
    for suite in SUITES:
        url = f"{archive.suite_url(upstream, suite)}/InRelease"
        raw = http.get_bytes(url, what=f"apt suite {suite}:")
        release = archive.parse_release(archive.gpgv_verify(raw, keyring, url).decode(), url)
        folder = root / "dists" / suite
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "InRelease").write_bytes(raw)
        for component in COMPONENTS:
            index = archive.fetch_packages(upstream, suite, release, component, ARCH)
            target = folder / component / f"binary-{ARCH}" / "Packages"
            _index_file(index, target)
            mirror.packages[(suite, component)] = target
    return mirror


def jammy_runner() -> Path:
    """tools/jammy_apt.py: jammy's apt-get unpacked from the signed archive; its runner's path."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "jammy_apt.py")], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"tools/jammy_apt.py failed:\n{result.stdout}{result.stderr}")
    return Path(result.stdout.strip().splitlines()[-1])


# --- dpkg status files ---------------------------------------------------------------

# The fields of a Packages stanza a dpkg status record keeps (dpkg drops Filename, Size and the hashes).
STATUS_FIELDS = (
    "Package",
    "Essential",
    "Priority",
    "Section",
    "Installed-Size",
    "Maintainer",
    "Architecture",
    "Multi-Arch",
    "Source",
    "Version",
    "Replaces",
    "Provides",
    "Depends",
    "Pre-Depends",
    "Breaks",
    "Conflicts",
    "Description",
)
_FIELD_LINE = re.compile(r"^([A-Za-z0-9-]+):[ \t]*(.*)$")
_IDENT = re.compile(rb"^(Package|Version|Priority):[ \t]*(\S+)", re.MULTILINE)


class Stanzas:
    """Where each stanza of the mirror's indexes lies, so the few a test needs are read without parsing the rest.

    One pass over each index records (name, version) -> (file, start, end) and each
    version's Priority; the first suite listing a version is the one kept.
    """

    def __init__(self, mirror: Mirror) -> None:
        self.spans: dict[tuple[str, str], tuple[Path, int, int]] = {}
        self.priorities: dict[str, dict[tuple[str, str], str]] = {}  # suite -> (name, version) -> Priority
        for (suite, _component), path in mirror.packages.items():
            data = path.read_bytes()
            found = self.priorities.setdefault(suite, {})
            start = 0
            while start < len(data):
                end = data.find(b"\n\n", start)
                end = len(data) if end < 0 else end + 1
                fields = {m[1]: m[2] for m in _IDENT.finditer(data, start, end)}
                if b"Package" in fields and b"Version" in fields:
                    ident = (fields[b"Package"].decode(), fields[b"Version"].decode())
                    self.spans.setdefault(ident, (path, start, end))
                    found[ident] = fields.get(b"Priority", b"optional").decode()
                start = end + 1

    def fields(self, name: str, version: str) -> dict[str, str]:
        """One stanza's fields (continuation lines folded; the long description left out)."""
        path, start, end = self.spans[(name, version)]
        with path.open("rb") as handle:
            handle.seek(start)
            text = handle.read(end - start).decode("utf-8", "replace")
        fields: dict[str, str] = {}
        key = ""
        for line in text.splitlines():
            if not line.strip():
                continue
            if line[0] in " \t":
                if key != "Description":
                    fields[key] += " " + line.strip()
                continue
            match = _FIELD_LINE.match(line)
            if match:
                key = match[1]
                fields[key] = match[2]
        return fields


def status_text(records: list[dict[str, str]]) -> str:
    """A dpkg status file: each record installed ("install ok installed"), sorted by name."""
    out = []
    for fields in sorted(records, key=lambda f: (f["Package"], f.get("Architecture", ""))):
        lines = [f"Package: {fields['Package']}", "Status: install ok installed"]
        lines += [f"{key}: {fields[key]}" for key in STATUS_FIELDS[1:] if key in fields]
        out.append("\n".join(lines) + "\n")
    return "\n".join(out) + ("\n" if out else "")


def manifest_text(records: list[dict[str, str]]) -> str:
    """The same packages as `dpkg-query -W` prints them: what an intent's base-manifest holds."""
    return "".join(
        f"{f['Package']}\t{f['Version']}\n" for f in sorted(records, key=lambda f: (f["Package"], f["Version"]))
    )


def apt_env(root: Path, url: str, keyring: Path, suites: list[str], runner: Path, status: str) -> dict[str, str]:
    """A private apt tree read by jammy's apt-get (realapt.setup with the runner), `apt-get update` done."""
    return realapt.setup(root, url, keyring, suites, list(COMPONENTS), status=status, runner=runner)


def run_apt(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(realapt.command(env, list(args)), env=env, capture_output=True, text=True, timeout=600)
