"""Names, versions, URLs and paths that reach a generated file never change what it does.

Every lock value either fails validation at generation time (an InputError naming
the key) or arrives as inert data: bootstrap.sh is a data block inside a template
that is the same text for every lock, and real bash reads the data block back as
exactly the values the lock holds.
"""

from __future__ import annotations

import base64
import json
import shlex
import subprocess
import tomllib
from collections.abc import Callable

import gen_support  # noqa: F401
import hcl2
import pytest
import yaml
from gen_sample import full_lock
from hcl2.utils import SerializationOptions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.pylock import Pylock

from imagelock.build import bootstrap
from imagelock.build.generate import render
from imagelock.build.values import Values, sh, yaml_str
from imagelock.errors import InputError
from imagelock.hashing import sha256_bytes
from imagelock.lock import codec as lockfile
from imagelock.lock.model import AptLayer, AptRepository, Lock

HOSTILE = [
    "$(touch /tmp/pwned)",
    "`touch /tmp/pwned`",
    "'",
    '"',
    "\\",
    "a b",
    "x;reboot",
    "x&&reboot",
    "x|sh",
    "${IFS}",
    "$HOME",
    "*",
    "?",
    "~",
    "#",
    "!",
    "-rf",
    "--",
    "a\nb",
    "a\rb",
    "\x00",
    "\x1b[2J",
    "\u2028",
    "%{",
    "${var.x}",
    "}",
    "\t",
    "é",
    "🙂",
    "\x7f",
    "..",
    "/",
]

text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(HOSTILE),
    st.lists(
        st.one_of(st.sampled_from(HOSTILE), st.text(alphabet="abc.-_/:+~0123456789", max_size=8)),
        min_size=1,
        max_size=5,
    ).map("".join),
)

Setter = Callable[[Lock, str], None]


def _keyring(entry: AptLayer | AptRepository, value: str) -> None:
    """The keyring set to `value`, with the sha256 of what it decodes to recorded beside it (as `lock update`
    would), so a value that is base64 reaches the data and is not only refused for its hash."""
    entry.keyring = value
    try:
        entry.keyring_sha256 = sha256_bytes(base64.b64decode(value, validate=True))
    except ValueError:  # not base64 (binascii.Error), or not even ASCII
        pass


# Fields whose accepted values reach bootstrap.sh only through other files (or not at all; a suite only
# picks which source URI a .deb is fetched under).
GRAMMAR_ONLY = {"lock.name", "base.region", "base.ami", "base.device", "nvidia.cuda", "python.platform", "apt.suite"}
# A Release field that apt preferences could not read back (a comma, a quote) is left out of the pin: the
# value may then reach no file at all (imagelock/domains/apt/pins.py).
GRAMMAR_ONLY |= {"apt.repo.origin"}

FIELDS: dict[str, Setter] = {
    "wheel.url": lambda lock, v: setattr(lock.python.packages[0].wheel, "url", "https://x.invalid/" + v),
    "wheel.filename": lambda lock, v: setattr(lock.python.packages[0].wheel, "filename", v + ".whl"),
    "python.name": lambda lock, v: setattr(lock.python.packages[1], "name", v),
    "python.version": lambda lock, v: setattr(lock.python.packages[2], "version", v),
    "python.venv": lambda lock, v: setattr(lock.python, "venv", "/opt/" + v),
    "apt.name": lambda lock, v: setattr(lock.apt.packages[0], "name", v),
    "apt.version": lambda lock, v: setattr(lock.apt.packages[1], "version", v),
    "apt.filename": lambda lock, v: setattr(lock.apt.packages[2], "filename", "pool/" + v),
    "apt.uri": lambda lock, v: setattr(lock.apt.sources[0], "uri", "http://" + v),
    "apt.suite": lambda lock, v: setattr(lock.apt.sources[0], "suite", v),
    "apt.repo.name": lambda lock, v: setattr(lock.apt.repositories[0], "name", v),
    "apt.repo.url": lambda lock, v: setattr(lock.apt.repositories[0], "url", "https://" + v),
    "apt.repo.suite": lambda lock, v: setattr(lock.apt.repositories[0].sources[0], "suite", v),
    "apt.repo.architecture": lambda lock, v: setattr(lock.apt.repositories[0].sources[0], "architectures", [v]),
    "apt.repo.origin": lambda lock, v: setattr(lock.apt.repositories[0].sources[0], "origin", v),
    "apt.repo.keyring": lambda lock, v: _keyring(lock.apt.repositories[0], v),
    "apt.keyring": lambda lock, v: _keyring(lock.apt, v),
    "apt.archive": lambda lock, v: setattr(lock.apt, "archive", "https://" + v),
    "apt.repo.assigned": lambda lock, v: setattr(lock.apt.repositories[0], "assigned", [v]),
    "kernel.version": lambda lock, v: setattr(lock.kernel, "version", "5.15.0-" + v),
    "nvidia.runfile": lambda lock, v: setattr(lock.nvidia, "runfile", v),
    "nvidia.url": lambda lock, v: setattr(lock.nvidia, "url", "https://" + v),
    "nvidia.mirror": lambda lock, v: setattr(lock.nvidia, "mirror_url", "s3://" + v),
    "mirror.url": lambda lock, v: setattr(lock.mirror, "url", "s3://" + v),
    "nvidia.flag": lambda lock, v: setattr(lock.nvidia, "install_flags", ["--" + v]),
    "nvidia.driver": lambda lock, v: setattr(lock.nvidia, "driver_version", v),
    "model.repo": lambda lock, v: setattr(lock.models[0], "repo", "org/" + v),
    "model.dest": lambda lock, v: setattr(lock.models[0], "dest", "/workspace/" + v),
    "model.path": lambda lock, v: setattr(lock.models[0].files[0], "path", v),
    "lock.name": lambda lock, v: setattr(lock, "name", v),
    "base.region": lambda lock, v: setattr(lock.base.amis[0], "region", v),
    "base.ami": lambda lock, v: setattr(lock.base.amis[0], "id", "ami-" + v),
    "base.device": lambda lock, v: setattr(lock.base.amis[0], "root_device", "/dev/" + v),
    "nvidia.cuda": lambda lock, v: setattr(lock.nvidia, "cuda_version", v),
    "model.commit": lambda lock, v: setattr(lock.models[1], "commit", v),
    "python.platform": lambda lock, v: setattr(lock.python, "platform", v),
}
# The fields that reach the Packer template.
HCL_FIELDS = [
    "lock.name",
    "base.region",
    "base.ami",
    "base.device",
    "nvidia.driver",
    "nvidia.cuda",
    "kernel.version",
    "model.repo",
    "model.commit",
    "python.version",
]


def _bash_reads(block: str, data: bootstrap.Data) -> bootstrap.Data:
    """Source the data block in real bash and read every variable back."""
    dump = []
    for name, value in data.items():
        if isinstance(value, str):
            dump.append(f"printf '%s\\0' {name} 1 \"${name}\"")
        else:
            dump.append(f"printf '%s\\0' {name} \"${{#{name}[@]}}\"")
            dump.append(f"((${{#{name}[@]}} == 0)) || printf '%s\\0' \"${{{name}[@]}}\"")
    run = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + block + "\n".join(dump)], capture_output=True, check=True
    )
    fields = run.stdout.split(b"\0")[:-1]
    out: bootstrap.Data = {}
    i = 0
    while i < len(fields):
        name, count = fields[i].decode(), int(fields[i + 1])
        items = [f.decode() for f in fields[i + 2 : i + 2 + count]]
        i += 2 + count
        want = data[name]
        if isinstance(want, str):
            out[name] = items[0]
        else:
            width = len(want[0]) if want else 1
            out[name] = [tuple(items[j : j + width]) for j in range(0, len(items), width)]
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(sorted(FIELDS)), value=text)
def test_a_value_is_refused_or_is_only_ever_data(field: str, value: str) -> None:
    _refused_or_data(field, value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("wheel.url", "$(reboot)`id`'\"${IFS}*?;|&<>"),
        ("python.venv", "ai'$(reboot)'"),
        ("model.dest", "m/$(reboot)"),
        ("nvidia.url", "x/`reboot`"),
    ],
)
def test_printable_hostile_text_is_accepted_and_arrives_verbatim(field: str, value: str) -> None:
    assert _refused_or_data(field, value) == "data"


def _refused_or_data(field: str, value: str) -> str:
    lock = full_lock()
    FIELDS[field](lock, value)
    lock_text = lockfile.dumps(lock)
    try:
        files = render(lock, lock_text, "hostile.lock")
    except InputError as error:
        assert error.path == "hostile.lock" and error.key  # names the file and the key
        return "refused"
    script = files["bootstrap.sh"]
    template = bootstrap.template()
    head = template.header(lock.image_name(), lock.digest())
    assert script.startswith(head)
    assert script.endswith(template.body)  # the code is the same text whatever the lock holds
    block = script[len(head) : len(script) - len(template.body)]
    data = bootstrap.data(lock, sha256_bytes(lock_text.encode()), Values("hostile.lock"))
    assert bootstrap.data_block(data) == block
    assert _bash_reads(block, data) == data  # bash reads back exactly the values, nothing runs
    items = [x for v in data.values() for x in ([v] if isinstance(v, str) else [i for row in v for i in row])]
    # (a URI's trailing slashes are dropped before a pool path is joined to it)
    assert any(value in item or value.rstrip("/") in item for item in items) or value == "" or field in GRAMMAR_ONLY
    # The Ray snippet is YAML whose start command, split as a shell would, keeps the venv one word.
    snippet = yaml.safe_load(files["ray-worker.yaml"])
    command = snippet["worker_start_ray_commands"][-1]
    assert shlex.split(command)[:2] == ["source", lock.python.venv + "/bin/activate"]
    # The other files stay well-formed for their readers and carry the values unchanged.
    pylock = Pylock.from_dict(tomllib.loads(files["pylock.toml"]))
    assert {str(p.name): p.wheels[0].url for p in pylock.packages} == {
        p.name: p.wheel.url for p in lock.python.packages
    }
    assert [(r["repo"], r["path"]) for r in json.loads(files["models-manifest.json"])] == sorted(
        (m.repo, f.path) for m in lock.models for f in m.files
    )
    pins = [line for line in files["requirements.txt"].splitlines() if line and not line.startswith(("#", "--"))]
    assert len(pins) == len(lock.python.packages)
    return "data"


@settings(max_examples=200, deadline=None)
@given(value=st.text(max_size=60).filter(lambda s: not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in s)))
def test_shell_quoting_round_trips_through_real_bash(value: str) -> None:
    run = subprocess.run(["bash", "-c", f"printf '%s' {sh(value)}"], capture_output=True, check=True)
    assert run.stdout.decode() == value


def test_the_property_can_fail_without_quoting(monkeypatch) -> None:
    """Unquoted, a hostile value would run: the round trip above is what catches that."""
    monkeypatch.setattr(bootstrap, "sh", lambda value: value)
    data: bootstrap.Data = {"VENV": "/opt/$(echo pwned)"}
    assert _bash_reads(bootstrap.data_block(data), data) == {"VENV": "/opt/pwned"}


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=60))
def test_yaml_quoting_round_trips_through_pyyaml(value: str) -> None:
    assert yaml.safe_load("key: " + yaml_str(value))["key"] == value


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(HCL_FIELDS), value=text)
def test_a_value_accepted_into_the_packer_template_parses_back_as_itself(field: str, value: str) -> None:
    lock = full_lock()
    FIELDS[field](lock, value)
    try:
        files = render(lock, lockfile.dumps(lock), "hostile.lock")
    except InputError:
        return
    template = hcl2.loads(
        files["image.pkr.hcl"],
        serialization_options=SerializationOptions(strip_string_quotes=True, with_comments=False),
    )
    source = template["source"][0]["amazon-ebs"]["image"]
    tags = source["tags"]
    assert tags["LockDigest"] == lock.digest() and tags["Image"] == lock.image_name()
    assert template["locals"][0]["source_amis"] == {a.region: a.id for a in lock.base.amis}
    assert template["locals"][0]["root_devices"] == {a.region: a.root_device for a in lock.base.amis}
    assert tags["Driver"] == lock.nvidia.driver_version and tags["Cuda"] == lock.nvidia.cuda_version
    assert tags["Kernel"] == lock.kernel.version
    assert {k: v for k, v in tags.items() if k.startswith("Model:")} == {
        f"Model:{m.repo}": m.commit for m in lock.models
    }
