"""The generated files pass the real tools: bash, shellcheck, python-hcl2, Packer, pip."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import hcl2
import pytest
from gen_sample import full_lock
from gen_support import full_lock_path, write_lock  # noqa: F401  (fixtures)
from hcl2.utils import SerializationOptions
from indexbuilder import Dist, build_snapshot

from imagelock import domains
from imagelock.build import bootstrap
from imagelock.build.values import Values
from imagelock.lock.model import Lock, Universe

ROOT = Path(__file__).resolve().parents[2]
SEED_LOCK = ROOT / "locks" / "seed.lock"

# The Packer these tests run. Debian's archive ships 1.6.6 (.ci/apt-packages.txt); no PyPI or npm
# package ships a Packer binary and HashiCorp's downloads are not reachable from CI.
PACKER_VERSION = "1.6.6"


def _hcl(path: Path) -> dict:
    with open(path) as handle:
        return hcl2.load(
            handle, serialization_options=SerializationOptions(strip_string_quotes=True, with_comments=False)
        )


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed: it is listed in .ci/apt-packages.txt"
    return path


@pytest.fixture(params=["seed", "full"])
def generated(request, tmp_path: Path, lock_cli, full_lock_path: Path) -> Path:
    lock = SEED_LOCK if request.param == "seed" else full_lock_path
    out = tmp_path / "out"
    result = lock_cli("generate", str(lock), "-o", str(out))
    assert result.code == 0, result.err
    return out


def test_bootstrap_is_bash_n_and_shellcheck_clean(generated: Path) -> None:
    script = generated / "bootstrap.sh"
    syntax = subprocess.run([_tool("bash"), "-n", str(script)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    lint = subprocess.run(
        [_tool("shellcheck"), "--severity=style", "--shell=bash", str(script)], capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout


def test_shellcheck_does_find_problems_here() -> None:
    """The lint test can fail: shellcheck flags an unquoted expansion in the same setting."""
    lint = subprocess.run(
        [_tool("shellcheck"), "--shell=bash", "-"], input="#!/bin/bash\nrm $1\n", capture_output=True, text=True
    )
    assert lint.returncode != 0 and "SC2086" in lint.stdout


# The template as it is, before any lock fills its data slot. check-unassigned-uppercase makes
# shellcheck flag an uppercase name the code uses that nothing declares (off by default: it takes
# uppercase names for environment variables).
TEMPLATE = ROOT / "imagelock" / "build" / bootstrap.TEMPLATE
TEMPLATE_LINT = ["--severity=style", "--shell=bash", "--enable=check-unassigned-uppercase"]


def test_bootstrap_template_is_bash_n_and_shellcheck_clean() -> None:
    syntax = subprocess.run([_tool("bash"), "-n", str(TEMPLATE)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    lint = subprocess.run([_tool("shellcheck"), *TEMPLATE_LINT, str(TEMPLATE)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout


def test_template_lint_flags_a_lock_value_the_slot_does_not_declare() -> None:
    """The template lint can fail: without PY_ENVS's declaration, its uses are unassigned."""
    text = TEMPLATE.read_text(encoding="utf-8")
    assert text.count("\nreadonly -a PY_ENVS=()\n") == 1
    lint = subprocess.run(
        [_tool("shellcheck"), *TEMPLATE_LINT, "-"],
        input=text.replace("\nreadonly -a PY_ENVS=()\n", "\n"),
        capture_output=True,
        text=True,
    )
    assert lint.returncode != 0 and "PY_ENVS is referenced but not assigned" in lint.stdout


def _bare_lock() -> Lock:
    return Lock(name="bare", intent_sha256="0" * 64, universe=Universe(cutoff="2025-01-01T00:00:00Z", source="intent"))


@pytest.mark.parametrize("lock", [full_lock, _bare_lock], ids=["full", "bare"])
def test_template_slot_declares_exactly_the_names_the_data_block_assigns(lock) -> None:
    """What shellcheck was told the data block holds is what it holds, in the same order."""
    data = bootstrap.data(lock(), "0" * 64, Values("x.lock"))
    assert bootstrap.template().names == tuple(data)


def test_template_parses_with_python_hcl2(generated: Path) -> None:
    template = _hcl(generated / "image.pkr.hcl")
    packer = template["packer"][0]
    assert packer["required_plugins"][0]["amazon"]["version"] == "= 1.3.3"
    source = template["source"][0]["amazon-ebs"]["image"]
    assert source["metadata_options"][0]["http_tokens"] == "required"
    assert source["ami_name"] == "${local.image_name}"
    assert source["launch_block_device_mappings"][0]["volume_size"] >= 20
    build = template["build"][0]
    assert [p for p in build["post-processor"] if "manifest" in p]
    files = [p["file"]["source"] for p in build["provisioner"] if "file" in p]
    assert files == ["${path.root}/bootstrap.sh", "${path.root}/lock.toml"]


def test_template_is_packer_fmt_canonical(generated: Path) -> None:
    run = subprocess.run(
        [_tool("packer"), "fmt", "-check", "-diff", "image.pkr.hcl"], cwd=generated, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_full_template_pins_amis_reboots_for_the_kernel_and_tags_every_layer(
    tmp_path: Path, lock_cli, full_lock_path: Path
) -> None:
    out = tmp_path / "out"
    assert lock_cli("generate", str(full_lock_path), "-o", str(out)).code == 0
    template = _hcl(out / "image.pkr.hcl")
    local = template["locals"][0]
    assert local["source_amis"] == {"us-east-1": "ami-04b70fa74e45c3917", "us-west-2": "ami-0aff18ec83b712f05"}
    tags = template["source"][0]["amazon-ebs"]["image"]["tags"]
    assert tags["Driver"] == "550.54.15" and tags["Cuda"] == "12.4.1" and tags["Torch"] == "2.5.1+cu124"
    assert tags["Vllm"] == "0.6.6.post1" and tags["Model:Qwen/Qwen3-4B-AWQ"] == "a" * 40
    assert tags["SourceAmi"] == "${local.source_ami}"
    # Models 2.68 GB + runfile 4.32 GB + wheels 0.21 GB + torch (size unknown: 1 GiB) + debs 6.8 MB
    # = 8.29 GB = 7.72 GiB; three times that is 23.2, rounded up to 24, plus the 20 GiB base.
    assert template["source"][0]["amazon-ebs"]["image"]["launch_block_device_mappings"][0]["volume_size"] == 44
    shells = [p["shell"] for p in template["build"][0]["provisioner"] if "shell" in p]
    assert shells[0]["inline"] == ["bash /tmp/imagelock-bootstrap.sh --lock /tmp/imagelock-lock.toml --system-only"]
    assert shells[1]["expect_disconnect"] is True and shells[1]["inline"] == ["shutdown -r now"]
    assert shells[2]["pause_before"] == "30s" and shells[2]["inline"] == ["${local.bootstrap}"]
    # The mirror reaches the script: {{ .Vars }} carries environment_vars, sudo -E keeps them.
    assert shells[2]["environment_vars"] == ["IMAGELOCK_MIRROR=${var.mirror}"]
    assert shells[2]["execute_command"] == "chmod +x {{ .Path }}; {{ .Vars }} sudo -E bash '{{ .Path }}'"


def _packer_version() -> str:
    out = subprocess.run([_tool("packer"), "version"], capture_output=True, text=True).stdout
    found = re.search(r"Packer v(\d+\.\d+\.\d+)", out)
    assert found, out
    return found.group(1)


def _for_packer_1_6(template: str) -> str:
    """The template minus the three things newer than Packer 1.6.6 (nothing else changes)."""
    stripped = re.sub(r"  required_plugins \{.*?\n  \}\n", "", template, count=1, flags=re.S)
    stripped = stripped.replace('required_version = ">= 1.7.0"', 'required_version = ">= 1.6.0"')
    stripped = re.sub(r"\n  metadata_options \{.*?\n  \}\n", "\n", stripped, count=1, flags=re.S)
    stripped = re.sub(r"  imds_support +=.*\n", "", stripped, count=1)
    assert stripped.count("\n") == template.count("\n") - 12, "the template changed shape: revisit this test"
    return stripped


def _vars(generated: Path) -> list[str]:
    """A region of the lock's base layer (any region without one), and a source AMI where the lock has no
    base layer to pin one."""
    lock, _ = domains.read_lock(generated / "lock.toml")
    args = ["-var", f"region={lock.base.amis[-1].region if lock.base else 'us-east-1'}"]
    if 'variable "source_ami"' in (generated / "image.pkr.hcl").read_text():
        args += ["-var", "source_ami=ami-0123456789abcdef0"]
    return args


def test_packer_1_6_6_validates_the_template_minus_its_post_1_6_blocks(generated: Path) -> None:
    """Real `packer validate`: every builder, provisioner and post-processor option is checked.

    Packer 1.6.6 predates `required_plugins` (1.7.0) and knows neither `metadata_options`
    nor `imds_support`, so those 12 lines are removed first; the rest is validated as is.
    """
    assert _packer_version() == PACKER_VERSION
    (generated / "image.pkr.hcl").write_text(_for_packer_1_6((generated / "image.pkr.hcl").read_text()))
    run = subprocess.run(
        [_tool("packer"), "validate", *_vars(generated), "image.pkr.hcl"], cwd=generated, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_packer_validate_fails_on_a_broken_template(generated: Path) -> None:
    """The validate test can fail: a misspelt builder option is caught."""
    text = _for_packer_1_6((generated / "image.pkr.hcl").read_text()).replace("instance_type   =", "instance_typo   =")
    (generated / "image.pkr.hcl").write_text(text)
    run = subprocess.run(
        [_tool("packer"), "validate", *_vars(generated), "image.pkr.hcl"], cwd=generated, capture_output=True, text=True
    )
    assert run.returncode != 0 and "instance_typo" in run.stdout + run.stderr


def test_packer_validate_on_the_template_as_generated(generated: Path) -> None:
    version = _packer_version()
    if tuple(int(x) for x in version.split(".")) < (1, 7, 0):
        pytest.skip(
            f"the installed Packer is {version} (Debian's; no PyPI or npm package ships Packer and "
            "HashiCorp's downloads are unreachable): `required_plugins` needs Packer >= 1.7 and `packer "
            "init` to fetch the amazon plugin, so the template as generated cannot be validated here; "
            "test_packer_1_6_6_validates_the_template_minus_its_post_1_6_blocks covers the rest"
        )
    # A newer Packer: the amazon plugin must be installed (`packer init .` where its host is reachable).
    run = subprocess.run(
        [_tool("packer"), "validate", *_vars(generated), "."], cwd=generated, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_requirements_install_with_pip_require_hashes_and_refuse_a_wrong_hash(tmp_path: Path, lock_cli) -> None:
    snapshot = build_snapshot(
        tmp_path / "snap",
        [Dist("alpha", "1.0", "2024-01-01T00:00:00Z", ["beta"]), Dist("beta", "2.0", "2024-01-01T00:00:00Z")],
    )
    intent = tmp_path / "small.toml"
    intent.write_text('name = "small"\n[python]\nrequirements = ["alpha"]\nbootstrap = []\n')
    assert lock_cli("update", str(intent), "--replay", str(snapshot)).code == 0
    assert lock_cli("generate", str(tmp_path / "small.lock"), "-o", str(tmp_path / "out")).code == 0
    requirements = tmp_path / "out" / "requirements.txt"
    pip = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--ignore-installed",
        "--no-index",
        "--find-links",
        str(snapshot / "pypi" / "files"),
        "--require-hashes",
        "--no-deps",
        "--only-binary",
        ":all:",
        "--disable-pip-version-check",
        "-r",
    ]
    ok = subprocess.run([*pip, str(requirements)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "Would install alpha-1.0 beta-2.0" in ok.stdout
    wrong = tmp_path / "wrong.txt"
    text = requirements.read_text()
    wrong.write_text(re.sub(r"(beta==2\.0 --hash=sha256:)[0-9a-f]", r"\g<1>f", text).replace(":ff", ":fe"))
    assert wrong.read_text() != text
    bad = subprocess.run([*pip, str(wrong)], capture_output=True, text=True)
    assert bad.returncode != 0 and "DO NOT MATCH THE HASHES" in bad.stderr
