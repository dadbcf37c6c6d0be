"""A lock edited by hand is named down to the layer, the entry and the field, from the lock alone (no git,
no network), in one line; `lock check` answers 1, `lock generate` refuses with 2, and neither writes."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from imagelock_testing import tree_digest

from imagelock import domains
from imagelock.lock import codec, tamper
from imagelock.lock.model import PlainFile

ROOT = Path(__file__).resolve().parents[2]
INTEGRITY_NOT_ORIGIN = "the digest proves the lock is intact, not who wrote it (`lock sign` does)"
FILES_SECTION = """
[[files]]
url = "https://vendor.example/tools/gdrcopy.sh"
dest = "/usr/local/bin/gdrcopy.sh"
mode = "0755"
sha256 = "{a}"

[[files]]
url = "https://vendor.example/efa/aws-efa-installer-1.38.0.tar.gz"
dest = "/opt/efa"
extract = true
sha256 = "{b}"
"""


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    """A copy of the seed intent and lock, with a [[files]] layer of two files added (and locked)."""
    shutil.copytree(ROOT / "locks", tmp_path / "locks")
    intent = tmp_path / "locks" / "seed.toml"
    a, b = "1" * 64, "2" * 64
    intent.write_text(intent.read_text() + FILES_SECTION.format(a=a, b=b))
    lock, _ = domains.read_lock(tmp_path / "locks" / "seed.lock")
    lock.intent_sha256 = domains.read_intent(intent).sha256
    lock.layers["files"] = [
        PlainFile("https://vendor.example/tools/gdrcopy.sh", "/usr/local/bin/gdrcopy.sh", a, 4096, "0755"),
        PlainFile("https://vendor.example/efa/aws-efa-installer-1.38.0.tar.gz", "/opt/efa", b, 262144, extract=True),
    ]
    (tmp_path / "locks" / "seed.lock").write_text(codec.dumps(lock))
    return tmp_path / "locks"


def _within(header: str, anchor: str, old: str, new: str) -> Callable[[str], tuple[str, int]]:
    """An edit of the first `old` after `anchor`, in the entry `header` starts; returns its index in the file."""

    def edit(text: str) -> tuple[str, int]:
        at = text.index(anchor)
        where = text.index(old, at)
        return text[:where] + new + text[where + len(old) :], text[:at].count(header) - 1 if header else -1

    return edit


def _flip(value: str) -> str:
    return ("0" if value[0] != "0" else "1") + value[1:]


TORCH = 'name = "torch"'
TORCH_SHA = "6b2966ede9affe2fd69e0765691ca723ec870e0c34c7761f4d5b8e318383fdaf"
ADDUSER = 'name = "adduser"'
ADDUSER_SHA = "53c30389227d4d16f1108a1df7ae1540c890378318335d1dc7ee95b7257f1f17"
RUNFILE_SHA = "367d2299b3a4588ab487a6d27276ca5d9ead6e394904f18bccb9e12433b9c4fb"
TOKENIZER = 'path = "tokenizer.json"'
EFA = 'url = "https://vendor.example/efa/aws-efa-installer-1.38.0.tar.gz"'

# (the edit, the entry it names as a format of its index in the file, or None for a table, the field)
CASES = {
    "python wheel.sha256": (
        _within("[[python.packages]]", TORCH, TORCH_SHA, _flip(TORCH_SHA)),
        "layer python, entry python.packages[{i}] (torch), field wheel.sha256",
    ),
    "python wheel.size": (
        _within("[[python.packages]]", 'name = "six"', "size = ", "size = 1"),
        "layer python, entry python.packages[{i}] (six), field wheel.size",
    ),
    "python wheel.url": (
        _within("[[python.packages]]", TORCH, "https://download.pytorch.org/", "https://evil.example/"),
        "layer python, entry python.packages[{i}] (torch), field wheel.url",
    ),
    "python index": (
        _within("[[python.packages]]", 'name = "six"', 'index = "pypi"', 'index = "pytorch-cu124"'),
        "layer python, entry python.packages[{i}] (six), field index",
    ),
    "python layer venv": (
        _within("[python]", 'venv = "', 'venv = "/opt/venvs/ai"', 'venv = "/opt/venvs/other"'),
        "layer python, field venv",
    ),
    "apt sha256": (
        _within("[[apt.packages]]", ADDUSER, ADDUSER_SHA, _flip(ADDUSER_SHA)),
        "layer apt, entry apt.packages[{i}] (adduser), field sha256",
    ),
    "apt version": (
        _within("[[apt.packages]]", ADDUSER, 'version = "3.118ubuntu5"', 'version = "3.118ubuntu6"'),
        "layer apt, entry apt.packages[{i}] (adduser), field version",
    ),
    "apt filename": (
        _within("[[apt.packages]]", ADDUSER, "pool/main/a/adduser/", "pool/main/a/adduser2/"),
        "layer apt, entry apt.packages[{i}] (adduser), field filename",
    ),
    "apt name": (
        _within("[[apt.packages]]", ADDUSER, ADDUSER, 'name = "adduser2"'),
        "layer apt, entry apt.packages[{i}] (adduser2), field name",
    ),
    "apt source index": (
        _within("[[apt.sources.indexes]]", 'path = "main/binary-amd64/Packages.xz"', "size = ", "size = 1"),
        "layer apt, entry apt.sources[0].indexes[0] (main/binary-amd64/Packages.xz), field size",
    ),
    "nvidia sha256": (_within("", "[nvidia]", RUNFILE_SHA, _flip(RUNFILE_SHA)), "layer nvidia, field sha256"),
    "nvidia url": (
        _within("", "[nvidia]", "https://developer.download.nvidia.com/", "https://mirror.example/"),
        "layer nvidia, field url",
    ),
    "nvidia size": (_within("", "[nvidia]", "size = 4454730420", "size = 4454730421"), "layer nvidia, field size"),
    "models file sha256": (
        _within("[[models.files]]", TOKENIZER, 'sha256 = "6c8', 'sha256 = "7c8'),
        "layer models, entry models[0].files[{i}] (tokenizer.json), field sha256",
    ),
    "models commit": (
        _within("[[models]]", 'repo = "Alibaba-NLP/gte-modernbert-base"', 'commit = "e', 'commit = "f'),
        "layer models, entry models[{i}] (Alibaba-NLP/gte-modernbert-base), field commit",
    ),
    "files sha256": (
        _within("[[files]]", EFA, 'sha256 = "2', 'sha256 = "3'),
        "layer files, entry files[{i}] (/opt/efa), field sha256",
    ),
    "files mode": (
        _within("[[files]]", 'dest = "/usr/local/bin/gdrcopy.sh"', 'mode = "0755"', 'mode = "0775"'),
        "layer files, entry files[{i}] (/usr/local/bin/gdrcopy.sh), field mode",
    ),
    "files dest": (
        _within("[[files]]", EFA, 'dest = "/opt/efa"', 'dest = "/opt/efa2"'),
        "layer files, entry files[{i}] (/opt/efa2), field dest",
    ),
    "head cutoff": (
        _within("", "[universe]", 'cutoff = "2025-05-01T00:00:00Z"', 'cutoff = "2025-05-02T00:00:00Z"'),
        "the head, field universe.cutoff",
    ),
}


def _tampered(run_out: str, lock: Path) -> str:
    """The one line of `lock check` that says the lock was tampered with."""
    [line] = [x for x in run_out.splitlines() if "tampered" in x]
    assert line.startswith(f"{lock}: tampered: the lock's content does not match its digest (recorded ")
    assert line.endswith(f"; {INTEGRITY_NOT_ORIGIN}")
    return line


def test_the_fixture_is_fresh(seed: Path, lock_cli) -> None:
    run = lock_cli("check", str(seed / "seed.toml"))
    assert run.code == 0, run.out + run.err
    assert run.out.splitlines()[0].startswith(f"{seed / 'seed.lock'}: fresh (image seed-")


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_edited_field_is_named_by_layer_entry_and_field(seed: Path, lock_cli, case: str) -> None:
    edit, expected = CASES[case]
    lock = seed / "seed.lock"
    text, index = edit(lock.read_text())
    lock.write_text(text)
    before = tree_digest(seed)
    run = lock_cli("check", str(seed / "seed.toml"))
    assert run.code == 1, run.out + run.err
    line = _tampered(run.out, lock)
    assert f": changed: {expected.format(i=index)}; {INTEGRITY_NOT_ORIGIN}" in line, line
    generated = lock_cli("generate", str(lock), "-o", str(seed / "out"))
    assert generated.code == 2
    [refused] = generated.err.splitlines()
    assert f"changed: {expected.format(i=index)}" in refused and refused.endswith("; nothing generated")
    assert tree_digest(seed) == before and not (seed / "out").exists()


def test_two_edits_are_both_named(seed: Path, lock_cli) -> None:
    lock = seed / "seed.lock"
    text, torch = CASES["python wheel.sha256"][0](lock.read_text())
    text, _ = CASES["nvidia size"][0](text)
    lock.write_text(text)
    line = _tampered(lock_cli("check", str(seed / "seed.toml")).out, lock)
    assert f"changed: layer python, entry python.packages[{torch}] (torch), field wheel.sha256; " in line
    assert "; layer nvidia, field size; " in line


def test_an_added_and_a_removed_entry_are_named(seed: Path, lock_cli) -> None:
    lock = seed / "seed.lock"
    text = lock.read_text()
    block = re.search(r"\[\[files\]\]\nurl = \"https://vendor.example/tools/gdrcopy.sh\".*?\n\n", text, re.S)
    assert block
    lock.write_text(text.replace(block.group(0), block.group(0).replace("gdrcopy", "other"), 1))
    run = lock_cli("check", str(seed / "seed.toml"))
    assert "layer files, entry files[1] (/usr/local/bin/other.sh), fields dest, url;" in _tampered(run.out, lock)
    lock.write_text(text.replace(block.group(0), "", 1))
    run = lock_cli("check", str(seed / "seed.toml"))
    assert ": changed: layer files: 1 entry of files removed; " in _tampered(run.out, lock)
    lock.write_text(text.replace(block.group(0), block.group(0) + block.group(0).replace("gdrcopy", "extra"), 1))
    run = lock_cli("check", str(seed / "seed.toml"))
    assert ": changed: layer files, entry files[2] (/usr/local/bin/extra.sh) added; " in _tampered(run.out, lock)


def test_an_edited_digest_line_is_said_with_digests_shown_until_they_differ(seed: Path, lock_cli) -> None:
    lock = seed / "seed.lock"
    text = lock.read_text()
    digest = text.split('digest = "', 1)[1][:64]
    forged = digest[:40] + _flip(digest[40:])  # the same first 40 digits: a 12-digit prefix would not tell them apart
    lock.write_text(text.replace(f'digest = "{digest}"', f'digest = "{forged}"'))
    before = tree_digest(seed)
    run = lock_cli("check", str(seed / "seed.toml"))
    assert run.code == 1
    line = _tampered(run.out, lock)
    assert f"(recorded {forged[:41]}, content {digest[:41]}): the `digest` line itself was edited" in line
    assert tree_digest(seed) == before


def test_a_digest_line_that_is_not_hex_is_shown_quoted(seed: Path, lock_cli) -> None:
    lock = seed / "seed.lock"
    text = lock.read_text()
    digest = text.split('digest = "', 1)[1][:64]
    lock.write_text(text.replace(f'digest = "{digest}"', 'digest = "\\u001b[31mred"'))
    line = _tampered(lock_cli("check", str(seed / "seed.toml")).out, lock)
    assert "(recorded '\\x1b[31mred', content " in line and "\x1b" not in line


def _with_fields(text: str, nvidia: str) -> str:
    """The lock text with the nvidia line of its [field-digests] replaced."""
    content, marker, fields = text.partition(f"[{tamper.FIELDS}]")
    return content + marker + re.sub(r'(?m)^nvidia = "[0-9a-f]*"$', f'nvidia = "{nvidia}"', fields, count=1)


def test_edited_field_digests_are_said_not_to_locate_the_edit(seed: Path, lock_cli) -> None:
    """The tables beside the digest are hints: an editor who rewrites them too is not believed about where."""
    lock = seed / "seed.lock"
    text, _ = CASES["nvidia sha256"][0](lock.read_text())
    lock.write_text(_with_fields(text, "0000"))
    line = _tampered(lock_cli("check", str(seed / "seed.toml")).out, lock)
    assert "changed: layer nvidia, fields " in line  # none of its fields matches the one recorded hash
    lock.write_text(_with_fields(text, "not hex"))
    line = _tampered(lock_cli("check", str(seed / "seed.toml")).out, lock)
    assert "changed: changed in layer nvidia (its field digests do not say where: they were edited too)" in line


def test_a_lock_written_before_field_digests_names_the_layer(seed: Path, lock_cli) -> None:
    lock = seed / "seed.lock"
    text, _ = CASES["apt sha256"][0](lock.read_text())
    lock.write_text(text.partition(f"[{tamper.FIELDS}]")[0])
    line = _tampered(lock_cli("check", str(seed / "seed.toml")).out, lock)
    assert "changed in layer apt (this lock records no field digests to name the entry and field" in line
    lock.write_text(text.partition(f"[{tamper.PARTS}]")[0])
    line = _tampered(lock_cli("check", str(seed / "seed.toml")).out, lock)
    assert "the lock records no per-layer digests to say where (written before they were kept)" in line


def test_lock_update_adds_the_digests_to_a_lock_written_before_them(tmp_path: Path, lock_cli) -> None:
    shutil.copytree(ROOT / "locks", tmp_path / "locks")
    shutil.copytree(ROOT / "snapshots" / "seed", tmp_path / "snapshot")
    lock = tmp_path / "locks" / "seed.lock"
    full = lock.read_text()
    lock.write_text(full.partition(f"[{tamper.FIELDS}]")[0].rstrip("\n") + "\n")
    run = lock_cli("update", str(tmp_path / "locks" / "seed.toml"), "--replay", str(tmp_path / "snapshot"))
    assert run.code == 0, run.err
    assert run.out.startswith(f"wrote {lock}:") and "version 1.0.0" in run.out
    assert lock.read_text() == full
    again = lock_cli("update", str(tmp_path / "locks" / "seed.toml"), "--replay", str(tmp_path / "snapshot"))
    assert again.out.startswith(f"unchanged {lock}:")


def test_field_digests_do_not_change_the_digest_or_the_image(seed: Path) -> None:
    """They sit outside what the digest covers: adding them renamed no image."""
    lock, claimed = domains.read_lock(seed / "seed.lock")
    assert claimed == lock.digest()
    bare = (seed / "seed.lock").read_text().partition(f"[{tamper.PARTS}]")[0]
    assert domains.loads_lock(bare, "bare.lock")[0].digest() == claimed


def test_a_lock_with_every_entry_of_a_huge_list_edited_is_answered_at_once() -> None:
    """Pairing edited entries with recorded ones is bounded: past MAX_PAIRS they are counted, not compared."""
    import time

    entries = [{"name": f"p{i}", "sha256": f"{i:064x}", "size": i} for i in range(3000)]
    written = {"schema": 1, "name": "x", "python": {"packages": entries}}
    recorded = tamper.hints(written, ["python"])
    edited = {**written, "python": {"packages": [{**e, "size": e["size"] + 1} for e in entries]}}
    started = time.monotonic()
    said = tamper.explain(edited, edited, recorded[tamper.PARTS], recorded[tamper.FIELDS], ["python"])
    assert time.monotonic() - started < 5
    assert said == "changed: layer python: 3000 entries of python.packages changed, added or removed"
    one = {**written, "python": {"packages": [*entries[:-1], {**entries[-1], "size": 0}]}}
    said = tamper.explain(one, one, recorded[tamper.PARTS], recorded[tamper.FIELDS], ["python"])
    assert said == "changed: layer python, entry python.packages[2999] (p2999), field size"


@pytest.mark.parametrize(
    ("argv", "refused"),
    [
        (
            ["update", "{seed}/seed.toml", "--replay", "{root}/snapshots/seed", "--only", "python"],
            "nothing was written",
        ),
        (["update", "{seed}/seed.toml", "--learn", "{seed}/measured.json"], "nothing was written"),
        (["mirror", "{seed}/seed.lock", "--to", "{seed}/mirror"], "nothing was mirrored"),
        (["drift", "{seed}/seed.lock", "--facts", "{seed}/facts.json"], "nothing was audited"),
        (["generate", "{seed}/seed.lock", "-o", "{seed}/out"], "nothing generated"),
    ],
)
def test_every_command_that_acts_on_a_lock_refuses_an_edited_one(
    seed: Path, lock_cli, argv: list[str], refused: str
) -> None:
    """`update --only python` keeps the other layers as the lock has them and digests them again: on an edited
    lock it would make the edit look locked. Mirror, drift and generate would act on content nobody locked."""
    lock = seed / "seed.lock"
    text, index = CASES["apt sha256"][0](lock.read_text())
    lock.write_text(text)
    (seed / "measured.json").write_text('{"measured": []}')
    (seed / "facts.json").write_text("{}")
    before = tree_digest(seed)
    run = lock_cli(*[a.format(seed=seed, root=ROOT) for a in argv])
    assert run.code == 2, run.out + run.err
    [line] = run.err.splitlines()
    assert line.startswith(f"lock: error: {lock}: digest: the lock's content does not match its digest (recorded ")
    assert f"changed: layer apt, entry apt.packages[{index}] (adduser), field sha256; " in line
    assert f"(`lock sign` does); {refused}" in line
    assert tree_digest(seed) == before
