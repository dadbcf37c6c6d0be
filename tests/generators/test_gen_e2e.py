"""End to end: a generated bootstrap.sh builds a real Debian root filesystem into what its lock says.

The lock comes from `lock update` against a real index of tiny wheels (indexbuilder),
plus the real pip wheel Debian ships, an apt layer from a signed repository made with
the real tools, an NVIDIA layer whose runfile is a small script that records its flags,
and a model whose files are served like the rest. Everything is served on 127.0.0.1 from a
mirror laid out as bootstrap.sh expects under IMAGELOCK_MIRROR; the lock itself records
upstream URLs that do not resolve, so a passing run proves the mirror path and the checks.
"""

from __future__ import annotations

import gen_support  # noqa: F401

import contextlib
import functools
import hashlib
import http.server
import os
import shutil
import stat
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import gen_rootfs as rootfs
from tests.apt.aptrepo import Deb, build_repo, make_key, stop_agent
from indexbuilder import Dist, build_snapshot
from imagelock import lockfile
from imagelock.lockfile import (
    AptLayer, AptPackage, AptSource, KernelLayer, Model, ModelFile, NvidiaLayer, PythonPackage, Wheel,
)

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
DEBS = [Deb("imagelock-hello", "1.0-1", "all", fields={"Depends": "imagelock-dep (>= 2)"}),
        Deb("imagelock-hello", "1.1-1", "all", fields={"Depends": "imagelock-dep (>= 2)"}),
        Deb("imagelock-dep", "2.0-1", "all"), Deb("imagelock-epoch", "1:0.5-1", "all"),
        Deb("imagelock-native", "3.0-1", ARCH)]
LOCKED_DEBS = {"imagelock-hello": "1.0-1", "imagelock-dep": "2.0-1", "imagelock-epoch": "1:0.5-1",
               "imagelock-native": "3.0-1"}


HF_TOKEN = "hf_e2e_test_token"
LEAKED: list[str] = []


class _Quiet(http.server.SimpleHTTPRequestHandler):
    """Static files; under /hf/ (a model host look-alike) only for the bearer of HF_TOKEN."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        return

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        if self.path.startswith("/hf/") and self.headers.get("Authorization") != f"Bearer {HF_TOKEN}":
            self.send_error(401, "token required")
            return
        if not self.path.startswith("/hf/") and "Authorization" in self.headers:
            LEAKED.append(self.path)  # credentials for the model host must not reach the mirror
        super().do_GET()


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A directory served on 127.0.0.1: the layout IMAGELOCK_MIRROR points at."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    LEAKED.clear()
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
    minors = sorted(int(p.name[len("python3."):]) for p in (root / "usr" / "bin").glob("python3.*")
                    if p.name[len("python3."):].isdigit())
    assert minors, f"no python3.N in {root}/usr/bin"
    return f"3.{minors[-1]}"


def _make_lock(tmp_path: Path, lock_cli, serve: Path, root: Path, debs: list[Deb] = DEBS,
               locked: dict[str, str] = LOCKED_DEBS) -> Path:
    """`lock update` against a tiny wheel index, then pip (a real wheel), the apt, driver and model layers added."""
    python = _python_version(root)
    snapshot = build_snapshot(tmp_path / "snap", [
        Dist("alpha", "1.0", "2024-01-01T00:00:00Z"),
        Dist("beta", "1.0", "2024-01-01T00:00:00Z", ["gamma>=1"]),
        Dist("gamma", "1.0", "2024-01-01T00:00:00Z"),
    ])
    intent = tmp_path / "tiny.toml"
    intent.write_text(f'name = "tiny"\n[universe]\ncutoff = "2024-06-01T00:00:00Z"\n[python]\n'
                      f'version = "{python}"\nvenv = "/opt/venvs/ai"\n'
                      f'requirements = ["alpha", "beta"]\nbootstrap = []\n')
    result = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert result.code == 0, result.err
    lock_path = tmp_path / "tiny.lock"
    lock, _ = lockfile.read(lock_path)

    (serve / "python").mkdir()
    for wheel in (snapshot / "pypi" / "files").iterdir():
        shutil.copy(wheel, serve / "python" / wheel.name)
    # The real pip wheel the root filesystem's Debian ships: locked like the seed locks pip, it installs the rest.
    (pip,) = (root / "usr" / "share" / "python-wheels").glob("pip-*-py3-none-any.whl")
    shutil.copy(pip, serve / "python" / pip.name)
    data = pip.read_bytes()
    lock.python.packages.append(PythonPackage("pip", pip.name.split("-")[1], "pypi", True, Wheel(
        pip.name, f"https://files.example.invalid/{pip.name}", hashlib.sha256(data).hexdigest(), len(data))))
    (serve / "nvidia").mkdir()
    runfile = "cuda_12.4.1_550.54.15_linux.run"
    (serve / "nvidia" / runfile).write_bytes(FAKE_RUNFILE)
    lock.nvidia = NvidiaLayer(runfile=runfile, url=f"https://nvidia.example.invalid/{runfile}",
                              sha256=hashlib.sha256(FAKE_RUNFILE).hexdigest(),
                              md5=hashlib.md5(FAKE_RUNFILE, usedforsecurity=False).hexdigest(),
                              size=len(FAKE_RUNFILE), driver_version="550.54.15", cuda_version="12.4.1",
                              install_flags=FLAGS)
    model_dir = serve / "models" / "test-org" / "tiny-model" / COMMIT
    model_dir.mkdir(parents=True)
    for name, data in MODEL_FILES.items():
        (model_dir / name).write_bytes(data)
    lock.models = [Model("test-org/tiny-model", "main", COMMIT, "/workspace/models/tiny",
                         [ModelFile(n, hashlib.sha256(d).hexdigest(), len(d)) for n, d in MODEL_FILES.items()])]
    lock.apt = _apt_layer(tmp_path, serve / "apt", debs, locked)
    lock_path.write_text(lockfile.dumps(lock))
    return lock_path


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
        packages.append(AptPackage(name, full, arch.removesuffix(".deb"), f"pool/stable/{deb.name}",
                                   hashlib.sha256(data).hexdigest(), len(data), "stable", requested=True))
    assert sorted(p.name for p in packages) == sorted(locked)
    inrelease = (repo / "dists" / "stable" / "InRelease").read_bytes()
    source = AptSource("stable", APT_UPSTREAM, ["main"], [ARCH], hashlib.sha256(inrelease).hexdigest())
    # A snapshot: the sources bootstrap.sh writes say Check-Valid-Until: no, which real apt must accept.
    return AptLayer(archive=APT_UPSTREAM, keyring_sha256=hashlib.sha256(key.keyring.read_bytes()).hexdigest(),
                    snapshot="20240415T000000Z", sources=[source], packages=packages)


def _venv(root: Path) -> list[str]:
    """name==version of every distribution the image's venv holds."""
    listing = rootfs.run(root, "/opt/venvs/ai/bin/python", "-c", "import importlib.metadata as m; "
                         "print(*sorted(f\"{d.metadata['Name']}=={d.version}\" for d in m.distributions()))")
    assert listing.returncode == 0, listing.stderr
    return listing.stdout.split()


def _state(root: Path) -> dict[str, tuple[object, ...]]:
    """Every file the bootstrap may touch: type, mode, mtime, and content or link target."""
    seen: dict[str, tuple[object, ...]] = {}
    tops = ("opt", "etc/imagelock", "etc/apt", "workspace", "var/lib/imagelock", "var/lib/fake-nvidia",
            "var/cache/imagelock", "var/lib/dpkg", "var/lib/apt", "usr/share/doc")
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
    return rootfs.run(root, "bash", "/tmp/imagelock/bootstrap.sh",
                      env={"IMAGELOCK_MIRROR": base_url, "IMAGELOCK_APT_MIRROR": f"{base_url}/apt", **OFFLINE, **env})


def _install(root: Path, generated: Path) -> Path:
    """The generated files, and the archive key a base image would ship, into the root filesystem."""
    shutil.copytree(generated, root / "tmp" / "imagelock")
    (root / "etc" / "apt" / "keyrings").mkdir(parents=True, exist_ok=True)
    shutil.copy(generated.parent / "archive-keyring.gpg", root / "etc" / "apt" / "keyrings" / "imagelock-e2e.gpg")
    return root


def test_bootstrap_builds_the_locked_root_filesystem_then_stops_at_a_tampered_wheel(
        tmp_path: Path, lock_cli, mirror: tuple[Path, str]) -> None:
    serve, base_url = mirror
    root = rootfs.unpack(tmp_path / "root")
    lock_path = _make_lock(tmp_path, lock_cli, serve, root)
    lock, _ = lockfile.read(lock_path)
    generated = tmp_path / "generated"
    assert lock_cli("generate", str(lock_path), "-o", str(generated)).code == 0
    _install(root, generated)

    first = _bootstrap(root, base_url)
    assert first.returncode == 0, first.stderr
    assert "now matches its lock (changed: apt apt-holds nvidia python models fingerprint)" in first.stderr

    # Exactly the locked package versions are installed (not the newer one on offer), and held.
    query = rootfs.run(root, "dpkg-query", "-W", "-f", "${Package} ${Version} ${db:Status-Abbrev}\\n",
                       *LOCKED_DEBS)
    assert sorted(query.stdout.split("\n")[:-1]) == sorted(f"{n} {v} hi " for n, v in LOCKED_DEBS.items())
    assert sorted(rootfs.run(root, "apt-mark", "showhold").stdout.split()) == sorted(LOCKED_DEBS)
    sources = (root / "var/lib/imagelock/apt-sources.d/imagelock.sources").read_text()
    assert sources == (f"Types: deb\nURIs: {base_url}/apt\nSuites: stable\nComponents: main\nArchitectures: {ARCH}\n"
                       "Signed-By: /etc/apt/keyrings/imagelock-e2e.gpg\nCheck-Valid-Until: no\n\n")

    # The venv holds exactly the locked wheels, importable, and nothing else; the locked pip installed them.
    pip = next(p for p in lock.python.packages if p.name == "pip")
    assert f"the locked {pip.wheel.filename} installs 4 verified wheels" in first.stderr
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
    wrong = rootfs.run(root, "bash", "/tmp/imagelock/bootstrap.sh", "--smoke",
                       env={"IMAGELOCK_MIRROR": base_url, **OFFLINE})
    assert wrong.returncode == 1
    assert wrong.stderr.splitlines()[-1] == \
        "imagelock: FAILED: smoke: driver 535.183.01 loaded, the lock says 550.54.15"
    smi.write_text("#!/bin/sh\necho 550.54.15\n")
    smoke = rootfs.run(root, "bash", "/tmp/imagelock/bootstrap.sh", "--smoke",
                       env={"IMAGELOCK_MIRROR": base_url, **OFFLINE})
    assert smoke.returncode == 0, smoke.stderr
    assert "already matched its lock: nothing changed" in smoke.stderr
    assert _state(root) == before

    # The lock moves on (a newer imagelock-hello, and pip no longer locked): the same machine follows it,
    # held package and all, the venv rebuilt by the interpreter's own pip, and the fingerprint names the new lock.
    newer = serve / "apt" / "pool" / "stable" / "imagelock-hello_1.1-1_all.deb"
    moved = lockfile.read(lock_path)[0]
    hello = next(p for p in moved.apt.packages if p.name == "imagelock-hello")
    hello.version, hello.filename = "1.1-1", f"pool/stable/{newer.name}"
    hello.sha256, hello.size = hashlib.sha256(newer.read_bytes()).hexdigest(), newer.stat().st_size
    moved.python.packages = [p for p in moved.python.packages if p.name != "pip"]
    moved_path = tmp_path / "moved" / "tiny.lock"
    moved_path.parent.mkdir()
    moved_path.write_text(lockfile.dumps(moved))
    assert lock_cli("generate", str(moved_path), "-o", str(root / "tmp" / "moved")).code == 0
    env = {"IMAGELOCK_MIRROR": base_url, "IMAGELOCK_APT_MIRROR": f"{base_url}/apt", **OFFLINE}
    with _moved_aside(root / "usr" / "lib" / f"python{lock.python.version}" / "ensurepip"):
        no_pip = rootfs.run(root, "bash", "/tmp/moved/bootstrap.sh", env=env)
    assert no_pip.returncode == 1
    assert f"removing the fingerprint of lock {lock.digest()}" in no_pip.stderr
    assert no_pip.stderr.splitlines()[-1] == (
        f"imagelock: FAILED: python: python{lock.python.version} has no ensurepip to bootstrap the installer "
        f"(Debian and Ubuntu: python{lock.python.version}-venv)")
    assert not (root / "etc/imagelock/lock.digest").exists()
    # Run as a login user, like a cloud image's: the script re-execs itself as root through sudo, keeping
    # the mirror settings (which it needs here: the wheels of the rebuilt venv come only from the mirror).
    rootfs.add_sudo_user(root, "builder")
    third = rootfs.run(root, "bash", "/tmp/moved/bootstrap.sh", env=env, user="builder")
    assert third.returncode == 0, third.stderr
    assert "its bundled pip installs 3 verified wheels" in third.stderr
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
    assert refused.stderr == ("imagelock: FAILED: lock file /tmp/other.toml is not the lock this script was "
                              f"generated from (sha256 {hashlib.sha256(other.read_bytes()).hexdigest()}, "
                              f"expected {hashlib.sha256(lock_path.read_bytes()).hexdigest()})\n")

    runfile = serve / "nvidia" / lock.nvidia.runfile
    wheel = serve / "python" / "beta-1.0-py3-none-any.whl"
    model = serve / "models" / "test-org" / "tiny-model" / COMMIT / "tokenizer.json"
    beta = next(p.wheel.sha256 for p in lock.python.packages if p.name == "beta")
    cases = [
        (_serve_changed(runfile, _flip), f"nvidia runfile {lock.nvidia.runfile}: md5 mismatch: got ",
         f"the lock says {lock.nvidia.md5} (from {base_url}/nvidia/{lock.nvidia.runfile}"),
        (_serve_changed(wheel, _flip), "python package beta 1.0 (beta-1.0-py3-none-any.whl): sha256 mismatch: got ",
         f"the lock says {beta} (from {base_url}/python/beta-1.0-py3-none-any.whl"),
        (_serve_changed(model, lambda b: b[:-1]), f"model file test-org/tiny-model/tokenizer.json@{COMMIT}: size "
         f"mismatch: got {len(MODEL_FILES['tokenizer.json']) - 1} bytes, the lock says "
         f"{len(MODEL_FILES['tokenizer.json'])}", ""),
        (_moved_aside(model), f"model file test-org/tiny-model/tokenizer.json@{COMMIT}: no source could be "
         "downloaded", ""),  # the mirror lacks it, and the upstream the lock names is unreachable
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
        shutil.copy(model.with_name(model.name + ".aside"), hf / model.name)
        endpoint = {"HF_ENDPOINT": f"{base_url}/hf"}
        denied = _bootstrap(fresh, base_url, **endpoint)
        assert denied.returncode == 1
        assert f"could not download {base_url}/hf/test-org/tiny-model/resolve/{COMMIT}/tokenizer.json" in denied.stderr
        done = _bootstrap(fresh, base_url, **endpoint, HUGGINGFACE_HUB_TOKEN=HF_TOKEN)
    assert done.returncode == 0, done.stderr
    assert "now matches its lock (changed: models fingerprint)" in done.stderr  # the rest got done on the way
    assert (fresh / "workspace/models/tiny/tokenizer.json").read_bytes() == MODEL_FILES["tokenizer.json"]
    # The token was sent, and is nowhere on the machine afterwards.
    leftovers = [p for top in ("tmp", "var", "etc", "root", "workspace", "opt") for p in (fresh / top).rglob("*")
                 if p.is_file() and not p.is_symlink() and HF_TOKEN.encode() in p.read_bytes()]
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
        tmp_path: Path, lock_cli, mirror: tuple[Path, str]) -> None:
    """The Packer flow: --system-only installs the kernel and stops; the driver is built only on that kernel."""
    serve, base_url = mirror
    root = rootfs.unpack(tmp_path / "root")
    kernel_deb = Deb(f"linux-image-{KERNEL}", "6.1.99-1", ARCH, files={f"boot/vmlinuz-{KERNEL}": b"not a kernel\n"})
    lock_path = _make_lock(tmp_path, lock_cli, serve, root, [kernel_deb],
                           {kernel_deb.name: kernel_deb.version})
    lock, _ = lockfile.read(lock_path)
    lock.kernel = KernelLayer(KERNEL, "imagelock", "6.1.0-99", [f"linux-image-{KERNEL}"])
    lock_path.write_text(lockfile.dumps(lock))
    generated = tmp_path / "generated"
    assert lock_cli("generate", str(lock_path), "-o", str(generated)).code == 0
    _install(root, generated)

    env = {"IMAGELOCK_MIRROR": base_url, "IMAGELOCK_APT_MIRROR": f"{base_url}/apt", **OFFLINE}
    # Without the archive key the lock names (by sha256), apt is not even asked.
    with _moved_aside(root / "etc" / "apt" / "keyrings" / "imagelock-e2e.gpg", tmp_path / "key-aside"):
        keyless = rootfs.run(root, "bash", "/tmp/imagelock/bootstrap.sh", "--system-only", env=env)
    assert keyless.returncode == 1
    assert keyless.stderr.splitlines()[-1] == (f"imagelock: FAILED: apt: no keyring with sha256 "
                                               f"{lock.apt.keyring_sha256} in /etc/apt/keyrings or /usr/share/keyrings")
    system = rootfs.run(root, "bash", "/tmp/imagelock/bootstrap.sh", "--system-only", env=env)
    assert system.returncode == 0, system.stderr
    assert system.stderr.splitlines()[-1] == \
        "imagelock: system layer done (--system-only): reboot, then run again without it"
    assert (root / "boot" / f"vmlinuz-{KERNEL}").read_bytes() == b"not a kernel\n"
    assert not (root / "var/lib/fake-nvidia").exists() and not (root / "opt/venvs/ai").exists()

    # Not rebooted (a chroot runs the host's kernel): the driver step refuses to build for the wrong one.
    full = _bootstrap(root, base_url)
    assert full.returncode == 1
    assert full.stderr.splitlines()[-1] == (f"imagelock: FAILED: nvidia: running kernel {os.uname().release}, the "
                                            f"lock's kernel is {KERNEL}: reboot into it and run again")
    assert not (root / "var/lib/fake-nvidia").exists()
    assert not (root / "etc/imagelock/lock.digest").exists()
