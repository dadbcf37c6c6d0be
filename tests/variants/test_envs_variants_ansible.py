"""Issue 15's whole picture in one intent: two Python envs sharing a pin, three image variants sharing most of
what they hold, and an Ansible mapping. One `lock update` locks it all; an edit to one env's requirement makes
`lock check` name that env and nothing else; `lock generate` writes one Packer build per variant and the roles'
defaults, which the real `ansible-playbook --syntax-check` accepts."""

from __future__ import annotations

import hashlib
import json
import subprocess
import tomllib
from pathlib import Path

import pytest
from indexbuilder import build_snapshot

from tests.files.vendor import INSTALLER, TOOL
from tests.python.test_envs import DISTS  # the same small index of real wheels

VENDOR = "https://downloads.example.invalid/tools"
INTENT = f"""\
name = "fleet"
[universe]
cutoff = "2024-06-01T00:00:00Z"

[python]
bootstrap = []
constraints = ["numpy<2"]      # one pin both envs honour
[python.envs.train]
requirements = ["trainlib"]
[python.envs.serve]
venv = "/srv/serve"
requirements = ["servelib"]

[[files]]
url = "{VENDOR}/install.sh"
dest = "/opt/tools/install.sh"
mode = "0755"
[[files]]
url = "{VENDOR}/tool-2.0.tar.gz"
dest = "/opt/tool"
extract = true

[variants.full]
[variants.train]
skip = ["files:/opt/tool"]
[variants.lean]
take = ["python"]

[ansible]
[ansible.vars]
numpy_version = "python.envs[train].packages[numpy].version"
[ansible.roles.trainer]
trainlib_version = "python.envs[train].packages[trainlib].version"
[ansible.roles.server]
servelib_wheel_sha256 = "python.envs[serve].packages[servelib].wheel.sha256"
[ansible.roles.tools]
tools_installer_sha256 = "files[/opt/tools/install.sh].sha256"
[ansible.variants.lean]
roles = ["trainer", "server"]
"""


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = build_snapshot(tmp_path_factory.mktemp("fleet") / "snap", DISTS)
    (root / "files").mkdir()
    for name, data in {"install.sh": INSTALLER, "tool-2.0.tar.gz": TOOL}.items():
        (root / "files" / name).write_bytes(data)
    (root / "files" / "urls.json").write_text(
        json.dumps({f"{VENDOR}/{n}": n for n in ("install.sh", "tool-2.0.tar.gz")})
    )
    manifest = json.loads((root / "snapshot.json").read_text())
    (root / "snapshot.json").write_text(json.dumps({**manifest, "files": "files"}))
    return root


def test_two_envs_and_three_variants_lock_check_and_generate(tmp_path: Path, snapshot: Path, lock_cli) -> None:
    intent = tmp_path / "fleet.toml"
    intent.write_text(INTENT)
    run = lock_cli("update", str(intent), "--replay", str(snapshot))
    assert run.code == 0, run.err
    lock_path = tmp_path / "fleet.lock"
    lock = tomllib.loads(lock_path.read_text())
    envs = {e["name"]: {p["name"]: p["version"] for p in e["packages"]} for e in lock["python"]["envs"]}
    assert envs == {
        "train": {"numpy": "1.0", "tqdm": "4.1", "trainlib": "1.0"},
        "serve": {"fastjson": "3.0", "numpy": "1.0", "servelib": "1.1"},
    }
    # Stored once: the python layer and both files are shared; no variant holds a layer of its own.
    assert sorted(lock["variants"]) == ["full", "lean", "train"]
    assert all(set(v) == {"intent-sha256", "take"} for v in lock["variants"].values()), lock["variants"]
    assert lock["variants"]["train"]["take"] == ["files:/opt/tools/install.sh", "python"]
    assert lock["variants"]["lean"]["take"] == ["python"]
    assert lock_cli("check", str(intent)).code == 0

    # Generated: one Packer build per variant, each with both envs' files; the roles' defaults per variant.
    build = tmp_path / "build"
    assert lock_cli("generate", str(lock_path), "-o", str(build)).code == 0
    for variant in ("full", "lean", "train"):
        names = {p.name for p in (build / variant).iterdir()}
        assert {"image.pkr.hcl", "bootstrap.sh", "pylock.train.toml", "pylock.serve.toml"} <= names, names
        assert f'"fleet-{variant}-' in (build / variant / "image.pkr.hcl").read_text()
    assert "/opt/tool" not in (build / "train" / "bootstrap.sh").read_text().replace("/opt/tools/", "")
    roles = tmp_path / "ansible"
    run = lock_cli("generate", str(lock_path), "--format", "ansible", "-o", str(roles))
    assert run.code == 0, run.err
    assert 'trainlib_version: !unsafe "1.0"' in (roles / "roles" / "trainer" / "defaults" / "main.yml").read_text()
    assert 'numpy_version: !unsafe "1.0"' in (roles / "group_vars" / "all.yml").read_text()
    sha = hashlib.sha256(INSTALLER).hexdigest()
    assert (
        f'tools_installer_sha256: !unsafe "{sha}"' in (roles / "roles" / "tools" / "defaults" / "main.yml").read_text()
    )
    assert "role: tools" not in (roles / "playbook-lean.yml").read_text()
    for variant in ("full", "lean", "train"):
        checked = subprocess.run(
            ["ansible-playbook", "--syntax-check", "-i", "localhost,", f"playbook-{variant}.yml"],
            cwd=roles,
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr

    # One env's requirement changes: check names that env, and not the other.
    intent.write_text(INTENT.replace('requirements = ["trainlib"]', 'requirements = ["trainlib", "tqdm==4.0"]'))
    stale = lock_cli("check", str(intent))
    assert stale.code == 1, stale.out
    lines = stale.out.splitlines()
    prefix = f"{lock_path}: stale: "
    assert lines == [
        f"{prefix}{where}python env 'train' changed in {intent} since the lock was written "
        + lines[0].split("written ")[1]
        for where in ("", "variant full: ", "variant lean: ", "variant train: ")
    ], stale.out
    assert lines[0].endswith("run `lock update --only python.train`")
    assert "serve" not in stale.out
