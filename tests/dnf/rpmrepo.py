"""Build real signed rpm repositories from tiny spec files, and ask the real dnf what it would install.

Everything is made by the real tools: rpmbuild builds each package from a generated spec, rpmsign signs
it with an RSA key made by gpg in a private GNUPGHOME, createrepo_c writes the metadata (gz), and gpg
writes repomd.xml.asc, the detached signature dnf checks with `repo_gpgcheck`. `dnf_install` runs
Debian's dnf 4.14 with --installroot and --releasever and `--assumeno install`, and reads the
transaction it prints.
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Rpm:
    name: str
    version: str
    release: str = "1"
    arch: str = "noarch"
    epoch: int | None = None
    requires: list[str] = field(default_factory=list)
    provides: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    obsoletes: list[str] = field(default_factory=list)
    recommends: list[str] = field(default_factory=list)

    @property
    def evr(self) -> str:
        return f"{self.epoch}:{self.version}-{self.release}" if self.epoch else f"{self.version}-{self.release}"

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}-{self.release}.{self.arch}.rpm"


@dataclass
class RpmKey:
    home: Path
    uid: str
    armored: Path  # what an intent's `gpgkey` names


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    result = subprocess.run(cmd, capture_output=True, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise AssertionError(f"{cmd[0]} failed: {result.stderr.decode(errors='replace')[-2000:]}")
    return result


def make_key(home: Path, uid: str) -> RpmKey:
    """An RSA signing key (rpm's own OpenPGP code verifies RSA everywhere) and its armored public half."""
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    run(["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key", uid, "rsa2048",
         "sign", "never"], env=env)  # fmt: skip
    armored = home / "RPM-GPG-KEY-test"
    armored.write_bytes(run(["gpg", "--batch", "--armor", "--export", uid], env=env).stdout)
    return RpmKey(home=home, uid=uid, armored=armored)


def stop_agent(key: RpmKey) -> None:
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(key.home)},
                   capture_output=True, check=False)  # fmt: skip


def _spec(rpm: Rpm) -> str:
    lines = [
        f"Name: {rpm.name}",
        f"Version: {rpm.version}",
        f"Release: {rpm.release}",
        "Summary: imagelock test package",
        "License: MIT",
        f"BuildArch: {rpm.arch}",
    ]
    if rpm.epoch is not None:
        lines.append(f"Epoch: {rpm.epoch}")
    for tag, values in (
        ("Requires", rpm.requires),
        ("Provides", rpm.provides),
        ("Conflicts", rpm.conflicts),
        ("Obsoletes", rpm.obsoletes),
        ("Recommends", rpm.recommends),
    ):
        lines += [f"{tag}: {value}" for value in values]
    lines += ["%description", f"test package {rpm.name}", "%files", ""]
    return "\n".join(lines)


def build_rpms(rpms: list[Rpm], out: Path, work: Path, key: RpmKey | None) -> list[Path]:
    """Each package built by rpmbuild into `out`, then signed by rpmsign with `key`."""
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    built = []
    for rpm in rpms:
        spec = work / f"{rpm.name}-{rpm.version}-{rpm.release}.{rpm.arch}.spec"
        spec.write_text(_spec(rpm))
        run(["rpmbuild", "--quiet", "--define", f"_topdir {work / 'top'}", "--define", f"_rpmdir {out}",
             "--define", "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm",
             "--target", rpm.arch, "-bb", str(spec)])  # fmt: skip
        built.append(out / rpm.filename)
    if key is not None and built:
        env = {**os.environ, "GNUPGHOME": str(key.home)}
        run(["rpmsign", "--define", f"_gpg_name {key.uid}", "--define", "__gpg /usr/bin/gpg", "--addsign",
             *map(str, built)], env=env, stdin=subprocess.DEVNULL)  # fmt: skip
    return built


def build_repo(root: Path, rpms: list[Rpm], key: RpmKey | None) -> Path:
    """root/Packages/*.rpm, root/repodata/{repomd.xml,repomd.xml.asc,*-primary.xml.gz,...}."""
    build_rpms(rpms, root / "Packages", root.parent / f"{root.name}-build", key)
    run(["createrepo_c", "--quiet", "--general-compress-type=gz", "--no-database", str(root)])
    if key is not None:
        sign_repomd(root, key)
    return root


def sign_repomd(root: Path, key: RpmKey) -> None:
    env = {**os.environ, "GNUPGHOME": str(key.home)}
    repomd = root / "repodata" / "repomd.xml"
    run(["gpg", "--batch", "--yes", "--local-user", key.uid, "--armor", "--detach-sign", "--output",
         f"{repomd}.asc", str(repomd)], env=env)  # fmt: skip


def primary_checksums(root: Path) -> dict[str, tuple[str, int]]:
    """location href -> (sha256, package size) as the repository's primary metadata lists each package."""
    [primary] = (root / "repodata").glob("*-primary.xml.gz")
    common = "{http://linux.duke.edu/metadata/common}"
    out = {}
    for package in ET.fromstring(gzip.decompress(primary.read_bytes())).iter(f"{common}package"):
        checksum, location, size = (package.find(f"{common}{tag}") for tag in ("checksum", "location", "size"))
        assert checksum is not None and location is not None and size is not None
        assert checksum.get("type") == "sha256"
        out[location.get("href", "")] = (checksum.text or "", int(size.get("package", "0")))
    return out


def install_base(installroot: Path, rpm_files: list[Path], dbpath: str | None = None) -> None:
    """An installroot whose rpm database holds these packages (as a base image's would); no files.
    `dbpath` as an rpm distribution has it (/var/lib/rpm); None: this rpm's default, which Debian's dnf reads."""
    installroot.mkdir(parents=True, exist_ok=True)
    where = ["--dbpath", dbpath] if dbpath else []
    if rpm_files:
        run(["rpm", "--root", str(installroot), *where, "--justdb", "--nodeps", "--noscripts", "--nosignature",
             "-i", *map(str, rpm_files)])  # fmt: skip


def base_manifest(installroot: Path) -> str:
    """`rpm -qa` of the installroot, in the format `[dnf] base-manifest` reads."""
    query = r"%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\t%{ARCH}\n"
    return run(["rpm", "--root", str(installroot), "-qa", "--qf", query]).stdout.decode()


_SECTION = re.compile(r"^(Installing|Upgrading|Installing dependencies|Installing weak dependencies|Downgrading|"
                      r"Reinstalling|Removing|Removing dependent packages|Installing group/module packages):$")  # fmt: skip
_ROW = re.compile(r"^ (\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+\S+ \S+$")


@dataclass
class DnfAnswer:
    code: int
    installs: set[tuple[str, str, str]]  # (name, evr, arch) installed or upgraded to
    removes: set[str]
    output: str


def dnf_install(
    work: Path,
    installroot: Path,
    repos: dict[str, tuple[str, Path]],
    packages: list[str],
    releasever: str,
    *,
    weak_deps: bool = False,
) -> DnfAnswer:
    """Debian's dnf: `dnf --installroot R --releasever V --assumeno install PKGS` on these repositories only,
    with gpgcheck and repo_gpgcheck, and the transaction table it prints read back."""
    reposdir = work / "yum.repos.d"
    reposdir.mkdir(parents=True, exist_ok=True)
    for repo_id, (baseurl, key) in repos.items():
        (reposdir / f"{repo_id}.repo").write_text(
            f"[{repo_id}]\nname={repo_id}\nbaseurl={baseurl}\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=file://{key}\n"
        )
    common = ["dnf", "--installroot", str(installroot), "--releasever", releasever,
              f"--setopt=reposdir={reposdir}", f"--setopt=cachedir={work / 'cache'}", f"--setopt=logdir={work}",
              f"--setopt=persistdir={work / 'persist'}", f"--setopt=install_weak_deps={weak_deps}"]  # fmt: skip
    env = {**os.environ, "LC_ALL": "C", "COLUMNS": "200"}
    # repo_gpgcheck asks before it imports the key into dnf's own keyring, and --assumeno says no: so the
    # key is imported (and the signed metadata read) by a `makecache -y` first.
    made = subprocess.run([*common, "-y", "makecache"], capture_output=True, check=False, env=env)
    if made.returncode != 0:
        raise AssertionError(f"dnf makecache failed: {(made.stdout + made.stderr).decode(errors='replace')}")
    result = subprocess.run([*common, "--assumeno", "install", *packages], capture_output=True, check=False, env=env)
    output = result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")
    installs: set[tuple[str, str, str]] = set()
    removes: set[str] = set()
    section = None
    for line in output.splitlines():
        header = _SECTION.match(line)
        if header:
            section = header.group(1)
            continue
        if not line.startswith(" "):
            # any other heading ends the section: "Skipping packages with broken dependencies:" lists what
            # dnf (best=False) left out, not what it installs
            section = None
            continue
        if section is None:
            continue
        row = _ROW.match(line)
        if row is None:
            continue
        name, arch, evr = row.group(1), row.group(2), row.group(3)
        if section.startswith("Removing"):
            removes.add(name)
        else:
            installs.add((name, evr, arch))
    return DnfAnswer(result.returncode, installs, removes, output)
