"""End to end: a lock with two Python envs builds two venvs in a real Debian root filesystem.

`lock update` locks `train` and `serve` from a loopback index of tiny real wheels (indexbuilder); each env
also locks the real pip wheel the root filesystem's Debian ships, which installs the rest. The generated
bootstrap.sh runs in the root filesystem with the mirror `lock mirror` would fill as its only source; each
venv then holds exactly its env's wheels, and `lock drift --root` audits both, naming the env that drifted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from pathlib import Path

import gen_rootfs as rootfs
import gen_support  # noqa: F401
import pytest
from indexbuilder import Dist, build_snapshot
from test_gen_e2e import OFFLINE, _fill_mirror, _python_version, mirror  # noqa: F401  (the mirror fixture)

from imagelock import domains
from imagelock.lock import codec as lockfile
from imagelock.lock.model import PythonPackage, Wheel

pytestmark = pytest.mark.e2e

DISTS = [
    Dist("alpha", "1.0", "2024-01-01T00:00:00Z"),
    Dist("alpha", "2.0", "2024-02-01T00:00:00Z"),
    Dist("beta", "1.0", "2024-01-01T00:00:00Z", ["alpha"]),
    Dist("gamma", "1.0", "2024-01-01T00:00:00Z", ["alpha"]),
]


def _listing(root: Path, venv: str) -> list[str]:
    listing = rootfs.run(
        root,
        f"{venv}/bin/python",
        "-c",
        "import importlib.metadata as m; "
        "print(*sorted(f\"{d.metadata['Name']}=={d.version}\" for d in m.distributions()))",
    )
    assert listing.returncode == 0, listing.stderr
    return listing.stdout.split()


def test_bootstrap_makes_one_venv_per_env_and_drift_audits_each(
    tmp_path: Path, lock_cli, mirror: tuple[Path, str]
) -> None:
    serve_dir, base_url = mirror
    root = rootfs.unpack(tmp_path / "root")
    python = _python_version(root)
    snapshot = build_snapshot(tmp_path / "snap", DISTS)
    intent = tmp_path / "two.toml"
    intent.write_text(
        f'name = "two"\n[universe]\ncutoff = "2024-06-01T00:00:00Z"\n[python]\nversion = "{python}"\n'
        'bootstrap = []\n[python.envs.train]\nrequirements = ["beta"]\nconstraints = ["alpha<2"]\n'
        '[python.envs.serve]\nrequirements = ["gamma"]\nvenv = "/srv/serve"\n'
    )
    assert lock_cli("update", str(intent), "--replay", str(snapshot)).code == 0
    lock_path = tmp_path / "two.lock"
    lock, _ = domains.read_lock(lock_path)
    assert lock.python is not None
    # The real pip wheel the root filesystem's Debian ships, locked in each env: it installs the rest.
    (pip,) = (root / "usr" / "share" / "python-wheels").glob("pip-*-py3-none-any.whl")
    data = pip.read_bytes()
    wheel = Wheel(pip.name, f"https://files.example.invalid/{pip.name}", hashlib.sha256(data).hexdigest(), len(data))
    for env in lock.python.envs:
        env.packages.append(PythonPackage("pip", pip.name.split("-")[1], "pypi", True, dataclasses.replace(wheel)))
    lock_path.write_text(lockfile.dumps(lock))
    _fill_mirror(lock, serve_dir, [*(snapshot / "pypi" / "files").iterdir(), pip])

    generated = tmp_path / "generated"
    assert lock_cli("generate", str(lock_path), "-o", str(generated)).code == 0
    assert (generated / "pylock.train.toml").is_file() and (generated / "pylock.serve.toml").is_file()
    (root / "tmp").mkdir(exist_ok=True)
    shutil.copytree(generated, root / "tmp" / "imagelock")
    env = {"IMAGELOCK_MIRROR": base_url, **OFFLINE}
    built = rootfs.run(root, "bash", "/tmp/imagelock/bootstrap.sh", env=env)
    assert built.returncode == 0, built.stderr
    assert "python.serve: creating /srv/serve" in built.stderr
    assert "python.train: creating /opt/venvs/train" in built.stderr
    assert "now matches its lock (changed: python.serve python.train fingerprint)" in built.stderr
    pip_pin = f"pip=={pip.name.split('-')[1]}"
    assert _listing(root, "/opt/venvs/train") == sorted(["alpha==1.0", "beta==1.0", pip_pin])
    assert _listing(root, "/srv/serve") == sorted(["alpha==2.0", "gamma==1.0", pip_pin])

    # Run again: both venvs already hold exactly their wheels, nothing is rebuilt.
    again = rootfs.run(root, "bash", "/tmp/imagelock/bootstrap.sh", env=env)
    assert again.returncode == 0, again.stderr
    assert "python.train: /opt/venvs/train already holds exactly the 3 locked packages" in again.stderr
    assert "python.serve: /srv/serve already holds exactly the 3 locked packages" in again.stderr

    audit = lock_cli("drift", str(lock_path), "--root", str(root))
    assert audit.code == 0, audit.out + audit.err
    # One env drifts: the audit names it, and only it.
    shutil.rmtree(next((root / "srv/serve/lib").glob("python3.*/site-packages/gamma-1.0.dist-info")))
    drifted = lock_cli("drift", str(lock_path), "--root", str(root))
    assert drifted.code == 1, drifted.out + drifted.err
    assert "serve/gamma" in drifted.out and "train/" not in drifted.out
