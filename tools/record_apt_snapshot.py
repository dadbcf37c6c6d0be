"""Record a trimmed, real apt archive: the stanzas of one request's closure, values never edited.

Fetches through the same code `lock update` uses (InRelease verified with the
given keyring by gpgv, every index by its signed SHA256), resolves the
request, runs the real `apt-get install --simulate` on the same full indexes
and refuses to record if the two closures differ. It keeps the stanzas of the
closure plus every provider of a virtual name the closure uses, each cut to
the fields resolution and the lock read.

Two output forms:

* `--fixture DIR`: `<suite>.Packages` per suite and `provenance.json`, for
  tests that re-sign the stanzas themselves (tests/fixtures/apt/bookworm).
* `--replay DIR`: a static archive `lock update --replay` serves
  (`dists/<suite>/<component>/binary-<arch>/Packages`, `Release`, an
  `InRelease` clearsigned by a key made for this recording alone and
  destroyed after it, whose public half is `keyring.gpg`), the archive's own
  signed `upstream/<suite>.InRelease` files, and `provenance.json`. Trimming
  breaks the archive's signature chain, so the upstream InRelease files are
  kept to show, offline, that the recorded index digests are the ones the
  distribution signed (tests/apt/test_seed_jammy.py checks them with the real
  keyring).

The archive URL is given on the command line (default: the Debian archive of
the machine's own apt sources). The seed's jammy recording was made with:

    python tools/record_apt_snapshot.py --replay snapshots/seed/ubuntu-jammy \\
        --archive <Ubuntu archive URL> --keyring <a keyring holding Ubuntu's archive key> \\
        --suites jammy jammy-updates jammy-security --components main universe \\
        --kernel 5.15.0-105-generic --request build-essential=12.9ubuntu3 dkms=2.8.7-2ubuntu2.2 git curl \\
        wget ca-certificates gnupg lsb-release python3.11 python3.11-venv python3.11-dev

`--keep NAME...` keeps the closures of more packages that are not part of the
request (and not compared with apt): the slice example's noble recording keeps
both kernel tracks' metapackages and ABIs, which the kernel-track tests read.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.apt_bench import KEYRING, REQUEST, kernel_intent, system_source  # noqa: E402
from imagelock.domains.apt.closure import Resolution, Root  # noqa: E402
from imagelock.domains.apt.layer import Archive, Loaded, kernel_plan, load_archive, request_roots  # noqa: E402
from imagelock.domains.apt.relations import parse_relations  # noqa: E402
from imagelock.hashing import sha256_bytes  # noqa: E402
from imagelock.intent.apt import parse_apt  # noqa: E402
from imagelock.net import http  # noqa: E402
from tests.apt import realapt  # noqa: E402

KEEP = (
    "Package",
    "Version",
    "Architecture",
    "Multi-Arch",
    "Essential",
    "Priority",
    "Pre-Depends",
    "Depends",
    "Provides",
    "Filename",
    "Size",
    "SHA256",
)
RELEASE_FIELDS = ("Origin", "Label", "Suite", "Version", "Codename", "Date")


@dataclass
class Recording:
    url: str
    archive: Archive
    request: list[str]  # as asked, kernel packages included
    closure: list[str]  # name=version, resolved on the full indexes
    apt_closure: list[str]  # what apt-get --simulate installs on the same full indexes
    trimmed: dict[tuple[str, str], str]  # (suite, component) -> kept stanzas, fields cut to KEEP
    upstream_inrelease: dict[str, bytes]  # suite -> the archive's own signed InRelease


def record(args: argparse.Namespace, workdir: Path) -> Recording:
    """Resolve on the full verified indexes, compare with apt, keep the closure's stanzas."""
    url = args.archive or system_source(args.keyring).url
    where = workdir / "record.toml"
    intent = parse_apt(
        {
            "archive": url,
            "suites": args.suites,
            "components": args.components,
            "architectures": [args.arch],
            "keyring": str(args.keyring),
            "packages": args.request,
        },
        where,
    )
    archive = load_archive(intent, "2025-01-01T00:00:00Z", workdir)
    universe = archive.universe
    kernel = kernel_intent(args.kernel, where)
    kernel.parts = list(args.kernel_packages)
    loaded = Loaded(intent=intent, kernel=kernel, archive=archive)
    roots = request_roots(loaded)
    plan = kernel_plan(loaded)
    chosen = Resolution(universe).resolve(roots)
    asked = [r.original for r in intent.packages] + (plan.packages if plan else [])
    closure = sorted(f"{c.stanza.name}={c.stanza.version}" for c in chosen.values())

    env = realapt.setup(workdir / "apt", url, args.keyring, args.suites, args.components, args.arch)
    code, installs, output = realapt.simulate(env, asked)
    if code != 0:
        raise SystemExit(f"apt-get install --simulate failed on the full indexes:\n{output}")
    apt_closure = sorted(f"{name}={version}" for name, version, _ in installs)
    if apt_closure != closure:
        raise SystemExit(
            "imagelock and apt disagree on the full indexes; nothing recorded\n"
            f"  only imagelock: {sorted(set(closure) - set(apt_closure))}\n"
            f"  only apt: {sorted(set(apt_closure) - set(closure))}"
        )

    keep = {(c.stanza.name, c.stanza.version) for c in chosen.values()}
    extra = {}
    for name in args.keep:
        stanza = universe.candidate(name, universe.native)
        if stanza is None:
            raise SystemExit(f"--keep {name}: the archive has no such package")
        extra.update(Resolution(universe).resolve([Root(stanza=stanza, original=name)]))
    keep |= {(c.stanza.name, c.stanza.version) for c in extra.values()}
    for c in [*chosen.values(), *extra.values()]:
        for group in parse_relations(c.stanza.pre_depends) + parse_relations(c.stanza.depends):
            for rel in group:
                for stanza, _ in universe.providers(rel.name):
                    if universe.candidate(stanza.name, universe.arch_key(stanza)) is stanza:
                        keep.add((stanza.name, stanza.version))
    trimmed: dict[tuple[str, str], str] = {}
    index_keys = [(s, c) for s in args.suites for c in args.components]
    for index_text, key in zip(universe.texts, index_keys):
        kept = []
        for block in index_text.read("".join).split("\n\n"):
            name = re.search(r"^Package: (\S+)", block, re.M)
            version = re.search(r"^Version: (\S+)", block, re.M)
            if not name or not version or (name[1], version[1]) not in keep:
                continue
            fields = dict(re.findall(r"^([A-Za-z0-9-]+): (.*)$", block, re.M))
            kept.append("".join(f"{k}: {fields[k]}\n" for k in KEEP if k in fields))
        trimmed[key] = "\n".join(kept)

    upstream = {}
    for source in archive.sources:
        data = http.get_bytes(f"{url}/dists/{source.suite}/InRelease", what="apt InRelease")
        if sha256_bytes(data) != source.inrelease_sha256:
            raise SystemExit(f"{source.suite}: InRelease changed while recording; run again")
        upstream[source.suite] = data
    return Recording(
        url=url,
        archive=archive,
        request=asked,
        closure=closure,
        apt_closure=apt_closure,
        trimmed=trimmed,
        upstream_inrelease=upstream,
    )


def provenance(rec: Recording, args: argparse.Namespace) -> dict[str, object]:
    return {
        "archive": "the Debian archive of the recording machine's apt sources" if not args.archive else rec.url,
        "recorded": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "keyring-sha256": sha256_bytes(args.keyring.read_bytes()),
        "suites": {
            s.suite: {
                "inrelease-sha256": s.inrelease_sha256,
                "date": s.date,
                "indexes": [{"path": i.path, "sha256": i.sha256, "size": i.size} for i in s.indexes],
            }
            for s in rec.archive.sources
        },
        "request": rec.request,
        **({"kept": args.keep} if args.keep else {}),
        "stanzas": {
            f"{suite}/{component}" if len(args.components) > 1 else suite: text.count("Package: ")
            for (suite, component), text in rec.trimmed.items()
        },
        "closure": rec.closure,
        "apt-closure": rec.apt_closure,
    }


def write_fixture(rec: Recording, args: argparse.Namespace, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for suite in args.suites:
        stanzas = [rec.trimmed[(suite, c)] for c in args.components if rec.trimmed[(suite, c)]]
        (out / f"{suite}.Packages").write_text("\n".join(stanzas))
    (out / "provenance.json").write_text(json.dumps(provenance(rec, args), indent=1) + "\n")


def _release_text(upstream: bytes, suite: str, components: list[str], arch: str, indexes: dict[str, bytes]) -> str:
    """A Release for the trimmed indexes, keeping the upstream's identity and Date."""
    text = upstream.decode("utf-8", "replace").split("\n-----BEGIN PGP SIGNATURE-----", 1)[0]
    fields = dict(re.findall(r"^(Origin|Label|Suite|Version|Codename|Date): (.*)$", text, re.M))
    lines = [f"{k}: {fields[k]}" for k in RELEASE_FIELDS if k in fields]
    lines += [
        f"Architectures: {arch}",
        f"Components: {' '.join(components)}",
        "Description: trimmed recording of " + suite + " (re-signed; see provenance.json)",
        "SHA256:",
    ]
    lines += [f" {sha256_bytes(data)} {len(data):>16} {path}" for path, data in sorted(indexes.items())]
    return "\n".join(lines) + "\n"


def write_replay(rec: Recording, args: argparse.Namespace, out: Path) -> None:
    """A static, re-signed archive for `lock update --replay`, plus the upstream's own InRelease files."""
    with tempfile.TemporaryDirectory(prefix="record-key-") as home:
        env = {**os.environ, "GNUPGHOME": home}
        gpg = ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", ""]
        subprocess.run(
            [*gpg, "--quick-gen-key", f"imagelock replay of {rec.url} <replay@invalid>", "ed25519", "sign", "never"],
            env=env,
            check=True,
            capture_output=True,
        )
        out.mkdir(parents=True, exist_ok=True)
        (out / "keyring.gpg").write_bytes(
            subprocess.run(["gpg", "--batch", "--export"], env=env, check=True, capture_output=True).stdout
        )
        for suite in args.suites:
            folder = out / "dists" / suite
            indexes = {}
            for component in args.components:
                path = f"{component}/binary-{args.arch}/Packages"
                data = rec.trimmed[(suite, component)].encode()
                (folder / path).parent.mkdir(parents=True, exist_ok=True)
                (folder / path).write_bytes(data)
                indexes[path] = data
            release = _release_text(rec.upstream_inrelease[suite], suite, args.components, args.arch, indexes)
            (folder / "Release").write_text(release)
            (folder / "InRelease").unlink(missing_ok=True)
            subprocess.run(
                [
                    *gpg,
                    "--digest-algo",
                    "SHA256",
                    "--clearsign",
                    "--output",
                    str(folder / "InRelease"),
                    str(folder / "Release"),
                ],
                env=env,
                check=True,
                capture_output=True,
            )
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, check=False, capture_output=True)
    (out / "upstream").mkdir(exist_ok=True)
    for suite, data in rec.upstream_inrelease.items():
        (out / "upstream" / f"{suite}.InRelease").write_bytes(data)
    (out / "provenance.json").write_text(json.dumps(provenance(rec, args), indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--fixture", type=Path, help="write <suite>.Packages + provenance.json here")
    target.add_argument("--replay", type=Path, help="write a re-signed static archive for --replay here")
    parser.add_argument("--archive", help="archive URL (default: the machine's Debian mirror)")
    parser.add_argument("--suites", nargs="+", default=["bookworm", "bookworm-updates"])
    parser.add_argument("--components", nargs="+", default=["main"])
    parser.add_argument("--arch", default="amd64")
    parser.add_argument("--keyring", type=Path, default=KEYRING)
    parser.add_argument("--kernel", default="amd64", help="a kernel release (5.15.0-105-generic) or a flavour")
    parser.add_argument(
        "--kernel-packages", nargs="+", default=["image", "headers"], help="the [kernel] packages parts to record"
    )
    parser.add_argument("--request", nargs="+", default=REQUEST)
    parser.add_argument("--keep", nargs="+", default=[], help="more packages whose closures are kept (not locked)")
    args = parser.parse_args()
    args.keyring = args.keyring.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        rec = record(args, Path(tmp))
    if args.fixture:
        write_fixture(rec, args, args.fixture)
    else:
        write_replay(rec, args, args.replay)
    print(f"recorded {len(rec.closure)} packages (apt agrees) from {len(rec.archive.sources)} suites")


if __name__ == "__main__":
    main()
