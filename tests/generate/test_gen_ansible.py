"""`lock generate --format ansible`: role defaults, group_vars and playbooks whose values are the lock's,
read back with a YAML loader, accepted by the real `ansible-playbook --syntax-check`, inert when hostile
(a real local play proves Jinja never evaluates them), and refused on a bad mapping before anything is written."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from gen_sample import H, full_lock
from gen_support import write_lock  # noqa: F401 - a fixture
from hypothesis import given
from hypothesis import strategies as st

from imagelock import domains
from imagelock.build import ansible
from imagelock.intent.ansible import AnsibleIntent
from imagelock.lock import codec as lockfile
from imagelock.lock.model import Lock, PlainFile
from tests.files.vendor import INSTALLER, sha256, vendor_site

ANSIBLE = shutil.which("ansible-playbook")
needs_ansible = pytest.mark.skipif(ANSIBLE is None, reason="ansible-playbook (Debian's ansible-core) is not installed")

EFA_URL = "https://efa-installer.amazonaws.com/aws-efa-installer-1.38.0.tar.gz"
EFA_SHA = "ab" * 32

MAPPING = """
[ansible]
order = ["base", "nvidia_driver", "aws_efa", "python_env", "packages"]

[ansible.vars]
cuda_version = "nvidia.cuda-version"

[ansible.roles.base]

[ansible.roles.nvidia_driver]
nvidia_driver_version = "nvidia.driver-version"
nvidia_runfile_url = "nvidia.url"
nvidia_runfile_sha256 = "nvidia.sha256"
nvidia_install_flags = "nvidia.install-flags"

[ansible.roles.aws_efa]
aws_efa_installer_url = "files[/opt/efa].url"
aws_efa_installer_sha256 = "files[/opt/efa].sha256"
aws_efa_installer_size = "files[/opt/efa].size"

[ansible.roles.python_env]
torch_version = "python.packages[torch].version"
torch_wheel_sha256 = "python.packages[torch].wheel.sha256"

[ansible.roles.packages]
dkms_version = "apt.packages[dkms].version"
"""

# Tasks that use every variable, as a repository's roles do (the syntax check loads them; the play runs them).
TASKS = {
    "nvidia_driver": '- name: driver\n  ansible.builtin.debug:\n    msg: "{{ nvidia_driver_version }} {{ cuda_version }}'
    " {{ nvidia_runfile_url }} {{ nvidia_runfile_sha256 }} {{ nvidia_install_flags | join(' ') }}\"\n",
    "aws_efa": '- name: efa\n  ansible.builtin.get_url:\n    url: "{{ aws_efa_installer_url }}"\n'
    '    dest: /tmp/efa.tar.gz\n    checksum: "sha256:{{ aws_efa_installer_sha256 }}"\n  when: false\n',
    "python_env": '- name: torch\n  ansible.builtin.debug:\n    msg: "torch=={{ torch_version }} {{ torch_wheel_sha256 }}"\n',
    "packages": '- name: dkms\n  ansible.builtin.debug:\n    msg: "dkms={{ dkms_version }}"\n',
}


def sample_lock(efa_url: str = EFA_URL) -> Lock:
    lock = full_lock()
    lock.files = [
        PlainFile(url=efa_url, dest="/opt/efa", sha256=EFA_SHA, size=4096, extract=True),
        PlainFile(url="https://example.invalid/enroot.deb", dest="/opt/enroot.deb", sha256=H, size=12),
    ]
    return lock


def intent_and_lock(folder: Path, lock: Lock, mapping: str = MAPPING) -> tuple[Path, Path]:
    """An intent holding `mapping`, and the lock written beside it as made from that intent."""
    intent = folder / "image.toml"
    intent.write_text(f'name = "{lock.name}"\n{mapping}')
    lock.intent_sha256 = domains.read_intent(intent).sha256
    path = folder / "image.lock"
    path.write_text(lockfile.dumps(lock), encoding="utf-8")
    return intent, path


class _Loader(yaml.SafeLoader):
    """yaml.safe_load, plus Ansible's `!unsafe` tag (a string Ansible never templates)."""


_Loader.add_constructor("!unsafe", lambda loader, node: ("unsafe", loader.construct_scalar(node)))


def load(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def plain(value: Any, *, structure: bool = False) -> Any:
    """The value with every `!unsafe` mark checked and taken off. Every string must be marked, but for the
    playbook's own words (`structure`: its name, hosts and role names, which are checked names)."""
    if isinstance(value, tuple):
        assert value[0] == "unsafe"
        return value[1]
    if isinstance(value, list):
        return [plain(v, structure=structure) for v in value]
    if isinstance(value, dict):
        return {k: plain(v, structure=structure and k != "vars") for k, v in value.items()}
    assert structure or not isinstance(value, str), f"a string not tagged !unsafe: {value!r}"
    return value


def write_tasks(out: Path, roles: dict[str, str]) -> None:
    for role, tasks in roles.items():
        (out / "roles" / role / "tasks").mkdir(parents=True, exist_ok=True)
        (out / "roles" / role / "tasks" / "main.yml").write_text("---\n" + tasks)


def syntax_check(out: Path, playbook: str) -> subprocess.CompletedProcess[str]:
    assert ANSIBLE is not None
    return subprocess.run(
        [ANSIBLE, "--syntax-check", "-i", "localhost,", playbook],
        cwd=out,
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(out / ".ansible-tmp")},
        check=False,
    )


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- the values are the lock's ------------------------------------------------------------------------


def test_role_defaults_and_group_vars_hold_the_locks_values(tmp_path: Path, lock_cli) -> None:
    lock = sample_lock()
    intent, lock_path = intent_and_lock(tmp_path, lock)
    out = tmp_path / "repo"
    write_tasks(out, {"nvidia_driver": TASKS["nvidia_driver"]})  # a repository's role: its tasks are kept
    kept = (out / "roles/nvidia_driver/tasks/main.yml").read_bytes()

    run = lock_cli("generate", str(lock_path), "--format", "ansible", "-o", str(out))
    assert run.code == 0, run.err
    assert run.out.startswith("wrote ")

    assert plain(load(out / "group_vars/all.yml")) == {"cuda_version": lock.nvidia.cuda_version}
    assert plain(load(out / "roles/nvidia_driver/defaults/main.yml")) == {
        "nvidia_driver_version": "550.54.15",
        "nvidia_runfile_url": lock.nvidia.url,
        "nvidia_runfile_sha256": lock.nvidia.sha256,
        "nvidia_install_flags": lock.nvidia.install_flags,
    }
    assert plain(load(out / "roles/aws_efa/defaults/main.yml")) == {
        "aws_efa_installer_url": EFA_URL,
        "aws_efa_installer_sha256": EFA_SHA,
        "aws_efa_installer_size": 4096,
    }
    torch = next(p for p in lock.python.packages if p.name == "torch")
    assert plain(load(out / "roles/python_env/defaults/main.yml")) == {
        "torch_version": torch.version,
        "torch_wheel_sha256": torch.wheel.sha256,
    }
    dkms = next(p for p in lock.apt.packages if p.name == "dkms")
    assert plain(load(out / "roles/packages/defaults/main.yml")) == {"dkms_version": dkms.version}
    # A role without pins gets no defaults file (its own, if any, is the repository's).
    assert not (out / "roles/base/defaults").exists()

    play = plain(load(out / f"playbook-{lock.name}.yml"), structure=True)
    assert play == [
        {
            "name": f"{lock.image_name()} ({lock.name})",
            "hosts": "all",
            "roles": [{"role": r} for r in ("base", "nvidia_driver", "aws_efa", "python_env", "packages")],
        }
    ]
    # The repository's tasks are untouched; a role that was not there gets a stub, so the playbook loads.
    assert (out / "roles/nvidia_driver/tasks/main.yml").read_bytes() == kept
    assert load(out / "roles/base/tasks/main.yml") == []
    assert (out / "roles/base/tasks/main.yml").read_text().startswith(ansible.MARK)

    again = lock_cli("generate", str(lock_path), "--format", "ansible", "-o", str(out))
    assert again.code == 0 and "already current" in again.out


@needs_ansible
def test_ansible_playbook_syntax_check_accepts_the_playbook(tmp_path: Path, lock_cli) -> None:
    intent, lock_path = intent_and_lock(tmp_path, sample_lock())
    out = tmp_path / "repo"
    write_tasks(out, TASKS)
    assert lock_cli("generate", str(lock_path), "--format", "ansible", "-o", str(out)).code == 0
    checked = syntax_check(out, "playbook-gpu-worker.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "playbook: playbook-gpu-worker.yml" in checked.stdout

    # The check is real: a role the playbook names without its tasks fails it.
    shutil.rmtree(out / "roles/base")
    assert syntax_check(out, "playbook-gpu-worker.yml").returncode != 0


# --- hostile values are data ------------------------------------------------------------------------------

HOSTILE = "https://vendor.example/efa.tar.gz?x={{ lookup('pipe', 'touch PWNED') }}&y='\"\\{% raw %}#: - [a]"


@needs_ansible
def test_a_hostile_value_is_written_inert_and_ansible_does_not_template_it(tmp_path: Path, lock_cli) -> None:
    intent, lock_path = intent_and_lock(tmp_path, sample_lock(efa_url=HOSTILE))
    out = tmp_path / "repo"
    write_tasks(
        out,
        {
            **TASKS,
            "aws_efa": "- name: the value as ansible sees it\n  ansible.builtin.copy:\n"
            '    content: "{{ aws_efa_installer_url }}"\n    dest: "{{ playbook_dir }}/seen.txt"\n    mode: "0644"\n',
        },
    )
    assert lock_cli("generate", str(lock_path), "--format", "ansible", "-o", str(out)).code == 0
    assert plain(load(out / "roles/aws_efa/defaults/main.yml"))["aws_efa_installer_url"] == HOSTILE
    assert syntax_check(out, "playbook-gpu-worker.yml").returncode == 0

    assert ANSIBLE is not None
    ran = subprocess.run(
        [ANSIBLE, "-i", "localhost,", "-c", "local", "playbook-gpu-worker.yml"],
        cwd=out,
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(out / ".ansible-tmp")},
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert (out / "seen.txt").read_text() == HOSTILE  # the exact text: no Jinja evaluated it
    assert not (out / "PWNED").exists() and not Path("PWNED").exists()


@given(st.text(max_size=40))
def test_any_string_round_trips_through_the_quoted_scalar(text: str) -> None:
    """Quotes, backslashes, newlines, tabs, NEL, U+2028, '{{ }}', '#', ': ' and astral characters alike."""
    line = f"key: {ansible.scalar(text)}\n"
    assert "\n" not in line[:-1] and line.isascii()
    assert yaml.load(line, Loader=_Loader) == {"key": ("unsafe", text)}  # noqa: S506 - a SafeLoader subclass


@pytest.mark.parametrize("text", ["a\nb: c", "x\r\n- y", "'\"", "{{ 7 * 7 }}", "\u2028\x85\t", "\U0001f600"])
def test_line_breaks_and_quotes_stay_inside_the_scalar(text: str) -> None:
    assert yaml.load(f"key: {ansible.scalar(text)}", Loader=_Loader) == {"key": ("unsafe", text)}  # noqa: S506


def variant_mapping(folder: Path, lock: Lock, **roles: list[str]) -> tuple[Path, AnsibleIntent]:
    """MAPPING with `[ansible.variants.<name>] roles` for each variant given, read back as the intent's."""
    text = MAPPING + "".join(f"\n[ansible.variants.{name}]\nroles = {chosen!r}\n" for name, chosen in roles.items())
    intent_path, _ = intent_and_lock(folder, lock, text.replace("'", '"'))
    mapping = domains.read_intent(intent_path).ansible
    assert mapping is not None
    return intent_path, mapping


# --- variants -------------------------------------------------------------------------------------------


@needs_ansible
def test_variants_share_defaults_and_keep_their_own_values_in_their_playbook(tmp_path: Path) -> None:
    lock = sample_lock()
    intent_path, mapping = variant_mapping(
        tmp_path,
        lock,
        gpu=["base", "nvidia_driver", "aws_efa"],
        eks=["nvidia_driver", "packages"],
        cpu=["base", "packages"],
    )
    eks = copy.deepcopy(lock)
    assert eks.nvidia is not None
    eks.nvidia.driver_version = "535.54.03"  # a variant that overrides a pin
    views = [("gpu", lock), ("eks", eks), ("cpu", copy.deepcopy(lock))]
    out = tmp_path / "repo"
    write_tasks(out, TASKS)
    written = ansible.generate(mapping, views, intent_path, out)
    assert sorted(str(p.relative_to(out)) for p, _ in written) == [
        "group_vars/all.yml",
        "playbook-cpu.yml",
        "playbook-eks.yml",
        "playbook-gpu.yml",
        "roles/aws_efa/defaults/main.yml",
        "roles/base/tasks/main.yml",
        "roles/nvidia_driver/defaults/main.yml",
        "roles/packages/defaults/main.yml",
    ]  # python_env is run by no variant: nothing of it is written
    defaults = plain(load(out / "roles/nvidia_driver/defaults/main.yml"))
    assert "nvidia_driver_version" not in defaults  # two values: each variant's playbook holds its own
    assert defaults["nvidia_runfile_sha256"] == lock.nvidia.sha256  # one value: the role's default
    plays = {name: plain(load(out / f"playbook-{name}.yml"), structure=True)[0] for name in ("gpu", "eks", "cpu")}
    assert plays["gpu"]["vars"] == {"nvidia_driver_version": "550.54.15"}
    assert plays["eks"]["vars"] == {"nvidia_driver_version": "535.54.03"}
    assert "vars" not in plays["cpu"]
    assert [r["role"] for r in plays["eks"]["roles"]] == ["nvidia_driver", "packages"]
    assert [r["role"] for r in plays["cpu"]["roles"]] == ["base", "packages"]
    for name in plays:
        checked = syntax_check(out, f"playbook-{name}.yml")
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_variant_the_lock_does_not_have_is_refused(tmp_path: Path, lock_cli) -> None:
    intent, lock_path = intent_and_lock(
        tmp_path, sample_lock(), MAPPING + '\n[ansible.variants.gpu]\nroles = ["nvidia_driver"]\n'
    )
    run = lock_cli("generate", str(lock_path), "--format", "ansible", "-o", str(tmp_path / "repo"))
    assert run.code == 2
    assert (
        run.err.strip()
        == f"lock: error: {intent}: ansible.variants.gpu: the lock has no variant 'gpu' (it has: gpu-worker)"
    )
    assert not (tmp_path / "repo").exists()


# --- refusals: one line, exit 2, nothing written -----------------------------------------------------------

BAD = [
    (
        'x = "dnf.releasever"',
        "dnf.releasever",
        "the lock has no dnf layer (it has: python, apt, kernel, nvidia, models, files, base)",
    ),
    (
        'x = "nvidia.driver"',
        "nvidia.driver",
        "nvidia has no 'driver'; it has: runfile, url, sha256, md5, size, driver-version",
    ),
    (
        'x = "files[/opt/nope].url"',
        "files[/opt/nope].url",
        "files has no entry whose dest is '/opt/nope'; it has: /opt/efa, /opt/enroot.deb",
    ),
    (
        'x = "files[/opt/efa]"',
        "files[/opt/efa]",
        "files[/opt/efa] is a table, not a value; name one of its keys: url, dest",
    ),
    ('x = "python.packages"', "python.packages", "python.packages is a list, not a value; pick one entry with [...]"),
    ('x = "nvidia.Driver_Version"', "nvidia.Driver_Version", "is not a lock path at '.Driver_Version'"),
]


@pytest.mark.parametrize(("line", "path", "says"), BAD, ids=[b[1] for b in BAD])
def test_a_bad_mapping_path_is_one_line_exit_2_and_nothing_written(
    tmp_path: Path, lock_cli, line: str, path: str, says: str
) -> None:
    mapping = f"[ansible.roles.role]\n{line}\n"
    intent = tmp_path / "image.toml"
    intent.write_text(f'name = "gpu-worker"\n{mapping}')
    lock = sample_lock()
    out = tmp_path / "repo"
    write_tasks(out, {"role": "[]\n"})
    before = tree(out)
    if "not a lock path" in says:  # the grammar is checked when the intent is read
        lock_path = write_lock_beside(tmp_path, lock)
    else:
        _, lock_path = intent_and_lock(tmp_path, lock, mapping)
    run = lock_cli("generate", str(lock_path), "--format", "ansible", "-o", str(out))
    assert run.code == 2, run.out
    assert run.out == ""
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"lock: error: {intent}: ansible.roles.role.x: ")
    assert says in lines[0] and path in lines[0]
    assert tree(out) == before


def write_lock_beside(folder: Path, lock: Lock) -> Path:
    path = folder / "image.lock"
    path.write_text(lockfile.dumps(lock), encoding="utf-8")
    return path


def test_a_file_imagelock_did_not_write_is_refused_and_nothing_is_written(tmp_path: Path, lock_cli) -> None:
    _, lock_path = intent_and_lock(tmp_path, sample_lock())
    out = tmp_path / "repo"
    theirs = out / "roles/aws_efa/defaults/main.yml"
    theirs.parent.mkdir(parents=True)
    theirs.write_text('aws_efa_installer_version: "1.25.0"\nallow_reboot: true\n')
    before = tree(out)
    run = lock_cli("generate", str(lock_path), "--format", "ansible", "-o", str(out))
    assert run.code == 2
    assert run.err.startswith(f"lock: error: {theirs}: not written by imagelock")
    assert len(run.err.strip().splitlines()) == 1
    assert tree(out) == before


@pytest.mark.parametrize(
    "other", ["group_vars/all/site.yml", "group_vars/all.yaml", "roles/aws_efa/defaults/main.yaml"]
)
def test_a_vars_file_ansible_would_read_instead_is_refused(tmp_path: Path, lock_cli, other: str) -> None:
    _, lock_path = intent_and_lock(tmp_path, sample_lock())
    out = tmp_path / "repo"
    (out / other).parent.mkdir(parents=True)
    (out / other).write_text("site_value: 1\n")
    before = tree(out)
    run = lock_cli("generate", str(lock_path), "--format", "ansible", "-o", str(out))
    assert run.code == 2
    shadow = out / other.removesuffix("/site.yml")
    assert run.err.startswith(f"lock: error: {shadow}: Ansible reads this or the generated ")
    assert tree(out) == before


def test_a_lock_made_from_another_intent_is_refused(tmp_path: Path, lock_cli) -> None:
    intent, lock_path = intent_and_lock(tmp_path, sample_lock())
    intent.write_text(intent.read_text().replace('"nvidia.url"', '"nvidia.sha256"'))
    run = lock_cli("generate", str(lock_path), "--format", "ansible", "-o", str(tmp_path / "repo"))
    assert run.code == 2
    assert f"not made from {intent} as it is now (run `lock update {intent}`" in run.err
    assert not (tmp_path / "repo").exists()


def test_intent_rules_for_the_mapping(tmp_path: Path) -> None:
    def error(mapping: str) -> str:
        path = tmp_path / "i.toml"
        path.write_text(f'name = "x"\n{mapping}')
        with pytest.raises(Exception) as caught:  # noqa: PT011 - InputError; the message is what is tested
            domains.read_intent(path)
        return str(caught.value)

    assert "already declared as ansible.roles.a.v" in error(
        '[ansible.roles.a]\nv = "nvidia.url"\n[ansible.roles.b]\nv = "nvidia.url"\n'
    )
    assert "ansible.roles.a.hostvars: a name Ansible sets itself" in error(
        '[ansible.roles.a]\nhostvars = "nvidia.url"\n'
    )
    assert "ansible.roles.a.1x: expected an Ansible variable name" in error('[ansible.roles.a]\n1x = "nvidia.url"\n')
    assert "ansible.roles.../x: expected a role directory name" in error('[ansible.roles."../x"]\nv = "nvidia.url"\n')
    assert "ansible.order: lists the play's order of every role; it leaves out: b" in error(
        '[ansible]\norder = ["a"]\n[ansible.roles.a]\n[ansible.roles.b]\n'
    )
    assert "ansible.variants.v.roles[0]: no table [ansible.roles.c]" in error(
        '[ansible.roles.a]\n[ansible.variants.v]\nroles = ["c"]\n'
    )
    assert "ansible.roles.a.v: expected a lock path" in error("[ansible.roles.a]\nv = 3\n")


# --- lock update checks the mapping against the lock it resolves --------------------------------------------


def test_lock_update_refuses_a_path_its_lock_does_not_have_then_generate_reads_the_real_lock(
    tmp_path: Path, lock_cli
) -> None:
    with vendor_site(tmp_path / "site") as vendor:
        vendor.publish({"aws-efa-installer-1.38.0.tar.gz": INSTALLER}, None)
        entry = (
            f'[[files]]\nurl = "{vendor.url}/aws-efa-installer-1.38.0.tar.gz"\ndest = "/opt/efa"\n'
            f'sha256 = "{sha256(INSTALLER)}"\n'
        )
        intent = tmp_path / "efa.toml"
        head = f'name = "efa"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n{entry}[ansible.roles.aws_efa]\n'
        intent.write_text(head + 'aws_efa_installer_url = "files[/opt/efa-typo].url"\n')
        run = lock_cli("update", str(intent))
        assert run.code == 2
        assert run.err.strip().splitlines() == [
            f"lock: error: {intent}: ansible.roles.aws_efa.aws_efa_installer_url: files[/opt/efa-typo].url: "
            "files has no entry whose dest is '/opt/efa-typo'; it has: /opt/efa"
        ]
        assert not intent.with_suffix(".lock").exists()

        intent.write_text(
            head
            + 'aws_efa_installer_url = "files[/opt/efa].url"\naws_efa_installer_sha256 = "files[/opt/efa].sha256"\n'
        )
        assert lock_cli("update", str(intent)).code == 0
    out = tmp_path / "repo"
    run = lock_cli("generate", str(intent.with_suffix(".lock")), "--format", "ansible", "-o", str(out))
    assert run.code == 0, run.err
    assert plain(load(out / "roles/aws_efa/defaults/main.yml")) == {
        "aws_efa_installer_url": f"{vendor.url}/aws-efa-installer-1.38.0.tar.gz",
        "aws_efa_installer_sha256": sha256(INSTALLER),
    }
    if ANSIBLE is not None:
        assert syntax_check(out, "playbook-efa.yml").returncode == 0


def test_a_path_one_variant_lacks_names_that_variant(tmp_path: Path) -> None:
    lock = sample_lock()
    intent_path, mapping = variant_mapping(tmp_path, lock, gpu=["nvidia_driver"], cpu=["base", "nvidia_driver"])
    cpu = copy.deepcopy(lock)
    cpu.nvidia = None  # this variant takes no driver, yet its roles name the driver's role
    with pytest.raises(
        Exception,
        match=r"ansible.vars.cuda_version: nvidia.cuda-version: the lock has no nvidia layer .*\(variant cpu\)$",
    ):
        ansible.generate(mapping, [("gpu", lock), ("cpu", cpu)], intent_path, tmp_path / "repo")
    assert not (tmp_path / "repo").exists()
