"""bootstrap.sh: the script that turns a base image into exactly what the lock holds.

The script is the template imagelock/build/bootstrap.sh with its data slot filled.
The slot holds data only: every lock value, validated (imagelock.build.values)
and shell-quoted, assigned to readonly variables and flat arrays. Everything
else is the template's text, the same for every lock, so no lock value can ever
reach the shell as code: changing a lock changes the data block and nothing
else. tests/generate/test_gen_hostile.py holds that to account.

A new layer is one function here that returns its names (and a line per name in
the template's data slot, so shellcheck knows them) plus one step_<layer>
function in the template, called from the step list at its end.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from imagelock import domains
from imagelock.build import hardware, manifests
from imagelock.build.values import (
    COMMIT,
    DEB_ARCH,
    DRIVER,
    INTERPRETER,
    KERNEL,
    MODEL_REPO,
    RUNFILE_FLAG,
    Values,
    sh,
)
from imagelock.domains import apt as apt_domain
from imagelock.domains import dnf as dnf_domain
from imagelock.domains.apt import pins as apt_pins
from imagelock.formats.oci_reference import DIGEST
from imagelock.intent.apt import REPOSITORY_NAME
from imagelock.intent.containers import PLATFORM
from imagelock.lock.model import ENV_NAME, AptSource, Lock, PythonPackage

TEMPLATE = "bootstrap.sh"
DATA_START = "\n# --- the lock (data only) ---\n"  # the template's last line before the data slot
SLOT_BEGIN = "# >>> lock data"  # the slot: from the line starting so ...
SLOT_END = "# <<< lock data\n"  # ... to this line, both included
_DECLARED = re.compile(r"^readonly (?:-a )?([A-Z][A-Z0-9_]*)=", re.MULTILINE)

MODEL_HOST = "https://huggingface.co"
MIRROR_SCHEMES = ("https://", "http://", "s3://")  # what download() in the script can read
APT_URLS = 2  # URL columns per .deb row: the snapshot's, then the upstream's


@dataclass(frozen=True)
class Template:
    """bootstrap.sh cut at its data slot."""

    head: str  # shebang, usage and shell options, with @IMAGE@ and @DIGEST@; ends with DATA_START
    names: tuple[str, ...]  # what the slot declares for shellcheck: the names data() must produce
    body: str  # the code, the same text for every lock

    def header(self, image: str, digest: str) -> str:
        """The head for one lock (the digest first, so the image name is never scanned for a placeholder)."""
        return self.head.replace("@DIGEST@", digest).replace("@IMAGE@", image)


@functools.cache
def template() -> Template:
    """The template shipped as package data (pyproject.toml), read once per process."""
    text = resources.files(__package__).joinpath(TEMPLATE).read_text(encoding="utf-8")
    head, begin, rest = text.partition(SLOT_BEGIN)
    slot, end, body = rest.partition(SLOT_END)
    if not (begin and end and head.endswith(DATA_START)):
        raise RuntimeError(
            f"{TEMPLATE}: no data slot ({SLOT_BEGIN!r} after {DATA_START.strip()!r}, then {SLOT_END.strip()!r})"
        )
    return Template(head, tuple(_DECLARED.findall(slot)), body)


Data = dict[str, "str | list[tuple[str, ...]]"]
Layer = Callable[[Lock, Values], Data]


def _identity(lock: Lock, lock_sha256: str, v: Values) -> Data:
    """Which lock and image this script is for, and where it may read artifacts from."""
    return {
        "IMAGE_NAME": v.lock_name(lock.name) and lock.image_name(),
        "LOCK_DIGEST": v.sha256(lock.digest(), "digest"),
        "LOCK_SHA256": v.sha256(lock_sha256, "lock file"),
        "MODEL_HOST": MODEL_HOST,
        "MIRROR_URL": v.url(lock.mirror.url, "mirror.url", MIRROR_SCHEMES) if lock.mirror else "",
    }


def _python(lock: Lock, v: Values) -> Data:
    """One row per env (name, interpreter, venv), one per package file and one per build package (the wheels its
    sdists are built with): env, name, version, file, url, sha256, size."""
    envs: list[tuple[str, ...]] = []
    wheels: list[tuple[str, ...]] = []
    build: list[tuple[str, ...]] = []
    for where, env in manifests.python_envs(lock):
        name = (
            v.match(env.name, ENV_NAME, f"{where}.name", "an env name like train")
            if lock.python and lock.python.envs
            else env.name
        )
        envs.append(
            (
                name,
                v.match(env.version, INTERPRETER, f"{where}.version", "a Python version like 3.11"),
                v.abs_path(env.venv, f"{where}.venv"),
            )
        )
        wheels += _python_files(name, env.packages, f"{where}.packages", v, v.dist_file)
        build += _python_files(name, env.build_packages, f"{where}.build-packages", v, v.wheel_file)  # wheels only
    return {"PY_ENVS": envs, "PY_WHEELS": sorted(wheels), "PY_BUILD": sorted(build)}


def _python_files(
    env: str, packages: list[PythonPackage], key: str, v: Values, file_name: Callable[[str, str, str, str], str]
) -> list[tuple[str, ...]]:
    """The rows of one env's package files (each file name checked by `file_name`): env, name, version, file,
    url, sha256, size."""
    rows: list[tuple[str, ...]] = []
    for i, p in enumerate(packages):
        at = f"{key}[{i}]"
        size = v.size(p.wheel.size, f"{at}.wheel.size", optional=True)
        package, version = v.python_name(p.name, f"{at}.name"), v.python_version(p.version, f"{at}.version")
        rows.append(
            (
                env,
                package,
                version,
                file_name(p.wheel.filename, package, version, f"{at}.wheel.filename"),
                v.url(p.wheel.url, f"{at}.wheel.url"),
                v.sha256(p.wheel.sha256, f"{at}.wheel.sha256"),
                "" if size is None else str(size),
            )
        )
    return rows


def _apt(lock: Lock, v: Values) -> Data:
    """One row per .deb: name, version, arch, pool path, sha256, size, then up to two URLs to fetch it from.

    Nothing about the archive's indexes or keys: the build fetches each .deb by its pool path
    and installs it as a verified local file, so no index is resolved again at build time.
    The sha256s are trusted because `lock update` read them from signed indexes; a layer read
    from an unsigned archive has nothing to trust, so it is refused here.
    """
    debs: list[tuple[str, ...]] = []
    if lock.apt:
        apt = lock.apt
        if apt.keyring_sha256 == "unsigned" or not apt.sources:
            raise v.fail(
                "apt.keyring-sha256",
                "the apt layer is unsigned; bootstrap.sh installs only .debs whose sha256s come from signed indexes",
            )
        urls_of = apt_domain.deb_urls(apt)
        for i, d in enumerate(apt.packages):
            key = f"apt.packages[{i}]"
            urls = [v.url(url, f"{key}.filename") for url in urls_of(d)][:APT_URLS]
            debs.append(
                (
                    v.deb_name(d.name, f"{key}.name"),
                    v.deb_version(d.version, f"{key}.version"),
                    v.match(d.arch, DEB_ARCH, f"{key}.arch", "a Debian architecture"),
                    v.rel_path(d.filename.removeprefix("./"), f"{key}.filename"),
                    v.sha256(d.sha256, f"{key}.sha256"),
                    str(v.size(d.size, f"{key}.size")),
                    *urls,
                    *[""] * (APT_URLS - len(urls)),
                )
            )
    return {"APT_PACKAGES": sorted(debs), **_apt_repositories(lock, v)}


KEYRING_B64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
APT_PIN = re.compile(r"^release [a-z]=[A-Za-z0-9][A-Za-z0-9 ._:~+/()-]*(?:,[a-z]=[A-Za-z0-9][A-Za-z0-9 ._:~+/()-]*)*$")
APT_SUITE = re.compile(r"^(?:\./|[A-Za-z0-9][A-Za-z0-9._/-]*)$")  # a flat one ends in "/"
APT_WORD = re.compile(r"^[a-z0-9][a-z0-9._-]*$")  # a component or an architecture


def _keyring(encoded: str | None, recorded: str, key: str, v: Values) -> tuple[str, str, str]:
    """A keyring from the lock as the build installs it: its file extension ("asc" when armored, else "gpg"),
    its sha256 and the file in base64, refused unless the bytes are the ones keyring-sha256 records."""
    sha256 = v.sha256(recorded, f"{key}.keyring-sha256")
    if encoded is None:
        raise v.fail(
            f"{key}.keyring",
            "missing: a layer with [[apt.repositories]] records the archive's keyring, which the build installs "
            "beside theirs (run `lock update --only apt` to record it)",
        )
    encoded = v.match(encoded, KEYRING_B64, f"{key}.keyring", "a keyring in base64")
    try:
        data = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise v.fail(f"{key}.keyring", "is not base64") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise v.fail(f"{key}.keyring", f"is not the keyring keyring-sha256 records (sha256 {sha256})")
    return ("asc" if data.startswith(b"-----BEGIN PGP") else "gpg"), sha256, encoded


def _suites(sources: list[AptSource], key: str, v: Values) -> tuple[str, str, str]:
    """The suites, components and architectures of a deb822 .sources stanza, each space-separated."""
    if not sources:
        raise v.fail(f"{key}.sources", "lists no suite")
    first = f"{key}.sources[0]"
    suites = [v.match(x.suite, APT_SUITE, f"{key}.sources[{j}].suite", "a suite") for j, x in enumerate(sources)]
    components = [v.match(c, APT_WORD, f"{first}.components", "a component") for c in sources[0].components]
    arches = [v.match(a, APT_WORD, f"{first}.architectures", "an architecture") for a in sources[0].architectures]
    if not arches:
        raise v.fail(f"{first}.architectures", "names no architecture")
    return " ".join(suites), " ".join(components), " ".join(arches)


def _apt_repositories(lock: Lock, v: Values) -> Data:
    """The `[[apt.repositories]]` the image is configured with: one row per repository (name, keyring file
    extension, keyring sha256, keyring in base64, URL, suites, components, architectures), and one row per
    apt preference (package or "*", pin, priority).

    With repositories, APT_ARCHIVE is one row for the main archive (keyring file extension, sha256, base64,
    the upstream archive's URL, suites, components, architectures): the build installs its keyring beside
    theirs, and writes its source only when the base image lists none for that URL (a second entry for the
    same archive with another Signed-By makes apt refuse every command). Without repositories nothing is
    configured: the base image's own source and key serve the archive, as before. The .debs are installed
    from the pool either way; this is what later `apt-get` runs on the image read.
    """
    rows: list[tuple[str, ...]] = []
    prefs: list[tuple[str, ...]] = []
    apt = lock.apt
    if not apt or not apt.repositories:
        return {"APT_ARCHIVE": [], "APT_REPOS": rows, "APT_PINS": prefs}
    problem = apt_pins.clash(apt)
    if problem is not None:
        raise v.fail("apt.repositories", problem)
    archive = (
        *_keyring(apt.keyring, apt.keyring_sha256, "apt", v),
        v.url(apt.archive.rstrip("/"), "apt.archive"),
        *_suites(apt.sources, "apt", v),
    )
    for i, r in enumerate(apt.repositories):
        key = f"apt.repositories[{i}]"
        rows.append(
            (
                v.match(r.name, REPOSITORY_NAME, f"{key}.name", "a repository name (a-z, 0-9, '-')"),
                *_keyring(r.keyring, r.keyring_sha256, key, v),
                v.url(r.url, f"{key}.url"),
                *_suites(r.sources, key, v),
            )
        )
    for package, pin, priority in apt_pins.pins(apt):
        where = "apt.repositories"
        if package != "*":
            v.deb_name(package, f"{where}: assigned {package!r}")
        prefs.append((package, v.match(pin, APT_PIN, where, "an apt release pin"), str(int(priority))))
    return {"APT_ARCHIVE": [archive], "APT_REPOS": rows, "APT_PINS": prefs}


RPM_NAME = re.compile(r"^[A-Za-z0-9_+][A-Za-z0-9_.+-]*$")
RPM_EVR = re.compile(r"^(?:[0-9]+:)?[A-Za-z0-9._+~^]+-[A-Za-z0-9._+~^]+$")
RPM_ARCH = re.compile(r"^[a-z0-9_]+$")
RPM_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
ARMOR_LINE = re.compile(r"^(?:-----(?:BEGIN|END) PGP PUBLIC KEY BLOCK-----|[A-Za-z0-9+/=]*)$")


def _armor_lines(text: str, v: Values, key: str) -> list[str]:
    """The armored key as rpm imports it, line by line, without armor headers (Version:, Comment:)."""
    lines, in_headers = [], False
    for line in text.strip().splitlines():
        line = line.strip()
        if line.startswith("-----BEGIN"):
            in_headers = True
        elif in_headers and ":" in line:
            continue
        elif in_headers and not line:
            in_headers = False
        lines.append(v.match(line, ARMOR_LINE, key, "an ASCII-armored OpenPGP public key"))
    if not lines or not lines[0].startswith("-----BEGIN") or not lines[-1].startswith("-----END"):
        raise v.fail(key, "expected an ASCII-armored OpenPGP public key")
    return lines


def _dnf(lock: Lock, v: Values) -> Data:
    """One row per .rpm: name, [epoch:]version-release, arch, file name, sha256, size, repository, URL; and
    one row per line of each repository's armored key, which every .rpm's signature is checked with.

    The build fetches each .rpm by its location under the releasever-pinned repository (or from the mirror
    by sha256) and installs verified local files: no repository metadata is read at build time.
    """
    rows: list[tuple[str, ...]] = []
    keys: list[tuple[str, ...]] = []
    layer = lock.dnf
    if layer:
        for i, repo in enumerate(layer.repos):
            repo_id = v.match(repo.id, RPM_REPO, f"dnf.repos[{i}].id", "a repository id")
            keys += [(repo_id, line) for line in _armor_lines(repo.gpgkey, v, f"dnf.repos[{i}].gpgkey")]
        for i, p in enumerate(layer.packages):
            key = f"dnf.packages[{i}]"
            rows.append(
                (
                    v.match(p.name, RPM_NAME, f"{key}.name", "an rpm package name"),
                    v.match(p.evr, RPM_EVR, f"{key}.version", "an rpm [epoch:]version-release"),
                    v.match(p.arch, RPM_ARCH, f"{key}.arch", "an rpm architecture"),
                    v.file_name(p.location.rsplit("/", 1)[-1], f"{key}.location"),
                    v.sha256(p.sha256, f"{key}.sha256"),
                    str(v.size(p.size, f"{key}.size")),
                    v.match(p.repo, RPM_REPO, f"{key}.repo", "a repository id"),
                    v.url(dnf_domain.rpm_url(layer, p), f"{key}.location"),
                )
            )
    return {"RPM_PACKAGES": sorted(rows), "RPM_KEYS": keys}


def _kernel(lock: Lock, v: Values) -> Data:
    """The kernel release the apt step must have installed (the driver is built against it)."""
    return {
        "KERNEL_VERSION": v.match(
            lock.kernel.version, KERNEL, "kernel.version", "a kernel release like 5.15.0-105-generic"
        )
        if lock.kernel
        else ""
    }


def _nvidia(lock: Lock, v: Values) -> Data:
    """The driver runfile, where to fetch it, its hashes, and the flags it runs with (one row)."""
    nv = lock.nvidia
    out: Data = {
        name: ""
        for name in (
            "NVIDIA_RUNFILE",
            "NVIDIA_URL",
            "NVIDIA_MIRROR_URL",
            "NVIDIA_SHA256",
            "NVIDIA_MD5",
            "NVIDIA_SIZE",
            "NVIDIA_DRIVER_VERSION",
        )
    }
    flags: list[str] = []
    if nv:
        flags = [
            v.match(f, RUNFILE_FLAG, "nvidia.install-flags", "a runfile flag like --dkms") for f in nv.install_flags
        ]
        out["NVIDIA_RUNFILE"] = v.file_name(nv.runfile, "nvidia.runfile")
        out["NVIDIA_URL"] = v.url(nv.url, "nvidia.url")
        if nv.mirror_url:
            out["NVIDIA_MIRROR_URL"] = v.url(nv.mirror_url, "nvidia.mirror-url", MIRROR_SCHEMES)
        out["NVIDIA_SHA256"] = v.sha256(nv.sha256, "nvidia.sha256")
        out["NVIDIA_MD5"] = v.md5(nv.md5, "nvidia.md5")
        out["NVIDIA_SIZE"] = str(v.size(nv.size, "nvidia.size"))
        out["NVIDIA_DRIVER_VERSION"] = v.match(nv.driver_version, DRIVER, "nvidia.driver-version", "a driver version")
    out["NVIDIA_FLAGS"] = [tuple(flags)] if flags else []
    return out


def _models(lock: Lock, v: Values) -> Data:
    """One row per model file: repo, commit, folder, path, sha256, size (both empty: not hashed yet)."""
    files: list[tuple[str, ...]] = []
    for i, m in enumerate(lock.models):
        key = f"models[{i}]"
        repo = v.match(m.repo, MODEL_REPO, f"{key}.repo", "a model repo id like owner/name")
        commit = v.match(m.commit, COMMIT, f"{key}.commit", "a 40-hex commit")
        dest = v.abs_path(m.dest, f"{key}.dest")
        for j, f in enumerate(m.files):
            fkey = f"{key}.files[{j}]"
            files.append(
                (
                    repo,
                    commit,
                    dest,
                    v.rel_path(f.path, f"{fkey}.path"),
                    # Empty for a file the lock holds without a hash: the build measures it (step_models).
                    "" if f.sha256 is None else v.sha256(f.sha256, f"{fkey}.sha256"),
                    "" if f.sha256 is None else str(v.size(f.size, f"{fkey}.size")),
                )
            )
    return {"MODEL_FILES": sorted(files)}


_MODE = re.compile(r"^0[0-7]{3}$")


def _placed(lock: Lock, v: Values) -> Data:
    """One row per artifact a domain places at a `dest` (the generic file step): dest, sha256, size, mode,
    url, and "extract" for a tarball unpacked into the directory `dest` (else empty). An artifact the lock
    holds without a hash has an empty sha256 (the build measures it); one without a size, an empty size.

    Every domain's artifacts are read through the domain list, so a new domain's files are placed,
    verified and fingerprinted without a line here.
    """
    rows: list[tuple[str, ...]] = []
    for domain, layer in domains.present(lock):
        for i, artifact in enumerate(domain.artifacts(layer)):
            if artifact.dest is None:
                continue
            key = f"{domain.name}[{i}]"
            mode = v.match(artifact.mode or "0644", _MODE, f"{key}.mode", 'an octal file mode like "0644"')
            rows.append(
                (
                    v.abs_path(artifact.dest, f"{key}.dest"),
                    "" if artifact.unhashed else v.sha256(artifact.sha256, f"{key}.sha256"),
                    "" if artifact.size is None else str(v.size(artifact.size, f"{key}.size")),
                    mode,
                    v.url(artifact.url, f"{key}.url"),
                    "extract" if artifact.extract else "",
                )
            )
    return {"PLACED_FILES": sorted(rows)}


# registry host[:port]/repository, and the reference as an intent writes it (imagelock.formats.oci_reference)
_IMAGE_NAME = re.compile(r"^[A-Za-z0-9.\[\]:-]+(?:/[a-z0-9._-]+)+$")
_IMAGE_REF = re.compile(r"^[A-Za-z0-9.\[\]:-]+(?:/[a-z0-9._-]+)+(?::[A-Za-z0-9_.-]+)?(?:@sha256:[0-9a-f]{64})?$")


def _containers(lock: Lock, v: Values) -> Data:
    """One row per container image: runtime, the reference as asked (for messages), registry/repository,
    the locked digest, "plain-http" or empty, and the locked platforms joined by commas."""
    rows: list[tuple[str, ...]] = []
    for i, image in enumerate(lock.layers.get("containers") or []):
        key = f"containers[{i}]"
        platforms = [
            v.match(p.platform, PLATFORM, f"{key}.platforms[{j}].platform", "os/architecture[/variant]")
            for j, p in enumerate(image.platforms)
        ]
        rows.append(
            (
                v.match(image.runtime, _RUNTIME, f"{key}.runtime", "containerd or docker"),
                v.match(image.image, _IMAGE_REF, f"{key}.image", "an image reference"),
                v.match(image.name, _IMAGE_NAME, f"{key}.repository", "registry/repository"),
                v.match(image.digest, DIGEST, f"{key}.digest", "sha256:<64 hex>"),
                "plain-http" if image.plain_http else "",
                ",".join(platforms),
            )
        )
    return {"CONTAINER_IMAGES": rows}


_RUNTIME = re.compile(r"^(?:containerd|docker)$")


def _smoke(lock: Lock, v: Values) -> Data:
    """The smoke tests, as one row (their names are ours, not the lock's)."""
    tests = smoke_tests(lock)
    return {"SMOKE_TESTS": [tuple(tests)] if tests else []}


# In the template's order; a lock with two bad values names the first of them.
LAYERS: tuple[Layer, ...] = (_python, _apt, _dnf, _kernel, _nvidia, _models, _placed, _containers, _smoke)


def data(lock: Lock, lock_sha256: str, values: Values) -> Data:
    """Every lock value the script uses, validated: scalars, and tables as rows of strings."""
    out = _identity(lock, lock_sha256, values)
    for layer in LAYERS:
        out.update(layer(lock, values))
    return out


def data_block(values: Data) -> str:
    """The data as readonly shell variables and flat arrays: every value one quoted word."""
    lines = []
    for name, value in values.items():
        if isinstance(value, str):
            lines.append(f"readonly {name}={sh(value)}")
        else:
            lines.append(f"readonly -a {name}=(")
            lines += ["  " + " ".join(sh(item) for item in row) for row in value]
            lines.append(")")
    return "\n".join(lines) + "\n"


def smoke_tests(lock: Lock) -> list[str]:
    """The seed's smoke tests that apply to what this lock installs; a Python one names its env's venv
    after an @ (`torch@/opt/venvs/ai`), once per env that holds what it tests."""
    tests: list[str] = []
    if lock.nvidia:
        tests.append("nvidia")
    for env in lock.python.environments() if lock.python else []:
        names = {p.name for p in env.packages}
        at = f"@{env.venv}"
        if "torch" in names:
            tests.append(("torch" if hardware.needs_gpu(lock) else "torch-cpu") + at)
        if "vllm" in names:
            tests.append("vllm" + at)
        if "transformers" in names:
            for m in sorted(lock.models, key=lambda m: m.dest):
                if any(f.path == "tokenizer.json" for f in m.files):
                    tests.append(f"tokenizer:{m.dest}{at}")
    return tests


def render(lock: Lock, lock_sha256: str, values: Values) -> str:
    """The template with this lock's data in its slot."""
    block = data_block(data(lock, lock_sha256, values))  # validates the name before the header uses it
    script = template()
    return script.header(lock.image_name(), lock.digest()) + block + script.body
