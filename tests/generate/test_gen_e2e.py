"""End to end: a generated bootstrap.sh builds a real Debian root filesystem into what its lock says.

The lock comes from `lock update` against a real index of tiny wheels (indexbuilder),
plus the real pip wheel Debian ships, an apt layer from a signed repository made with
the real tools, an NVIDIA layer whose runfile is a small script that records its flags,
and a model whose files are served like the rest. Everything is served on 127.0.0.1 from a
mirror laid out exactly as `lock mirror` lays out its bucket (`sha256/<hex>` for each artifact
imagelock.commands.mirror.artifacts names, .debs included); the lock itself records upstream URLs (the
apt archive's too) that do not resolve, so a passing run proves the build needs the mirror alone.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import os
import shutil
import stat
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import gen_rootfs as rootfs
import gen_support  # noqa: F401
import pytest
from indexbuilder import Dist, build_snapshot

from imagelock import domains
from imagelock.commands.mirror import artifacts, object_url, record
from imagelock.lock import codec as lockfile
from imagelock.lock.model import (
    AptLayer,
    AptPackage,
    AptSource,
    KernelLayer,
    Lock,
    Model,
    ModelFile,
    NvidiaLayer,
    PythonPackage,
    Wheel,
)
from tests.apt.aptrepo import Deb, build_repo, make_key, stop_agent

pytestmark = pytest.mark.e2e

FAKE_RUNFILE = b"""#!/bin/sh
# Stands in for cuda_*.run: records how it was called, and lays down the versioned
# driver library the real installer leaves (what a drift audit reads the driver from).
mkdir -p /var/lib/fake-nvidia /usr/lib/x86_64-linux-gnu
printf '%s\\n' "$@" > /var/lib/fake-nvidia/flags
: > /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.15
"""
MODEL_FILES = {"config.json": b'{"model_type": "bert"}\n', "tokenizer.json": b'{"version": "1.0"}\n' * 40}
COMMIT = "0123456789abcdef0123456789abcdef01234567"
FLAGS = ["--silent", "--driver", "--dkms"]
ARCH = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
# The archive offers a newer imagelock-hello too: the lock's version, not the newest, must be installed.
DEBS = [
    Deb("imagelock-hello", "1.0-1", "all", fields={"Depends": "imagelock-dep (>= 2)"}),
    Deb("imagelock-hello", "1.1-1", "all", fields={"Depends": "imagelock-dep (>= 2)"}),
    Deb("imagelock-dep", "2.0-1", "all"),
    Deb("imagelock-epoch", "1:0.5-1", "all"),
    Deb("imagelock-native", "3.0-1", ARCH),
]
LOCKED_DEBS = {
    "imagelock-hello": "1.0-1",
    "imagelock-dep": "2.0-1",
    "imagelock-epoch": "1:0.5-1",
    "imagelock-native": "3.0-1",
}


HF_TOKEN = "hf_e2e_test_token"
LEAKED: list[str] = []
REQUESTS: list[str] = []  # every path asked of the loopback server, in order


class _Quiet(http.server.SimpleHTTPRequestHandler):
    """Static files; under /hf/ (a model host look-alike) only for the bearer of HF_TOKEN."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        return

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        REQUESTS.append(self.path)
        if self.path.startswith("/hf/") and self.headers.get("Authorization") != f"Bearer {HF_TOKEN}":
            self.send_error(401, "token required")
            return
        if not self.path.startswith("/hf/") and "Authorization" in self.headers:
            LEAKED.append(self.path)  # credentials for the model host must not reach the mirror
        super().do_GET()


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A directory served on 127.0.0.1: the bucket `lock mirror` fills, as IMAGELOCK_MIRROR reads it."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    LEAKED.clear()
    REQUESTS.clear()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _python_version(root: Path) -> str:
    """The interpreter the root filesystem ships (the lock must name it)."""
    minors = sorted(
        int(p.name[len("python3.") :])
        for p in (root / "usr" / "bin").glob("python3.*")
        if p.name[len("python3.") :].isdigit()
    )
    assert minors, f"no python3.N in {root}/usr/bin"
    return f"3.{minors[-1]}"


def _fill_mirror(lock: Lock, serve: Path, files: Iterable[Path]) -> None:
    """`serve` laid out as `lock mirror` lays out its bucket: every artifact of the lock at sha256/<hex>.

    `files` are the bytes the lock's upstream URLs stand for; `artifacts(lock)` says which of them the
    build downloads, and object_url where each goes, as `lock mirror` uses them."""
    by_sha256 = {hashlib.sha256(f.read_bytes()).hexdigest(): f for f in files}
    (serve / "sha256").mkdir(exist_ok=True)
    for artifact in artifacts(lock):
        assert artifact.sha256 in by_sha256, f"no upstream bytes for {artifact.kind} {artifact.name}"
        shutil.copy(by_sha256[artifact.sha256], object_url(str(serve), artifact.sha256))


def _make_lock(
    tmp_path: Path,
    lock_cli,
    serve: Path,
    root: Path,
    debs: list[Deb] = DEBS,
    locked: dict[str, str] = LOCKED_DEBS,
    mirror_url: str | None = None,
) -> Path:
    """`lock update` against a tiny wheel index, then pip (a real wheel), the apt, driver and model layers added;
    then the mirror filled from the lock, and (given `mirror_url`) recorded in it as `lock mirror` records it.

    The signed apt archive is built in tmp_path/archive, which nothing serves until a test links it in."""
    python = _python_version(root)
    snapshot = build_snapshot(
        tmp_path / "snap",
        [
            Dist("alpha", "1.0", "2024-01-01T00:00:00Z"),
            Dist("beta", "1.0", "2024-01-01T00:00:00Z", ["gamma>=1"]),
            Dist("gamma", "1.0", "2024-01-01T00:00:00Z"),
        ],
    )
    intent = tmp_path / "tiny.toml"
    intent.write_text(
        f'name = "tiny"\n[universe]\ncutoff = "2024-06-01T00:00:00Z"\n[python]\n'
        f'version = "{python}"\nvenv = "/opt/venvs/ai"\n'
        f'requirements = ["alpha", "beta"]\nbootstrap = []\n'
    )
    result = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert result.code == 0, result.err
    lock_path = tmp_path / "tiny.lock"
    lock, _ = domains.read_lock(lock_path)

    upstream = tmp_path / "upstream"  # the bytes behind the lock's upstream URLs (none of which resolves)
    upstream.mkdir()
    files = list((snapshot / "pypi" / "files").iterdir())
    # The real pip wheel the root filesystem's Debian ships: locked like the seed locks pip, it installs the rest.
    (pip,) = (root / "usr" / "share" / "python-wheels").glob("pip-*-py3-none-any.whl")
    files.append(pip)
    data = pip.read_bytes()
    lock.python.packages.append(
        PythonPackage(
            "pip",
            pip.name.split("-")[1],
            "pypi",
            True,
            Wheel(pip.name, f"https://files.example.invalid/{pip.name}", hashlib.sha256(data).hexdigest(), len(data)),
        )
    )
    runfile = "cuda_12.4.1_550.54.15_linux.run"
    (upstream / runfile).write_bytes(FAKE_RUNFILE)
    files.append(upstream / runfile)
    lock.nvidia = NvidiaLayer(
        runfile=runfile,
        url=f"https://nvidia.example.invalid/{runfile}",
        sha256=hashlib.sha256(FAKE_RUNFILE).hexdigest(),
        md5=hashlib.md5(FAKE_RUNFILE, usedforsecurity=False).hexdigest(),
        size=len(FAKE_RUNFILE),
        driver_version="550.54.15",
        cuda_version="12.4.1",
        install_flags=FLAGS,
    )
    for name, data in MODEL_FILES.items():
        (upstream / name).write_bytes(data)
        files.append(upstream / name)
    lock.models = [
        Model(
            "test-org/tiny-model",
            "main",
            COMMIT,
            "/workspace/models/tiny",
            [ModelFile(n, hashlib.sha256(d).hexdigest(), len(d)) for n, d in MODEL_FILES.items()],
        )
    ]
    lock.apt = _apt_layer(tmp_path, tmp_path / "archive", debs, locked)
    files += (tmp_path / "archive" / "pool" / "stable").iterdir()
    if mirror_url:
        record(lock, mirror_url)
    lock_path.write_text(lockfile.dumps(lock))
    _fill_mirror(lock, serve, files)
    return lock_path


def _serve_archive(serve: Path, base_url: str) -> str:
    """The signed archive (built beside the mirror) on the loopback server too, for runs that fall back to it."""
    (serve / "apt").symlink_to(serve.parent / "archive", target_is_directory=True)
    return f"{base_url}/apt"


def _mirrored(sha256: str, serve: Path) -> Path:
    """The mirror's object for an artifact."""
    return Path(object_url(str(serve), sha256))


APT_UPSTREAM = "https://apt.example.invalid/debian"  # what the lock records; IMAGELOCK_APT_MIRROR replaces it


def _apt_layer(tmp_path: Path, repo: Path, debs: list[Deb], locked: dict[str, str]) -> AptLayer:
    """A signed repository of `debs` served under the mirror, and the apt layer locking `locked` of them."""
    key = make_key(tmp_path / "gnupg", "imagelock e2e <e2e@example.invalid>")
    try:
        build_repo(repo, {"stable": debs}, key, arches=(ARCH,))
    finally:
        stop_agent(key)
    shutil.copy(key.keyring, tmp_path / "archive-keyring.gpg")
    packages = []
    for deb in (repo / "pool" / "stable").iterdir():
        name, version, arch = deb.stem.split("_")
        full = locked.get(name)
        if full is None or full.split(":")[-1] != version:
            continue
        data = deb.read_bytes()
        packages.append(
            AptPackage(
                name,
                full,
                arch.removesuffix(".deb"),
                f"pool/stable/{deb.name}",
                hashlib.sha256(data).hexdigest(),
                len(data),
                "stable",
                requested=True,
            )
        )
    assert sorted(p.name for p in packages) == sorted(locked)
    inrelease = (repo / "dists" / "stable" / "InRelease").read_bytes()
    source = AptSource("stable", APT_UPSTREAM, [ARCH], hashlib.sha256(inrelease).hexdigest(), components=["main"])
    # A snapshot: the sources bootstrap.sh writes say Check-Valid-Until: no, which real apt must accept.
    return AptLayer(
        archive=APT_UPSTREAM,
        keyring_sha256=hashlib.sha256(key.keyring.read_bytes()).hexdigest(),
        snapshot="20240415T000000Z",
        sources=[source],
        packages=packages,
    )


def _venv(root: Path) -> list[str]:
    """name==version of every distribution the image's venv holds."""
    listing = rootfs.run(
        root,
        "/opt/venvs/ai/bin/python",
        "-c",
        "import importlib.metadata as m; "
        "print(*sorted(f\"{d.metadata['Name']}=={d.version}\" for d in m.distributions()))",
    )
    assert listing.returncode == 0, listing.stderr
    return listing.stdout.split()


def _state(root: Path) -> dict[str, tuple[object, ...]]:
    """Every file the bootstrap may touch: type, mode, mtime, and content or link target."""
    seen: dict[str, tuple[object, ...]] = {}
    tops = (
        "opt",
        "etc/imagelock",
        "etc/apt",
        "workspace",
        "var/lib/imagelock",
        "var/lib/fake-nvidia",
        "var/cache/imagelock",
        "var/lib/dpkg",
        "var/lib/apt",
        "usr/share/doc",
    )
    for top in tops:
        for path in sorted((root / top).rglob("*")) if (root / top).exists() else []:
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                body: object = os.readlink(path)
            elif stat.S_ISREG(info.st_mode):
                body = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                body = None
            seen[str(path.relative_to(root))] = (stat.S_IFMT(info.st_mode), info.st_mode, info.st_mtime_ns, body)
    return seen


# Upstreams that never resolve: a run that gets past the mirror cannot reach any real host.
OFFLINE = {"HF_ENDPOINT": "https://hf.example.invalid"}


def _bootstrap(root: Path, base_url: str, **env: str):
    """The mirror only: no IMAGELOCK_APT_MIRROR, and the archive the lock names does not resolve."""
    return rootfs.run(root, "bash", "/tmp/imagelock/bootstrap.sh", env={"IMAGELOCK_MIRROR": base_url, **OFFLINE, **env})


def _install(root: Path, generated: Path) -> Path:
    """The generated files, and the archive key a base image would ship, into the root filesystem."""
    shutil.copytree(generated, root / "tmp" / "imagelock")
    (root / "etc" / "apt" / "keyrings").mkdir(parents=True, exist_ok=True)
    shutil.copy(generated.parent / "archive-keyring.gpg", root / "etc" / "apt" / "keyrings" / "imagelock-e2e.gpg")
    return root


def test_bootstrap_builds_the_locked_root_filesystem_then_stops_at_a_tampered_wheel(
    tmp_path: Path, lock_cli, mirror: tuple[Path, str]
) -> None:
    serve, base_url = mirror
    root = rootfs.unpack(tmp_path / "root")
    lock_path = _make_lock(tmp_path, lock_cli, serve, root)
    lock, _ = domains.read_lock(lock_path)
    generated = tmp_path / "generated"
    assert lock_cli("generate", str(lock_path), "-o", str(generated)).code == 0
    _install(root, generated)

    # The mirror alone: every request is for an object `lock mirror` would have put there, .debs included,
    # and apt installs them as local files (no archive reachable, no apt-get update, no sources written).
    assert sorted(p.name for p in (serve / "sha256").iterdir()) == sorted(a.sha256 for a in artifacts(lock))
    first = _bootstrap(root, base_url)
    assert first.returncode == 0, first.stderr
    assert "now matches its lock (changed: apt apt-holds nvidia python models fingerprint)" in first.stderr
    assert "fetched and verified 4 .debs (4 from the mirror, 0 from an archive pool)" in first.stderr
    assert "installing 4 of 4 locked packages as verified local files" in first.stderr
    assert REQUESTS and all(path.startswith("/sha256/") for path in REQUESTS), REQUESTS
    assert not (root / "var/lib/imagelock/apt-sources.d").exists()
    assert not (root / "var/cache/imagelock/debs").exists()

    # Exactly the locked package versions are installed (not the newer one on offer), and held.
    query = rootfs.run(root, "dpkg-query", "-W", "-f", "${Package} ${Version} ${db:Status-Abbrev}\\n", *LOCKED_DEBS)
    assert sorted(query.stdout.split("\n")[:-1]) == sorted(f"{n} {v} hi " for n, v in LOCKED_DEBS.items())
    assert sorted(rootfs.run(root, "apt-mark", "showhold").stdout.split()) == sorted(LOCKED_DEBS)

    # The venv holds exactly the locked wheels, importable, and nothing else; the locked pip installed them.
    pip = next(p for p in lock.python.packages if p.name == "pip")
    assert f"the locked {pip.wheel.filename} installs 4 verified packages" in first.stderr
    assert _venv(root) == sorted(f"{p.name}=={p.version}" for p in lock.python.packages)
    assert _venv(root) == sorted(["alpha==1.0", "beta==1.0", "gamma==1.0", f"pip=={pip.version}"])
    imported = rootfs.run(root, "/opt/venvs/ai/bin/python", "-c", "import alpha, beta, gamma; print(beta.__version__)")
    assert imported.stdout.strip() == "1.0", imported.stderr

    # The driver runfile ran with exactly the locked flags; model files are the locked bytes.
    assert (root / "var/lib/fake-nvidia/flags").read_text().split() == FLAGS
    for name, data in MODEL_FILES.items():
        assert (root / "workspace/models/tiny" / name).read_bytes() == data

    # The fingerprint: the lock itself and its digest.
    assert (root / "etc/imagelock/lock.toml").read_bytes() == lock_path.read_bytes()
    assert (root / "etc/imagelock/lock.digest").read_text() == lock.digest() + "\n"
    assert (root / "etc/imagelock/image").read_text() == lock.image_name() + "\n"

    # A second run is a no-op: nothing it could touch changes, not even a modification time.
    before = _state(root)
    second = _bootstrap(root, base_url)
    assert second.returncode == 0, second.stderr
    assert "already matched its lock: nothing changed" in second.stderr
    assert _state(root) == before

    # The drift audit on the machine bootstrap.sh built: no drift; a planted change is found and named.
    audit = lock_cli("drift", str(lock_path), "--root", str(root), "--deep")
    assert audit.code == 0, audit.out
    assert audit.out.splitlines()[-1].endswith(f"no drift from {lock.image_name()}"), audit.out
    model_file = root / "workspace/models/tiny/config.json"
    original, stat_before = model_file.read_bytes(), model_file.stat()
    model_file.write_bytes(original.replace(b"bert", b"BERT"))
    drifted = lock_cli("drift", str(lock_path), "--root", str(root), "--deep")
    model_file.write_bytes(original)
    os.utime(model_file, ns=(stat_before.st_atime_ns, stat_before.st_mtime_ns))
    assert drifted.code == 1
    assert "drifted: 1 finding (models 1)" in drifted.out
    assert "config.json" in drifted.out
    assert _state(root) == before

    # --smoke runs the smoke tests that apply (here: the driver query) and changes nothing either.
    # nvidia-smi stands in for the driver the fake runfile did not install.
    smi = root / "usr" / "local" / "bin" / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 535.183.01\n")
    smi.chmod(0o755)
    wrong = rootfs.run(
        root, "bash", "/tmp/imagelock/bootstrap.sh", "--smoke", env={"IMAGELOCK_MIRROR": base_url, **OFFLINE}
    )
    assert wrong.returncode == 1
    assert (
        wrong.stderr.splitlines()[-1] == "imagelock: FAILED: smoke: driver 535.183.01 loaded, the lock says 550.54.15"
    )
    smi.write_text("#!/bin/sh\necho 550.54.15\n")
    smoke = rootfs.run(
        root, "bash", "/tmp/imagelock/bootstrap.sh", "--smoke", env={"IMAGELOCK_MIRROR": base_url, **OFFLINE}
    )
    assert smoke.returncode == 0, smoke.stderr
    assert "already matched its lock: nothing changed" in smoke.stderr
    assert _state(root) == before

    # The lock moves on (a newer imagelock-hello, and pip no longer locked): the same machine follows it,
    # held package and all, the venv rebuilt by the interpreter's own pip, and the fingerprint names the new lock.
    # The mirror was filled for the old lock and lacks the newer .deb: it comes from a copy of the archive's pool.
    newer = tmp_path / "archive" / "pool" / "stable" / "imagelock-hello_1.1-1_all.deb"
    moved = domains.read_lock(lock_path)[0]
    hello = next(p for p in moved.apt.packages if p.name == "imagelock-hello")
    hello.version, hello.filename = "1.1-1", f"pool/stable/{newer.name}"
    hello.sha256, hello.size = hashlib.sha256(newer.read_bytes()).hexdigest(), newer.stat().st_size
    moved.python.packages = [p for p in moved.python.packages if p.name != "pip"]
    moved_path = tmp_path / "moved" / "tiny.lock"
    moved_path.parent.mkdir()
    moved_path.write_text(lockfile.dumps(moved))
    assert lock_cli("generate", str(moved_path), "-o", str(root / "tmp" / "moved")).code == 0
    env = {"IMAGELOCK_MIRROR": base_url, "IMAGELOCK_APT_MIRROR": _serve_archive(serve, base_url), **OFFLINE}
    with _moved_aside(root / "usr" / "lib" / f"python{lock.python.version}" / "ensurepip"):
        no_pip = rootfs.run(root, "bash", "/tmp/moved/bootstrap.sh", env=env)
    assert no_pip.returncode == 1
    assert "fetched and verified 1 .debs (0 from the mirror, 1 from an archive pool)" in no_pip.stderr, no_pip.stderr
    assert f"/apt/pool/stable/{newer.name}" in REQUESTS and not any("/dists/" in path for path in REQUESTS)
    assert not (root / "var/lib/imagelock/apt-sources.d").exists()  # no apt source written, no index read
    assert f"removing the fingerprint of lock {lock.digest()}" in no_pip.stderr
    assert no_pip.stderr.splitlines()[-1] == (
        f"imagelock: FAILED: python: python{lock.python.version} has no ensurepip to bootstrap the installer "
        f"(Debian and Ubuntu: python{lock.python.version}-venv)"
    )
    assert not (root / "etc/imagelock/lock.digest").exists()
    # Run as a login user, like a cloud image's: the script re-execs itself as root through sudo, keeping
    # the mirror settings (which it needs here: the wheels of the rebuilt venv come only from the mirror).
    rootfs.add_sudo_user(root, "builder")
    third = rootfs.run(root, "bash", "/tmp/moved/bootstrap.sh", env=env, user="builder")
    assert third.returncode == 0, third.stderr
    assert "its bundled pip installs 3 verified packages" in third.stderr
    assert "now matches its lock (changed: python fingerprint)" in third.stderr  # apt moved in the failed run
    assert _venv(root) == ["alpha==1.0", "beta==1.0", "gamma==1.0"]
    query = rootfs.run(root, "dpkg-query", "-W", "-f", "${Version} ${db:Status-Abbrev}", "imagelock-hello")
    assert query.stdout == "1.1-1 hi "
    assert (root / "etc/imagelock/lock.digest").read_text() == moved.digest() + "\n"

    # A fresh machine against a mirror that serves wrong bytes: each run stops at the first artifact that
    # does not match, says what, where and how, records no fingerprint; once the mirror is right, it completes.
    fresh = _install(rootfs.unpack(tmp_path / "fresh"), generated)
    other = fresh / "tmp" / "other.toml"
    other.write_text(lock_path.read_text() + "# edited\n")
    refused = rootfs.run(fresh, "bash", "/tmp/imagelock/bootstrap.sh", "--lock", "/tmp/other.toml")
    assert refused.returncode == 1
    assert refused.stderr == (
        "imagelock: FAILED: lock file /tmp/other.toml is not the lock this script was "
        f"generated from (sha256 {hashlib.sha256(other.read_bytes()).hexdigest()}, "
        f"expected {hashlib.sha256(lock_path.read_bytes()).hexdigest()})\n"
    )

    (serve / "apt").unlink()  # the archive is out of reach again: the fresh machine has the mirror alone
    epoch = next(p.sha256 for p in lock.apt.packages if p.name == "imagelock-epoch")
    runfile = _mirrored(lock.nvidia.sha256, serve)
    beta = next(p.wheel.sha256 for p in lock.python.packages if p.name == "beta")
    wheel = _mirrored(beta, serve)
    model = _mirrored(lock.models[0].files[1].sha256, serve)
    assert lock.models[0].files[1].path == "tokenizer.json"
    cases = [
        (
            _serve_changed(_mirrored(epoch, serve), _flip),
            "apt package imagelock-epoch 1:0.5-1: sha256 mismatch: got ",
            f"the lock says {epoch} (from {base_url}/sha256/{epoch}",
        ),
        (
            _serve_changed(runfile, _flip),
            f"nvidia runfile {lock.nvidia.runfile}: md5 mismatch: got ",
            f"the lock says {lock.nvidia.md5} (from {base_url}/sha256/{lock.nvidia.sha256}",
        ),
        (
            _serve_changed(wheel, _flip),
            "python package beta 1.0 (beta-1.0-py3-none-any.whl): sha256 mismatch: got ",
            f"the lock says {beta} (from {base_url}/sha256/{beta}",
        ),
        (
            _serve_changed(model, lambda b: b[:-1]),
            f"model file test-org/tiny-model/tokenizer.json@{COMMIT}: size "
            f"mismatch: got {len(MODEL_FILES['tokenizer.json']) - 1} bytes, the lock says "
            f"{len(MODEL_FILES['tokenizer.json'])}",
            "",
        ),
        (
            _moved_aside(model),
            f"model file test-org/tiny-model/tokenizer.json@{COMMIT}: no source could be downloaded",
            "",
        ),  # the mirror lacks it, and the upstream the lock names is unreachable
    ]
    for broken, starts, contains in cases:
        with broken:
            failed = _bootstrap(fresh, base_url)
        assert failed.returncode == 1, failed.stderr
        last = failed.stderr.strip().splitlines()[-1]
        assert last.startswith("imagelock: FAILED: " + starts), last
        assert contains in last
        assert not (fresh / "etc/imagelock/lock.digest").exists()
    assert not (fresh / "workspace/models/tiny/tokenizer.json").exists()

    # The mirror still lacks the file; the model host has it (at /<repo>/resolve/<commit>/<path>), for a token.
    hf = serve / "hf" / "test-org" / "tiny-model" / "resolve" / COMMIT
    hf.mkdir(parents=True)
    with _moved_aside(model):
        shutil.copy(model.with_name(model.name + ".aside"), hf / "tokenizer.json")
        endpoint = {"HF_ENDPOINT": f"{base_url}/hf"}
        denied = _bootstrap(fresh, base_url, **endpoint)
        assert denied.returncode == 1
        assert f"could not download {base_url}/hf/test-org/tiny-model/resolve/{COMMIT}/tokenizer.json" in denied.stderr
        done = _bootstrap(fresh, base_url, **endpoint, HUGGINGFACE_HUB_TOKEN=HF_TOKEN)
    assert done.returncode == 0, done.stderr
    assert "now matches its lock (changed: models fingerprint)" in done.stderr  # the rest got done on the way
    assert (fresh / "workspace/models/tiny/tokenizer.json").read_bytes() == MODEL_FILES["tokenizer.json"]
    # The token was sent, and is nowhere on the machine afterwards.
    leftovers = [
        p
        for top in ("tmp", "var", "etc", "root", "workspace", "opt")
        for p in (fresh / top).rglob("*")
        if p.is_file() and not p.is_symlink() and HF_TOKEN.encode() in p.read_bytes()
    ]
    assert leftovers == []
    assert LEAKED == []  # the mirror was asked for the model file too (and lacked it), without the token
    assert (fresh / "etc/imagelock/lock.digest").read_text() == lock.digest() + "\n"


@contextlib.contextmanager
def _serve_changed(path: Path, change: Callable[[bytes], bytes]) -> Iterator[None]:
    original = path.read_bytes()
    path.write_bytes(change(original))
    try:
        yield
    finally:
        path.write_bytes(original)


@contextlib.contextmanager
def _moved_aside(path: Path, aside: Path | None = None) -> Iterator[None]:
    aside = aside or path.with_name(path.name + ".aside")
    path.rename(aside)
    try:
        yield
    finally:
        aside.rename(path)


def _flip(data: bytes) -> bytes:
    """The same size, one bit different."""
    changed = bytearray(data)
    changed[len(changed) // 2] ^= 0x01
    return bytes(changed)


KERNEL = "6.1.0-99-imagelock"


def test_system_only_stops_for_the_reboot_and_the_driver_waits_for_the_locked_kernel(
    tmp_path: Path, lock_cli, mirror: tuple[Path, str]
) -> None:
    """The Packer flow: --system-only installs the kernel and stops; the driver is built only on that kernel."""
    serve, base_url = mirror
    root = rootfs.unpack(tmp_path / "root")
    kernel_deb = Deb(f"linux-image-{KERNEL}", "6.1.99-1", ARCH, files={f"boot/vmlinuz-{KERNEL}": b"not a kernel\n"})
    lock_path = _make_lock(tmp_path, lock_cli, serve, root, [kernel_deb], {kernel_deb.name: kernel_deb.version})
    lock, _ = domains.read_lock(lock_path)
    lock.kernel = KernelLayer(KERNEL, "imagelock", "6.1.0-99", [f"linux-image-{KERNEL}"])
    lock_path.write_text(lockfile.dumps(lock))
    generated = tmp_path / "generated"
    assert lock_cli("generate", str(lock_path), "-o", str(generated)).code == 0
    _install(root, generated)

    env = {"IMAGELOCK_MIRROR": base_url, **OFFLINE}
    # A mirror without the kernel's .deb, and no copy of the pool: nothing has it, and the run stops at once.
    with _moved_aside(_mirrored(lock.apt.packages[0].sha256, serve)):
        missing = rootfs.run(root, "bash", "/tmp/imagelock/bootstrap.sh", "--system-only", env=env)
    assert missing.returncode == 1
    assert missing.stderr.splitlines()[-1] == (
        f"imagelock: FAILED: apt package linux-image-{KERNEL} 6.1.99-1: no source could be downloaded"
    )
    # With the .deb in the mirror, the kernel comes from it alone: no archive, and no archive key, needed.
    (root / "etc" / "apt" / "keyrings" / "imagelock-e2e.gpg").unlink()
    system = rootfs.run(root, "bash", "/tmp/imagelock/bootstrap.sh", "--system-only", env=env)
    assert system.returncode == 0, system.stderr
    assert "fetched and verified 1 .debs (1 from the mirror, 0 from an archive pool)" in system.stderr
    assert (
        system.stderr.splitlines()[-1]
        == "imagelock: system layer done (--system-only): reboot, then run again without it"
    )
    assert (root / "boot" / f"vmlinuz-{KERNEL}").read_bytes() == b"not a kernel\n"
    assert not (root / "var/lib/fake-nvidia").exists() and not (root / "opt/venvs/ai").exists()
    # A chroot has no GRUB of its own: the run says that nothing here makes the machine boot the kernel.
    assert (
        f"imagelock: kernel: WARNING: no /boot/grub/grub.cfg or update-grub here: nothing in this run makes the "
        f"machine boot {KERNEL}" in system.stderr.splitlines()
    )
    # After the reboot, --booted stops at once unless the locked kernel is the running one (here it is not).
    booted = rootfs.run(root, "bash", "/tmp/imagelock/bootstrap.sh", "--booted", env=env)
    assert booted.returncode == 1
    assert booted.stderr.splitlines()[-1] == (
        f"imagelock: FAILED: kernel: the machine rebooted into {os.uname().release}, not the locked {KERNEL} "
        "(see /etc/default/grub.d/99-imagelock-kernel.cfg and /boot/grub/grub.cfg)"
    )

    # Not rebooted (a chroot runs the host's kernel): the driver step refuses to build for the wrong one.
    full = _bootstrap(root, base_url)
    assert full.returncode == 1
    assert full.stderr.splitlines()[-1] == (
        f"imagelock: FAILED: nvidia: running kernel {os.uname().release}, the "
        f"lock's kernel is {KERNEL}: reboot into it and run again"
    )
    assert not (root / "var/lib/fake-nvidia").exists()
    assert not (root / "etc/imagelock/lock.digest").exists()


def test_without_imagelock_mirror_the_bootstrap_reads_the_mirror_the_lock_records(
    tmp_path: Path, lock_cli, mirror: tuple[Path, str]
) -> None:
    """The lock's [mirror] url (as `lock mirror` records it; here http on loopback, not s3) is the default mirror."""
    serve, base_url = mirror
    root = rootfs.unpack(tmp_path / "root")
    lock_path = _make_lock(tmp_path, lock_cli, serve, root, mirror_url=base_url)
    lock, _ = domains.read_lock(lock_path)
    assert lock.mirror.url == base_url
    assert lock.nvidia.mirror_url == f"{base_url}/sha256/{lock.nvidia.sha256}"
    generated = tmp_path / "generated"
    assert lock_cli("generate", str(lock_path), "-o", str(generated)).code == 0
    assert f"readonly MIRROR_URL={base_url}\n" in (generated / "bootstrap.sh").read_text()
    _install(root, generated)

    built = rootfs.run(root, "bash", "/tmp/imagelock/bootstrap.sh", env=OFFLINE)  # no IMAGELOCK_MIRROR
    assert built.returncode == 0, built.stderr
    assert "now matches its lock (changed: apt apt-holds nvidia python models fingerprint)" in built.stderr
    assert "fetched and verified 4 .debs (4 from the mirror, 0 from an archive pool)" in built.stderr
    # Each artifact asked for once, at its sha256 (the runfile's mirror-url is the same object, not asked twice).
    assert sorted(REQUESTS) == sorted(f"/sha256/{a.sha256}" for a in artifacts(lock))
    query = rootfs.run(root, "dpkg-query", "-W", "-f", "${Package} ${Version}\\n", *LOCKED_DEBS)
    assert sorted(query.stdout.splitlines()) == sorted(f"{n} {v}" for n, v in LOCKED_DEBS.items())
    assert _venv(root) == sorted(f"{p.name}=={p.version}" for p in lock.python.packages)
    assert (root / "var/lib/fake-nvidia/flags").read_text().split() == FLAGS
    assert (root / "etc/imagelock/lock.digest").read_text() == lock.digest() + "\n"
