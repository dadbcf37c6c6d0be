"""Facts (what a machine holds) against a lock (what it should hold): one finding per difference.

The lock is indexed once (`LockIndex`), partly in the shape a clean machine reports,
so that each layer of a facts document is first checked for "nothing to report" by
one equality in C (the _clean functions: most of a fleet is clean); only a layer
that fails it is compared in full, with set operations on tuples. A fleet of
10,000 documents is compared in seconds on one core (bench/drift_bench.py).
Only what the lock holds is compared: a lock without an apt layer ignores dpkg,
one without models ignores model folders.

Finding kinds: missing, extra (only where the lock owns the whole set: the venv,
each model folder, and dpkg with `strict`), changed-version, changed-hash,
wrong-kernel, wrong-driver, other-lock (the machine's fingerprint names another
lock), not-installed (dpkg knows the package but it is half-installed/unpacked).
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from itertools import chain, compress
from pathlib import Path
from typing import Any

from imagelock import domains
from imagelock.drift import containers as container_drift
from imagelock.drift import rpmdb
from imagelock.errors import InputError
from imagelock.lock.model import Lock
from imagelock.untrusted import MAX_BYTES, load_json

LAYERS = ("image", "kernel", "nvidia", "apt", "python", "models")
# Where the facts of a machine with several venvs list them (each as "python" lists the one venv).
ENVS_FACTS = "python_envs"
# A venv is created holding these; they are drift only when the lock pins them.
VENV_SEED = frozenset({"pip", "setuptools", "wheel"})
DPKG_ARCHES = ("all", "amd64", "arm64", "armel", "armhf", "i386", "mips64el", "ppc64el", "riscv64", "s390x")
_NAME, _ARCH = operator.itemgetter(0), operator.itemgetter(2)
_DIST_NAME, _DIST_VERSION = operator.itemgetter("name"), operator.itemgetter("version")
_GET_PATH, _GET_SIZE = operator.methodcaller("get", "path"), operator.methodcaller("get", "size")
_GET_NAME, _GET_VERSION = operator.methodcaller("get", "name"), operator.methodcaller("get", "version")
_HAS_SHA256 = operator.methodcaller("__contains__", "sha256")
_NORMALIZE = re.compile(r"[-_.]+")


@functools.lru_cache(maxsize=1 << 16)
def normalize(name: str) -> str:
    """PEP 503 name normalization (cached: a fleet repeats the same few hundred names)."""
    return _NORMALIZE.sub("-", name).lower()


@dataclass(frozen=True)
class Finding:
    layer: str
    kind: str
    subject: str
    expected: str | None = None  # None: the lock has no such thing (extra)
    actual: str | None = None  # None: the machine has no such thing (missing)
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}


@dataclass
class Audit:
    """One machine's answer: findings, or the reason it could not be audited."""

    target: str
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None

    @property
    def status(self) -> str:
        if self.error is not None:
            return "unreachable"
        return "drifted" if self.findings else "clean"


class LockIndex:
    """Everything a comparison needs from a lock, computed once."""

    def __init__(self, lock: Lock, strict_apt: bool = False) -> None:
        self.lock = lock
        self.strict_apt = strict_apt
        self.digest = lock.digest()
        self.image = f"{lock.name}-{self.digest[:12]}"
        self.apt: dict[tuple[str, str], str] | None = None
        self.apt_rows: frozenset[tuple[str, str, str]] = frozenset()
        self.apt_names: frozenset[str] = frozenset()
        self.apt_arch: dict[str, str] = {}
        self.apt_other_arches: frozenset[tuple[str, str]] = frozenset()
        if lock.apt is not None:
            self.apt = {(p.name, p.arch): p.version for p in lock.apt.packages}
            self.apt_rows = frozenset((n, v, a) for (n, a), v in self.apt.items())
            self.apt_names = frozenset(n for n, _ in self.apt)
            self.apt_arch = {n: a for n, a in self.apt}
            # the other architectures a locked package could also be installed for (multiarch extras)
            self.apt_other_arches = frozenset((n, a) for n, _ in self.apt for a in DPKG_ARCHES) - self.apt.keys()
        # The dpkg rows a machine built from the lock holds for the lock's names, as the collector prints
        # them ([name, version, arch] lists, sorted), so that _apt_clean is one list equality.
        self.apt_row_lists = sorted([n, v, a] for (n, a), v in (self.apt or {}).items())
        arches = [a for _, a in self.apt or {} if a != "all"]
        self.main_arch = max(sorted(set(arches)), key=arches.count) if arches else "amd64"
        self.python: dict[str, str] | None = None
        self.python_items: frozenset[tuple[str, str]] = frozenset()
        self.python_names: dict[str, str] = {}
        # A lock with several Python envs: one index of each env's venv, compared env by env.
        self.envs: list[tuple[str, LockIndex]] = []
        if lock.python is not None and lock.python.envs:
            for env in lock.python.envs:
                view = Lock(lock.name, lock.intent_sha256, lock.universe, layers={"python": lock.python.single(env)})
                self.envs.append((env.name, LockIndex(view)))
        elif lock.python is not None:
            self.python = {normalize(p.name): p.version for p in lock.python.packages}
            self.python_items = frozenset(self.python.items())
            self.python_names = {normalize(p.name): p.name for p in lock.python.packages}
        # A clean venv, for _python_clean: these versions under these names, and no name but these.
        self.python_keys = list(self.python or {})
        self.python_versions = list((self.python or {}).values())
        self.python_allowed = frozenset(self.python or {}) | VENV_SEED
        # per folder: dest, repo, path -> (size, sha256), and path -> size (what a clean folder lists)
        self.models = [
            (m.dest, m.repo, {f.path: (f.size, f.sha256) for f in m.files}, {f.path: f.size for f in m.files})
            for m in lock.models
        ]
        self.venv = lock.python.venv if lock.python and not lock.python.envs else None
        self.venvs = [self.venv] if self.venv else [sub.venv for _, sub in self.envs if sub.venv]
        self.model_dests = [m.dest for m in lock.models]
        # every file a domain places at a dest: dest -> (domain, sha256, size); an extracted tarball's
        # tree has no one sha256 to compare, so it is not audited here
        self.placed = {
            a.dest: (domain.name, a.sha256, a.size)
            for domain, layer in domains.present(lock)
            for a in domain.artifacts(layer)
            if a.dest is not None and not a.extract
        }


def _expect(facts: Any, key: str, kind: type | tuple[type, ...], what: str, source: str) -> Any:
    value = facts.get(key)
    if not isinstance(value, kind):
        raise InputError(source, key, f"expected {what}, found {type(value).__name__}")
    return value


def _only(kind: type, items: Iterable[Any]) -> bool:
    """Every item is exactly a `kind`, checked in C; a subclass answers no, and the caller checks one by one."""
    return set(map(type, items)) <= {kind}


def _strings(items: Iterable[Any]) -> bool:
    """Every item is a str: str.join checks that in C, and refuses anything else with a TypeError."""
    try:
        "".join(items)
    except TypeError:
        return False
    return True


def validate(facts: Any, source: str) -> None:
    """Malformed facts are an InputError naming the key and the expectation."""
    if not isinstance(facts, dict):
        raise InputError(source, None, "expected a JSON object (a facts document from `lock collect`)")
    if facts.get("facts_version") != 1 or isinstance(facts.get("facts_version"), bool):  # true == 1 in Python
        raise InputError(source, "facts_version", f"expected 1, found {facts.get('facts_version')!r}")
    if facts.get("complete") is False:
        why = "; ".join(
            f"{e.get('where')}: {e.get('message')}" for e in facts.get("errors") or [] if isinstance(e, dict)
        )
        raise InputError(source, "complete", f"the collector did not finish ({why or 'no reason given'})")
    if facts.get("dpkg") is not None:
        rows = _expect(facts, "dpkg", list, "a list of [name, version, arch] rows", source)
        if not (_only(list, rows) and set(map(len, rows)) <= {3, 4} and _strings(chain.from_iterable(rows))):
            for i, row in enumerate(rows):  # something is off (or a subclass): find the row, one at a time
                if not (isinstance(row, list) and 3 <= len(row) <= 4 and all(isinstance(x, str) for x in row)):
                    raise InputError(source, f"dpkg[{i}]", "expected [name, version, arch] strings")
    if facts.get("python") is not None:
        _python_facts(_expect(facts, "python", dict, "an object", source), source, "python")
    if facts.get(ENVS_FACTS) is not None:  # several venvs: one object each, as "python" holds one
        for i, py in enumerate(_expect(facts, ENVS_FACTS, list, "a list of venv objects", source)):
            if not isinstance(py, dict) or not isinstance(py.get("venv"), str):
                raise InputError(source, f"{ENVS_FACTS}[{i}]", "expected an object with venv and distributions")
            _python_facts(py, source, f"{ENVS_FACTS}[{i}]")
    if facts.get("models") is not None:
        models = _expect(facts, "models", list, "a list of model folders", source)
        for i, m in enumerate(models):
            if not (isinstance(m, dict) and isinstance(m.get("dest"), str) and isinstance(m.get("files"), list)):
                raise InputError(source, f"models[{i}]", "expected {dest, files} with a files list")
    if facts.get("files") is not None:
        files = _expect(facts, "files", list, "a list of placed files", source)
        for i, f in enumerate(files):
            if not (
                isinstance(f, dict)
                and isinstance(f.get("path"), str)
                and isinstance(f.get("exists"), bool)
                and isinstance(f.get("sha256", ""), str)
            ):
                raise InputError(source, f"files[{i}]", "expected {path, exists, size, sha256}")
    _validate_rest(facts, source)
    container_drift.validate(facts, source)
    rpmdb.validate(facts, source)


def _python_facts(py: dict[str, Any], source: str, key: str) -> None:
    """One venv's facts: its distributions, each {name, version} with an optional RECORD check."""
    dists = py.get("distributions")
    if (
        not isinstance(dists, list)
        or not (_only(dict, dists) and _only(str, map(_GET_NAME, dists)) and _only(str, map(_GET_VERSION, dists)))
        and not all(
            isinstance(d, dict) and isinstance(d.get("name"), str) and isinstance(d.get("version"), str) for d in dists
        )
    ):
        raise InputError(source, f"{key}.distributions", "expected a list of {name, version} objects")
    for i, dist in enumerate(dists):
        record = dist.get("record")
        if record is not None and not (
            isinstance(record, dict)
            and _is_str_or_none(record.get("error"))
            and all(
                isinstance(record.get(k) or [], list) and all(isinstance(x, str) for x in record.get(k) or [])
                for k in ("changed", "missing")
            )
        ):
            raise InputError(source, f"{key}.distributions[{i}].record", "expected {changed, missing, error}")


def _is_str_or_none(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _validate_rest(facts: dict[str, Any], source: str) -> None:
    """The facts the comparison reads beyond the package lists, each with the type it must have: a
    machine's facts are untrusted, and a wrong type is this machine's one-line error, never a crash."""
    for key in ("hostname", "root"):
        if not _is_str_or_none(facts.get(key)):
            raise InputError(source, key, "expected a string")
    if facts.get("kernel") is not None:
        kernel = _expect(facts, "kernel", dict, "an object with running and installed", source)
        if not _is_str_or_none(kernel.get("running")):
            raise InputError(
                source, "kernel.running", f"expected a kernel release string, found {kernel.get('running')!r}"
            )
        installed = kernel.get("installed")
        if installed is not None and not (isinstance(installed, list) and all(isinstance(k, str) for k in installed)):
            raise InputError(source, "kernel.installed", "expected a list of kernel release strings")
    if facts.get("nvidia") is not None:
        nv = _expect(facts, "nvidia", dict, "an object with driver_version, cuda_version and sources", source)
        for key in ("driver_version", "cuda_version"):
            if not _is_str_or_none(nv.get(key)):
                raise InputError(source, f"nvidia.{key}", f"expected a version string, found {nv.get(key)!r}")
        sources = nv.get("sources")
        if sources is not None and not (
            isinstance(sources, dict) and all(isinstance(v, str) for v in sources.values())
        ):
            raise InputError(source, "nvidia.sources", "expected an object of where -> driver version strings")
    for i, m in enumerate(facts.get("models") or []):
        if not isinstance(m.get("exists", True), bool):
            raise InputError(source, f"models[{i}].exists", "expected true or false")
        for j, f in enumerate(m["files"]):
            if not (
                isinstance(f, dict)
                and isinstance(f.get("path"), str)
                and (f.get("size") is None or (isinstance(f.get("size"), int) and not isinstance(f.get("size"), bool)))
                and isinstance(f.get("sha256", ""), str)
            ):
                raise InputError(source, f"models[{i}].files[{j}]", "expected {path, size, sha256}")
    if facts.get("fingerprint") is not None:
        fp = _expect(facts, "fingerprint", dict, "an object with digest, lock_name and lock_digest", source)
        for key in ("digest", "lock_name", "lock_digest"):
            if not _is_str_or_none(fp.get(key)):
                raise InputError(source, f"fingerprint.{key}", "expected a string")
    for key in ("kernel", "nvidia", "fingerprint"):
        if facts.get(key) is not None:
            _expect(facts, key, dict, "an object", source)


def compare(index: LockIndex, facts: dict[str, Any], source: str = "facts") -> list[Finding]:
    """Every difference between one validated facts document and the lock."""
    out: list[Finding] = []
    lock = index.lock
    _fingerprint(index, facts, out)
    if lock.kernel is not None:
        _kernel(lock.kernel.version, facts.get("kernel") or {}, out)
    if lock.nvidia is not None:
        _nvidia(lock.nvidia.driver_version, lock.nvidia.cuda_version, facts.get("nvidia") or {}, out)
    if index.apt is not None:
        if facts.get("dpkg") is None:
            raise InputError(source, "dpkg", "the lock has an apt layer but the facts hold no dpkg database")
        _apt(index, facts["dpkg"], out)
    if lock.dnf is not None:
        out += [Finding("dnf", *d) for d in rpmdb.differences(lock.dnf, facts.get("rpm"), source)]
    if index.python is not None:
        py = facts.get("python")
        if py is None:  # a collector that found several venvs lists each under python_envs
            py = next((env for env in facts.get(ENVS_FACTS) or [] if env.get("venv") == index.venv), None)
        if py is None:
            raise InputError(
                source,
                "python",
                f"the lock has a venv ({index.venv}) but the facts list none; collect with "
                f"`lock collect --lock LOCK` (or `--venv {index.venv}`)",
            )
        _python(index, py, bool(facts.get("deep")), out)
    if index.envs:
        _python_envs(index, facts, source, out)
    if index.models:
        _models(index, facts.get("models") or [], source, out)
    if index.placed:
        _placed(index, facts.get("files") or [], out)
    for kind, subject, expected, actual, detail in container_drift.compare(lock, facts, source):
        out.append(Finding(container_drift.LAYER, kind, subject, expected, actual, detail))
    return out


def _placed(index: LockIndex, files: list[dict[str, Any]], out: list[Finding]) -> None:
    """Each file a domain placed: missing, or other bytes than the lock's (by sha256)."""
    seen = {f["path"]: f for f in files}
    for dest, (layer, sha256, _size) in sorted(index.placed.items()):
        found = seen.get(dest)
        if found is None or not found["exists"]:
            out.append(Finding(layer, "missing", dest, expected=sha256[:12] or "no hash"))
        elif not sha256:  # held without a hash: its presence is all the lock can vouch for
            continue
        elif found.get("sha256") != sha256:
            out.append(
                Finding(
                    layer,
                    "changed-hash",
                    dest,
                    expected=sha256[:12],
                    actual=str(found.get("sha256") or "unreadable")[:12],
                )
            )


def _fingerprint(index: LockIndex, facts: dict[str, Any], out: list[Finding]) -> None:
    fp = facts.get("fingerprint")
    if not fp or not fp.get("digest"):
        out.append(
            Finding(
                "image",
                "missing",
                "fingerprint",
                index.image,
                None,
                "no /etc/imagelock/lock.digest: not built from an imagelock lock",
            )
        )
        return
    digest = str(fp["digest"])
    name = str(fp.get("lock_name") or index.lock.name)
    if digest != index.digest:
        out.append(Finding("image", "other-lock", "fingerprint", index.image, f"{name}-{digest[:12]}"))
    elif fp.get("lock_digest") not in (None, digest):
        out.append(
            Finding(
                "image",
                "other-lock",
                "fingerprint",
                index.image,
                f"{name}-{str(fp['lock_digest'])[:12]}",
                "/etc/imagelock/lock.toml names another digest than lock.digest",
            )
        )


def _kernel(expected: str, kernel: dict[str, Any], out: list[Finding]) -> None:
    running = kernel.get("running")
    if running:
        if running != expected:
            out.append(Finding("kernel", "wrong-kernel", "running kernel", expected, running))
        return
    installed = kernel.get("installed") or []
    if expected not in installed:
        out.append(
            Finding(
                "kernel",
                "wrong-kernel",
                "installed kernel",
                expected,
                ", ".join(installed) or None,
                "no /lib/modules for the locked kernel",
            )
        )


def _nvidia(driver: str, cuda: str, nv: dict[str, Any], out: list[Finding]) -> None:
    sources = nv.get("sources") or {}
    if not sources:
        out.append(
            Finding(
                "nvidia",
                "missing",
                "driver",
                driver,
                None,
                "no /proc/driver/nvidia, nvidia-smi, module or driver libraries found",
            )
        )
    seen = set()
    for where, value in sorted(sources.items()):
        for version in str(value).split(","):
            if version != driver and version not in seen:
                seen.add(version)
                out.append(Finding("nvidia", "wrong-driver", "driver", driver, version, f"from {where}"))
    toolkit = nv.get("cuda_version")
    if toolkit and not (toolkit == cuda or toolkit.startswith(cuda + ".")):
        out.append(Finding("nvidia", "changed-version", "cuda", cuda, toolkit, "/usr/local/cuda/version.json"))


def _apt(index: LockIndex, rows: list[list[str]], out: list[Finding]) -> None:
    # Without --strict only the rows that name a locked package can make a finding: they are picked out
    # in C, a clean machine is recognised by one list equality (_apt_clean), and the rest works on them
    # alone, with set operations over (name, version, arch) tuples; a dict of installed versions is
    # built only when something differs.
    assert index.apt is not None
    if not index.strict_apt:
        rows = list(compress(rows, map(index.apt_names.__contains__, map(_NAME, rows))))
        if _apt_clean(index, rows):
            return
    rowset = set(map(tuple, rows))
    differs = index.apt_rows - rowset
    if index.strict_apt:
        extra_keys = {(r[0], r[2]) for r in rowset - index.apt_rows} - index.apt.keys()
    elif len(rows) > len(index.apt) - len(differs):
        # a locked name on more rows than the lock has left matching: another arch of it (multiarch)
        extra_keys = set(zip(map(_NAME, rows), map(_ARCH, rows))) & index.apt_other_arches
    else:
        extra_keys = set()
    if not (differs or extra_keys or index.strict_apt):
        return  # clean; a half-installed package that is not locked is not the lock's business
    broken = [r for r in rows if len(r) != 3]
    installed = {(r[0], r[2]): r[1] for r in rows if len(r) == 3}
    half = {(row[0], row[2]) for row in broken}
    for name, version, arch in sorted(differs):
        actual = installed.get((name, arch))
        if actual is None and (name, arch) in half:
            continue  # reported below as not-installed
        if actual is None:
            out.append(Finding("apt", "missing", _apt_subject(index, name, arch), version, None))
        else:
            out.append(Finding("apt", "changed-version", _apt_subject(index, name, arch), version, actual))
    for name, arch in sorted(extra_keys - half):
        out.append(Finding("apt", "extra", _apt_subject(index, name, arch), None, installed[(name, arch)]))
    for name, version, arch, state in broken:
        if (name, arch) in index.apt or index.strict_apt:
            out.append(
                Finding(
                    "apt",
                    "not-installed",
                    _apt_subject(index, name, arch),
                    index.apt.get((name, arch)),
                    version,
                    f"dpkg state {state}",
                )
            )


def _apt_clean(index: LockIndex, owned: list[list[str]]) -> bool:
    """No finding: the rows that name a locked package are exactly the locked rows, in the collector's
    (sorted) order. Rows in another order, or anything that differs, answer no: the full comparison decides."""
    return owned == index.apt_row_lists


def _apt_subject(index: LockIndex, name: str, arch: str) -> str:
    # name:arch only where a name has several arches in play; plain names read like apt's.
    # apt's own spelling: the plain name for the locked arch (unlocked: the main arch or all), else name:arch.
    # dpkg never holds one name as both `all` and an arch, so the plain name is never ambiguous.
    locked = index.apt_arch.get(name)
    plain = arch == locked if locked else arch in ("all", index.main_arch)
    return name if plain else f"{name}:{arch}"


def _python_envs(index: LockIndex, facts: dict[str, Any], source: str, out: list[Finding]) -> None:
    """Every env's venv, each against its own packages; a finding names its env (`train/numpy`)."""
    by_venv = {py.get("venv"): py for py in facts.get(ENVS_FACTS) or []}
    one = facts.get("python")  # a collector asked for one venv lists it as a machine with one env does
    if isinstance(one, dict):
        by_venv.setdefault(one.get("venv"), one)
    for name, sub in index.envs:
        py = by_venv.get(sub.venv)
        if py is None:
            raise InputError(
                source,
                ENVS_FACTS,
                f"the lock has a venv ({sub.venv}, env {name}) but the facts list none; "
                "collect with `lock collect --lock LOCK`",
            )
        found: list[Finding] = []
        _python(sub, py, bool(facts.get("deep")), found)
        out += [replace(f, subject=f"{name}/{f.subject}") for f in found]


def _python(index: LockIndex, py: dict[str, Any], deep: bool, out: list[Finding]) -> None:
    if not py.get("exists", True):
        out.append(Finding("python", "missing", "venv", index.venv, None))
        return
    assert index.python is not None
    dists = py.get("distributions") or []
    have = dict(zip(map(normalize, map(_DIST_NAME, dists)), map(_DIST_VERSION, dists)))  # C-level loops
    if not deep and len(have) == len(dists) and _python_clean(index, have):
        return
    if len(have) < len(dists):  # the same distribution installed twice (two dist-info folders)
        first: dict[str, str] = {}
        for dist in dists:
            key = normalize(dist["name"])
            if key in first:
                out.append(
                    Finding(
                        "python",
                        "extra",
                        dist["name"],
                        index.python.get(key),
                        dist["version"],
                        f"installed twice ({first[key]} and {dist['version']})",
                    )
                )
            else:
                first[key] = dist["version"]
        have = first
    records = {normalize(d["name"]): d["record"] for d in dists if "record" in d} if deep else {}
    for key, version in sorted(index.python_items - have.items()):
        name = index.python_names[key]
        actual = have.get(key)
        if actual is None:
            out.append(Finding("python", "missing", name, version, None))
        elif not _same_version(version, actual):
            out.append(Finding("python", "changed-version", name, version, actual))
    for key in sorted(have.keys() - index.python.keys() - VENV_SEED):
        out.append(Finding("python", "extra", key, None, have[key]))
    for key, record in sorted(records.items()):
        if not isinstance(record, dict) or key not in index.python:
            continue
        if record.get("error"):
            out.append(
                Finding(
                    "python", "changed-hash", index.python_names[key], None, None, f"cannot verify: {record['error']}"
                )
            )
            continue
        changed, missing = record.get("changed") or [], record.get("missing") or []
        if changed or missing:
            files = ", ".join([*changed[:3], *missing[:3]])
            more = len(changed) + len(missing) - min(3, len(changed)) - min(3, len(missing))
            out.append(
                Finding(
                    "python",
                    "changed-hash",
                    index.python_names[key],
                    "RECORD",
                    f"{len(changed)} changed, {len(missing)} missing",
                    files + (f" and {more} more" if more > 0 else ""),
                )
            )


def _python_clean(index: LockIndex, have: dict[str, str]) -> bool:
    """No finding for this venv (normalized name -> version, no name twice): every locked version exactly,
    nothing else but pip, setuptools and wheel. A list equality and a subset test, both in C; when it
    says no, the full comparison decides (it also accepts 1.0 for 1.0.0, which this does not)."""
    return list(map(have.get, index.python_keys)) == index.python_versions and have.keys() <= index.python_allowed


def _same_version(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        from packaging.version import InvalidVersion, Version

        try:
            return Version(a) == Version(b)
        except InvalidVersion:
            return False
    except ImportError:  # pragma: no cover - packaging is a declared dependency
        return False


def _models(index: LockIndex, models: list[dict[str, Any]], source: str, out: list[Finding]) -> None:
    by_dest = {m["dest"]: m for m in models}
    for dest, repo, files, sizes in index.models:
        folder = by_dest.get(dest)
        if folder is None:
            raise InputError(
                source,
                "models",
                f"the lock has model folder {dest} but the facts do not list it; collect with "
                f"`lock collect --lock LOCK` (or `--models {dest}`)",
            )
        if not folder.get("exists", True):
            out.append(Finding("models", "missing", dest, repo, None, f"{len(files)} files"))
            continue
        if _folder_clean(sizes, folder["files"]):
            continue
        seen = {}
        for item in folder["files"]:
            seen[item.get("path")] = item
        for path, (size, sha) in sorted(files.items()):
            item = seen.get(path)
            subject = f"{dest.rstrip('/')}/{path}"
            if item is None:
                out.append(Finding("models", "missing", subject, (sha or "no hash")[:12], None))
            elif size is None:  # held without a hash: its presence is all the lock can vouch for
                continue
            elif item.get("size") != size:
                out.append(
                    Finding(
                        "models", "changed-hash", subject, f"{size} bytes", f"{item.get('size')} bytes", "size differs"
                    )
                )
            elif "sha256" in item and item["sha256"] != sha:
                out.append(Finding("models", "changed-hash", subject, str(sha)[:12], str(item["sha256"])[:12]))
        for path in sorted(set(seen) - set(files)):
            out.append(
                Finding("models", "extra", f"{dest.rstrip('/')}/{path}", None, f"{seen[path].get('size')} bytes")
            )


def _folder_clean(sizes: dict[str, int | None], listed: list[dict[str, Any]]) -> bool:
    """No finding for this folder: exactly the locked paths at their sizes, and no hash listed to check
    (a --deep collection lists them). One dict equality in C; when it says no, the full comparison decides."""
    return not any(map(_HAS_SHA256, listed)) and dict(zip(map(_GET_PATH, listed), map(_GET_SIZE, listed))) == sizes


def audit_text(index: LockIndex, text: str | bytes, target: str) -> Audit:
    """A machine's facts as its collector printed them: parsed bounded, validated and compared; anything
    wrong with them is this machine's "could not audit", never the fleet's exception."""
    if len(text) > MAX_BYTES:
        return Audit(target, error=f"sent {len(text)} bytes of facts, more than the {MAX_BYTES} read")
    try:
        facts = load_json(text, target, "a facts document from `lock collect`")
    except InputError as exc:
        return Audit(target, error=exc.message)
    return audit(index, facts, target)


def audit(index: LockIndex, facts: Any, target: str, source: str | None = None) -> Audit:
    """Validate and compare; malformed facts become an Audit with an error, never an exception."""
    try:
        validate(facts, source or target)
        return Audit(target, compare(index, facts, source or target))
    except InputError as exc:  # the audit names the machine; the error names the key and the expectation
        return Audit(target, error=": ".join(p for p in (exc.key, exc.message) if p))


def collector_args(index: LockIndex, deep: bool, timeout: float) -> list[str]:
    """The collector options a lock needs: its venv and model folders."""
    args = ["--timeout", str(timeout)]
    for venv in index.venvs:
        args += ["--venv", venv]
    for dest in index.model_dests:
        args += ["--models", dest]
    for dest in sorted(index.placed):
        args += ["--file", dest]
    for runtime in container_drift.runtimes(index.lock):
        args += ["--containers", runtime]
    if deep:
        args.append("--deep")
    return args


def collector_source() -> str:
    return (Path(__file__).parent / "collector.py").read_text(encoding="utf-8")


def layers_of(findings: Iterable[Finding]) -> tuple[str, ...]:
    """The layers to report: the built-in ones, then any other domain's that has findings."""
    return (*LAYERS, *sorted({f.layer for f in findings} - set(LAYERS)))


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    order = {layer: i for i, layer in enumerate(LAYERS)}
    return sorted(findings, key=lambda f: (order.get(f.layer, 99), f.subject, f.kind))
