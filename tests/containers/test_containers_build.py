"""The generated bootstrap.sh pre-pulls each locked image by digest into the real containerd (namespace k8s.io)
or the real Docker daemon from the real registry on loopback, verifies what the runtime then holds, and stops
naming the image when the registry serves other bytes for a digest.

The script runs as root on this machine, in a private mount namespace whose /etc and /var are overlays on
throwaway directories, so its state and fingerprint never reach the host; containerd runs with its own root,
state and socket under the test's directory (CONTAINERD_ADDRESS points ctr at it); dockerd likewise (data
root, exec root and socket under the test's directory, no iptables, no bridge, the vfs storage driver), in a
mount namespace of its own whose /etc/docker and /run are throwaway (DOCKER_HOST points docker at it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.containers.registry import Registry, oci_layout, registry, tool


def _can_run() -> str | None:
    if os.geteuid() != 0:
        return "bootstrap.sh and containerd need root"
    for name in ("containerd", "ctr", "unshare", "docker-registry", "skopeo"):
        if shutil.which(name) is None:
            return f"{name} is not installed"
    return None


pytestmark = pytest.mark.skipif(_can_run() is not None, reason=_can_run() or "")


@contextmanager
def _daemon(argv: list[str], log_path: Path, ready: list[str], env: dict[str, str], limit: float) -> Iterator[str]:
    """A daemon started, and stopped at the end; yields "" once `ready` succeeds, or the log's tail if it never does."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + limit
            while subprocess.run(ready, env={**os.environ, **env}, capture_output=True).returncode != 0:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    yield log_path.read_text(errors="replace")[-2000:] or "no output"
                    return
                time.sleep(0.2)
            yield ""
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@pytest.fixture
def dockerd(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A Docker daemon of our own; yields the environment that points `docker` at it."""
    root = tmp_path / "dockerd"
    root.mkdir()
    # The exec root holds the managed containerd's sockets: short, as a unix socket path is at most 107 bytes.
    short = Path(tempfile.mkdtemp(prefix="il-dockerd-", dir="/tmp"))
    socket = short / "docker.sock"
    daemon = (
        f"{tool('dockerd')} --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs "
        f"--data-root {root}/data --exec-root {short}/exec --pidfile {short}/docker.pid --host unix://{socket}"
    )
    # dockerd writes /etc/docker/key.json and /run/docker/plugins: throwaway in its own mount namespace.
    private = "mkdir -p /etc/docker && mount -t tmpfs tmpfs /etc/docker && mount -t tmpfs tmpfs /run"
    argv = [tool("unshare"), "-m", "sh", "-c", f"{private} && exec {daemon}"]
    env = {"DOCKER_HOST": f"unix://{socket}"}
    try:
        with _daemon(argv, root / "dockerd.log", [tool("docker"), "version"], env, 60) as failed:
            if failed:
                pytest.fail(f"dockerd does not start: {failed}")
            yield env
    finally:
        shutil.rmtree(short, ignore_errors=True)


@pytest.fixture
def containerd(tmp_path: Path) -> Iterator[Path]:
    """A containerd of our own; yields its socket."""
    socket = tmp_path / "containerd.sock"
    config = tmp_path / "containerd.toml"
    config.write_text(
        f'version = 2\nroot = "{tmp_path}/containerd-root"\nstate = "{tmp_path}/containerd-state"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        f'[grpc]\n  address = "{socket}"\n'
    )
    argv = [tool("containerd"), "--config", str(config)]
    ready = [tool("ctr"), "--address", str(socket), "version"]
    with _daemon(argv, tmp_path / "containerd.log", ready, {}, 20) as failed:
        if failed:
            pytest.skip(f"containerd does not start on this machine: {failed}")
        yield socket


COLLECTOR = Path(__file__).resolve().parents[2] / "imagelock" / "drift" / "collector.py"


def _bootstrap(
    tmp_path: Path, generated: Path, lock: Path, socket: Path | dict[str, str], *, collect_only: bool = False
) -> subprocess.CompletedProcess[str]:
    """bootstrap.sh as root with /etc and /var overlaid on throwaway directories (a private mount namespace);
    the overlays persist between calls, so `collect_only` runs drift's collector on what the build left."""
    layers = tmp_path / "overlay"
    mounts = []
    for top in ("etc", "var"):
        (layers / f"{top}-up").mkdir(parents=True, exist_ok=True)
        (layers / f"{top}-work").mkdir(parents=True, exist_ok=True)
        mounts.append(
            f"mount -t overlay overlay -o lowerdir=/{top},upperdir={layers}/{top}-up,workdir={layers}/{top}-work /{top}"
        )
    run = f'exec bash "{generated}/bootstrap.sh" --lock "{lock}"'
    if collect_only:
        run = f'exec python3 "{COLLECTOR}" > "{tmp_path}/facts.json"'
    script = " && ".join([*mounts, run])
    runtime = socket if isinstance(socket, dict) else {"CONTAINERD_ADDRESS": str(socket)}
    env = {**os.environ, **runtime}
    return subprocess.run(
        [tool("unshare"), "-m", "sh", "-c", script], env=env, capture_output=True, text=True, timeout=300
    )


def _images(socket: Path) -> str:
    return subprocess.run(
        [tool("ctr"), "--address", str(socket), "-n", "k8s.io", "images", "ls"], capture_output=True, text=True
    ).stdout


def _locked_build(
    tmp_path: Path, reg: Registry, repository: str, content: str, lock_cli, runtime: str = "containerd"
) -> tuple[Path, Path, str]:
    built = oci_layout(tmp_path / f"layout-{content}", "1.0", content)
    reg.push(tmp_path / f"layout-{content}", "1.0", repository)
    intent = tmp_path / f"{content}.toml"
    intent.write_text(
        f'name = "pulled"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n'
        f'[[containers]]\nimage = "{reg.host}/{repository}:1.0"\nruntime = "{runtime}"\n'
    )
    assert lock_cli("update", str(intent)).code == 0
    generated = tmp_path / f"generated-{content}"
    generate = lock_cli("generate", str(intent.with_suffix(".lock")), "-o", str(generated))
    assert generate.code == 0, generate.err
    return generated, intent.with_suffix(".lock"), built.index


def test_the_build_pulls_by_digest_into_containerd_and_verifies_it(tmp_path: Path, containerd: Path, lock_cli) -> None:
    with registry(tmp_path / "registry") as reg:
        generated, lock, index = _locked_build(tmp_path, reg, "team/app", "pulled", lock_cli)
        script = (generated / "bootstrap.sh").read_text()
        assert f"  containerd {reg.host}/team/app:1.0 {reg.host}/team/app {index} plain-http linux/amd64\n" in script
        built = _bootstrap(tmp_path, generated, lock, containerd)
        assert built.returncode == 0, built.stderr
        assert f"containers: pulled {reg.host}/team/app:1.0 as {reg.host}/team/app@{index}" in built.stderr
        held = [line.split() for line in _images(containerd).splitlines()[1:]]
        assert [(row[0], row[2]) for row in held] == [(f"{reg.host}/team/app@{index}", index)]

        again = _bootstrap(tmp_path, generated, lock, containerd)
        assert again.returncode == 0 and "all 1 images already held at their locked digests" in again.stderr

        # Drift: the collector lists containerd's images (the fingerprint lock names the runtime).
        assert _bootstrap(tmp_path, generated, lock, containerd, collect_only=True).returncode == 0
        clean = lock_cli("drift", str(lock), "--facts", str(tmp_path / "facts.json"))
        assert clean.code == 0, clean.out + clean.err
        ctr = [tool("ctr"), "--address", str(containerd), "-n", "k8s.io", "images"]
        subprocess.run([*ctr, "rm", f"{reg.host}/team/app@{index}"], check=True, capture_output=True)
        assert _bootstrap(tmp_path, generated, lock, containerd, collect_only=True).returncode == 0
        missing = lock_cli("drift", str(lock), "--facts", str(tmp_path / "facts.json"), "--json")
        assert missing.code == 1 and '"kind": "missing"' in missing.out and f"{reg.host}/team/app:1.0" in missing.out
        other = oci_layout(tmp_path / "layout-other", "2.0", "other")
        reg.push(tmp_path / "layout-other", "2.0", "team/app")
        pull = [*ctr, "pull", "--plain-http", f"{reg.host}/team/app:2.0"]
        subprocess.run(pull, check=True, capture_output=True)
        assert _bootstrap(tmp_path, generated, lock, containerd, collect_only=True).returncode == 0
        changed = lock_cli("drift", str(lock), "--facts", str(tmp_path / "facts.json"), "--json")
        assert changed.code == 1 and '"kind": "changed-hash"' in changed.out, changed.out
        assert other.index in changed.out


def test_a_registry_serving_other_bytes_for_a_digest_fails_the_build_naming_the_image(
    tmp_path: Path, containerd: Path, lock_cli
) -> None:
    with registry(tmp_path / "registry") as reg:
        generated, lock, index = _locked_build(tmp_path, reg, "team/bad", "tampered", lock_cli)
        layer_digest = next(iter(oci_layout(tmp_path / "again", "1.0", "tampered").layers["linux/amd64"]))[0]
        reg.tamper("team/bad", layer_digest)  # same size, other bytes
        built = _bootstrap(tmp_path, generated, lock, containerd)
        assert built.returncode == 1
        last = built.stderr.strip().splitlines()[-1]
        assert last.startswith(f"imagelock: FAILED: containers: {reg.host}/team/bad:1.0: pulling ")
        assert f"{reg.host}/team/bad@{index} into containerd failed" in last
        assert "unexpected commit digest" in built.stderr  # containerd's own check, which the build relies on
        assert _images(containerd).splitlines()[1:] == []


def _docker(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("docker"), *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )


def test_the_build_pulls_by_digest_into_docker_and_verifies_it(
    tmp_path: Path, dockerd: dict[str, str], lock_cli
) -> None:
    with registry(tmp_path / "registry") as reg:
        generated, lock, index = _locked_build(tmp_path, reg, "team/app", "docked", lock_cli, runtime="docker")
        script = (generated / "bootstrap.sh").read_text()
        assert f"  docker {reg.host}/team/app:1.0 {reg.host}/team/app {index} plain-http linux/amd64\n" in script
        built = _bootstrap(tmp_path, generated, lock, dockerd)
        assert built.returncode == 0, built.stderr
        assert f"containers: pulled {reg.host}/team/app:1.0 as {reg.host}/team/app@{index}" in built.stderr
        held = _docker(dockerd, "image", "inspect", "--format", "{{json .RepoDigests}}", f"{reg.host}/team/app@{index}")
        assert held.returncode == 0 and f"{reg.host}/team/app@{index}" in held.stdout, held.stderr

        again = _bootstrap(tmp_path, generated, lock, dockerd)
        assert again.returncode == 0 and "all 1 images already held at their locked digests" in again.stderr

        # Drift: the collector lists Docker's images.
        assert _bootstrap(tmp_path, generated, lock, dockerd, collect_only=True).returncode == 0
        clean = lock_cli("drift", str(lock), "--facts", str(tmp_path / "facts.json"))
        assert clean.code == 0, clean.out + clean.err
        assert _docker(dockerd, "image", "rm", f"{reg.host}/team/app@{index}").returncode == 0
        assert _bootstrap(tmp_path, generated, lock, dockerd, collect_only=True).returncode == 0
        missing = lock_cli("drift", str(lock), "--facts", str(tmp_path / "facts.json"), "--json")
        assert missing.code == 1 and '"kind": "missing"' in missing.out and f"{reg.host}/team/app:1.0" in missing.out
        other = oci_layout(tmp_path / "layout-other", "2.0", "other")
        reg.push(tmp_path / "layout-other", "2.0", "team/app")
        assert _docker(dockerd, "pull", f"{reg.host}/team/app:2.0").returncode == 0
        assert _bootstrap(tmp_path, generated, lock, dockerd, collect_only=True).returncode == 0
        changed = lock_cli("drift", str(lock), "--facts", str(tmp_path / "facts.json"), "--json")
        assert changed.code == 1 and '"kind": "changed-hash"' in changed.out, changed.out
        assert other.index in changed.out


def test_docker_refuses_a_layer_with_other_bytes_and_the_build_names_the_image(
    tmp_path: Path, dockerd: dict[str, str], lock_cli
) -> None:
    with registry(tmp_path / "registry") as reg:
        generated, lock, index = _locked_build(tmp_path, reg, "team/bad", "docker-tampered", lock_cli, runtime="docker")
        layer_digest = oci_layout(tmp_path / "again", "1.0", "docker-tampered").layers["linux/amd64"][0][0]
        reg.tamper("team/bad", layer_digest)  # same size, other bytes
        built = _bootstrap(tmp_path, generated, lock, dockerd)
        assert built.returncode == 1
        last = built.stderr.strip().splitlines()[-1]
        assert last == (
            f"imagelock: FAILED: containers: {reg.host}/team/bad:1.0: pulling {reg.host}/team/bad@{index} "
            "into Docker failed (docker says why above)"
        )
        assert "verification failed" in built.stderr  # Docker's own digest check, which the build relies on
        assert _docker(dockerd, "image", "ls", "--quiet").stdout.strip() == ""
