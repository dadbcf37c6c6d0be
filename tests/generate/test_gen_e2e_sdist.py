"""End to end: an sdist-only package the intent allows is built by the generated bootstrap in a real Debian root
filesystem, offline, from its locked sdist and locked build packages, each verified by sha256 first.

The loopback index serves a real sdist made here (a setuptools project with no pyproject.toml, so PEP 517's
default build requirements apply: `setuptools>=40.8.0` and `wheel`), the real pip and setuptools wheels the
root filesystem's Debian ships, and the real `wheel` 0.45.1 wheel from PyPI (tests/fixtures/pypi-build). The
bootstrap's only source is the mirror `lock mirror` would fill; the lock's upstream host does not resolve, so
nothing can be fetched that the lock does not pin. A tampered build package or sdist in the mirror stops the run.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import gen_rootfs as rootfs
import gen_support  # noqa: F401
import pytest
from indexbuilder import Dist, Recorded, build_snapshot
from test_gen_e2e import OFFLINE, _fill_mirror, _python_version, mirror  # noqa: F401  (the mirror fixture)
from test_gen_e2e_envs import _listing

from imagelock import domains
from imagelock.commands.mirror_targets import object_url

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).parent.parent / "fixtures" / "pypi-build"
UPLOADED = "2024-01-01T00:00:00Z"


def _snapshot(tmp_path: Path, root: Path) -> Path:
    wheels = root / "usr" / "share" / "python-wheels"
    (pip,) = wheels.glob("pip-*-py3-none-any.whl")
    (setuptools,) = wheels.glob("setuptools-*-py3-none-any.whl")
    return build_snapshot(
        tmp_path / "snap",
        [
            Dist("tinysrc", "1.0", UPLOADED, ["alpha"], sdist=True),
            Dist("alpha", "1.0", UPLOADED),
        ],
        recorded=[
            Recorded("pip", pip, UPLOADED),
            Recorded("setuptools", setuptools, UPLOADED),
            Recorded("wheel", FIXTURES / "wheel-0.45.1-py3-none-any.whl", "2024-11-23T00:18:21Z"),
        ],
    )


def test_bootstrap_builds_an_allowed_sdist_offline_from_verified_build_packages(
    tmp_path: Path, lock_cli, mirror: tuple[Path, str]
) -> None:
    serve_dir, base_url = mirror
    root = rootfs.unpack(tmp_path / "root")
    python = _python_version(root)
    snapshot = _snapshot(tmp_path, root)
    intent = tmp_path / "src.toml"
    intent.write_text(
        f'name = "src"\n[universe]\ncutoff = "2025-06-01T00:00:00Z"\n[python]\nversion = "{python}"\n'
        'requirements = ["tinysrc"]\nbootstrap = ["pip"]\nallow-sdist = ["tinysrc"]\n'
    )
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 0, run.err
    lock_path = tmp_path / "src.lock"
    table = tomllib.loads(lock_path.read_text())["python"]
    assert [p["name"] for p in table["build-packages"]] == ["setuptools", "wheel"]
    lock, _ = domains.read_lock(lock_path)
    _fill_mirror(lock, serve_dir, (snapshot / "pypi" / "files").iterdir())

    generated = tmp_path / "generated"
    assert lock_cli("generate", str(lock_path), "-o", str(generated)).code == 0
    (root / "tmp").mkdir(exist_ok=True)
    shutil.copytree(generated, root / "tmp" / "imagelock")
    env = {"IMAGELOCK_MIRROR": base_url, **OFFLINE}
    built = rootfs.run(root, "bash", "/tmp/imagelock/bootstrap.sh", env=env)
    assert built.returncode == 0, built.stderr
    assert "python: building tinysrc==1.0 from verified sdists with 2 verified build packages, offline" in built.stderr
    pip_pin = next(p for p in _listing(root, "/opt/venvs/ai") if p.startswith("pip=="))
    # The venv holds exactly the lock's packages: the built one, never its build packages.
    assert _listing(root, "/opt/venvs/ai") == sorted(["alpha==1.0", "tinysrc==1.0", pip_pin])
    imported = rootfs.run(root, "/opt/venvs/ai/bin/python", "-c", "import tinysrc; print(tinysrc.BUILT_FROM)")
    assert imported.stdout.strip() == "sdist", imported.stderr
    assert not (root / "var" / "cache" / "imagelock" / "builder").exists()  # the build venv is thrown away
    assert lock_cli("drift", str(lock_path), "--root", str(root)).code == 0

    # A tampered build package, then a tampered sdist: each is refused by its sha256 before anything runs.
    for kind, name, version in (("python build package", "wheel", "0.45.1"), ("python sdist", "tinysrc", "1.0")):
        (artifact,) = [a for a in domains.artifacts(lock) if a.name.startswith(f"{name}-")]
        served = Path(object_url(str(serve_dir), artifact.sha256))
        data = served.read_bytes()
        served.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size, other bytes
        shutil.rmtree(root / "opt" / "venvs" / "ai")
        refused = rootfs.run(root, "bash", "/tmp/imagelock/bootstrap.sh", env=env)
        assert refused.returncode != 0
        assert f"{kind} {name} {version} ({artifact.name}): sha256 mismatch: got " in refused.stderr, refused.stderr
        assert "building tinysrc" not in refused.stderr  # stopped before any build ran
        assert not list((root / "opt" / "venvs").rglob("tinysrc*"))
        shutil.copy(snapshot / "pypi" / "files" / artifact.name, object_url(str(serve_dir), artifact.sha256))
