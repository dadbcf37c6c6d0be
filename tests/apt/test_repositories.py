"""Several apt repositories in one image: the main archive and a flat repository with its own key.

Both are real signed repositories built from .debs by dpkg-deb, apt-ftparchive and gpg, served on
loopback. The flat one is laid out as NVIDIA's CUDA repository is (InRelease and Packages at its
root, `deb URL ./`) and holds `libshared`, which the archive has too: where it comes from is the
intent's to say ([apt.assign]), never imagelock's to guess.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import lzma
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from imagelock import domains
from imagelock.domains.apt import pins
from imagelock.hashing import sha256_file
from tests.apt import realapt
from tests.apt.aptrepo import Deb, Key, RepoServer, build_deb, build_repo, make_key, run, sign
from tests.apt.helpers import lock_update

ARCHIVE = {
    "stable": [
        Deb("tool", "1.0", fields={"Depends": "libshared (>= 1.0), base-only"}),
        Deb("libshared", "1.0"),
        Deb("base-only", "1.0"),
    ]
}
FLAT = [
    Deb("libshared", "2.0"),
    Deb("flat-tool", "1.0", fields={"Depends": "libshared (>= 2.0), base-only, flat-only"}),
    Deb("flat-only", "1.0"),
    Deb("flat-arm", "1.0", arch="arm64"),  # a flat index lists every architecture: this one is not ours
]


def build_flat(root: Path, debs: list[Deb], key: Key) -> Path:
    """root/{InRelease,Release,Packages{,.gz,.xz},*.deb}: a flat repository, as NVIDIA's CUDA one is laid out."""
    work = root.parent / f"{root.name}-build"
    for deb in debs:
        build_deb(dataclasses.replace(deb, fields=dict(deb.fields)), root, work)
    text = run(["apt-ftparchive", "packages", "."], cwd=root).stdout
    (root / "Packages").write_bytes(text)
    (root / "Packages.gz").write_bytes(gzip.compress(text, mtime=0))
    (root / "Packages.xz").write_bytes(lzma.compress(text))
    options = ["-o", "APT::FTPArchive::Release::Origin=Flat", "-o", "APT::FTPArchive::Release::Label=Flat CUDA"]
    (root / "Release").write_bytes(run(["apt-ftparchive", *options, "release", "."], cwd=root).stdout)
    sign(root, key)
    return root


@pytest.fixture(scope="session")
def flat_key(tmp_path_factory: pytest.TempPathFactory) -> Key:
    return make_key(tmp_path_factory.mktemp("gnupg-flat"), "flat repository <flat@invalid>")


@pytest.fixture(scope="session")
def pristine_pair(tmp_path_factory: pytest.TempPathFactory, archive_key: Key, flat_key: Key) -> tuple[Path, Path]:
    top = tmp_path_factory.mktemp("pair")
    return build_repo(top / "archive", ARCHIVE, archive_key), build_flat(top / "flat", FLAT, flat_key)


@dataclasses.dataclass
class Pair:
    archive: RepoServer
    flat: RepoServer
    archive_key: Key
    flat_key: Key
    folder: Path

    def intent(self, packages: list[str], assign: dict[str, str] | None = None, **flat: Any) -> Path:
        repository: dict[str, Any] = {"url": self.flat.url, "suites": ["./"], "keyring": str(self.flat_key.keyring)}
        repository.update(flat)
        apt: dict[str, Any] = {
            "archive": self.archive.url,
            "suites": ["stable"],
            "keyring": str(self.archive_key.keyring),
            "packages": packages,
            "repositories": {"flat": {k: v for k, v in repository.items() if v is not None}},
        }
        if assign is not None:
            apt["assign"] = assign
        path = self.folder / "image.toml"
        path.write_text(tomli_w.dumps({"name": "test", "universe": {"cutoff": "2024-04-15T00:00:00Z"}, "apt": apt}))
        return path


@pytest.fixture()
def pair(tmp_path: Path, pristine_pair: tuple[Path, Path], archive_key: Key, flat_key: Key) -> Iterator[Pair]:
    archive, flat = tmp_path / "archive", tmp_path / "flat"
    shutil.copytree(pristine_pair[0], archive)
    shutil.copytree(pristine_pair[1], flat)
    folder = tmp_path / "intent"
    folder.mkdir()
    with RepoServer(archive) as archive_server, RepoServer(flat) as flat_server:
        yield Pair(archive_server, flat_server, archive_key, flat_key, folder)


def _packages(intent: Path) -> dict[str, dict[str, Any]]:
    table = tomllib.loads(intent.with_suffix(".lock").read_text())
    return {p["name"]: p for p in table["apt"]["packages"]}


def _refused(intent: Path, code: int, err: str, *needles: str) -> str:
    """One line naming the file, exit 2, and no lock written."""
    assert code == 2, err
    line = err.strip()
    assert "\n" not in line, err
    assert str(intent) in line, line
    for needle in needles:
        assert needle in line, line
    assert not intent.with_suffix(".lock").exists()
    return line


# --- (a) an assigned name comes from its repository, and the build configures the repository ----------


def test_assigned_package_is_locked_from_the_flat_repository(pair: Pair, capsys) -> None:  # type: ignore[no-untyped-def]
    intent = pair.intent(["tool", "flat-tool"], {"libshared": "flat"}, priority=600)
    code, _, err = lock_update(intent, capsys)
    assert code == 0, err
    packages = _packages(intent)
    assert {(n, p["version"], p.get("repository")) for n, p in packages.items()} == {
        ("tool", "1.0", None),
        ("base-only", "1.0", None),
        ("libshared", "2.0", "flat"),  # the archive has 1.0 too: the intent assigned it to flat
        ("flat-tool", "1.0", "flat"),
        ("flat-only", "1.0", "flat"),
    }
    assert packages["libshared"]["filename"] == "./libshared_2.0_amd64.deb"
    lock = tomllib.loads(intent.with_suffix(".lock").read_text())
    (repository,) = lock["apt"]["repositories"]
    assert repository["name"] == "flat"
    assert repository["url"] == pair.flat.url
    assert repository["priority"] == 600
    assert repository["assigned"] == ["libshared"]
    assert repository["keyring-sha256"] == sha256_file(pair.flat_key.keyring)
    assert base64.b64decode(repository["keyring"]) == pair.flat_key.keyring.read_bytes()
    # With repositories the lock carries the main archive's keyring too: the build installs it beside theirs.
    assert lock["apt"]["keyring-sha256"] == sha256_file(pair.archive_key.keyring)
    assert base64.b64decode(lock["apt"]["keyring"]) == pair.archive_key.keyring.read_bytes()
    (source,) = repository["sources"]
    assert source["suite"] == "./"
    assert source["inrelease-sha256"] == sha256_file(Path(pair.flat.root) / "InRelease")
    assert source["date"].endswith("Z")
    assert (source["origin"], source["label"]) == ("Flat", "Flat CUDA")
    assert [i["path"] for i in source["indexes"]] == ["Packages.xz"]
    # The lock reads back through the one validator and passes `lock check` against its intent.
    from imagelock import cli

    assert cli.main(["check", str(intent)]) == 0, capsys.readouterr()
    checked = capsys.readouterr().out
    assert f"apt repository flat {pair.flat.url}: read live" in checked  # no snapshot: `lock check` says so
    assert "3 locked packages come from it" in checked
    # Each .deb's URL is under the repository that serves it (a flat pool path is relative to its root).
    urls = {a.name: a.urls[0] for a in _artifacts(intent)}
    assert urls["libshared_2.0_amd64.deb"] == f"{pair.flat.url}/libshared_2.0_amd64.deb"
    assert urls["tool_1.0_amd64.deb"] == f"{pair.archive.url}/pool/stable/tool_1.0_amd64.deb"


def _artifacts(intent: Path) -> list[Any]:
    from imagelock.domains import apt as apt_domain

    lock, _ = domains.read_lock(intent.with_suffix(".lock"))
    assert lock.apt is not None
    return list(apt_domain.artifacts(lock.apt))


def generate(intent: Path, out: Path, capsys) -> str:  # type: ignore[no-untyped-def]
    """`lock generate` of the intent's lock; the bootstrap.sh it wrote, shellcheck-clean."""
    from imagelock import cli

    assert cli.main(["generate", str(intent.with_suffix(".lock")), "-o", str(out)]) == 0, capsys.readouterr()
    lint = subprocess.run(
        ["shellcheck", "--severity=style", "--shell=bash", str(out / "bootstrap.sh")], capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout
    return (out / "bootstrap.sh").read_text()


def run_step(script: str, root: Path, stage: Path) -> subprocess.CompletedProcess[str]:
    """Run the generated step_apt_repositories, by bash from the generated data, with /etc/apt moved to
    root/etc/apt; its stdout lists what it reports it changed, its stderr is its log."""
    harness = script.replace("/etc/apt/", f"{root}/etc/apt/").replace("/var/cache/imagelock", str(stage))
    harness = harness.split("\ncheck_lock_file\n", 1)[0] + '\nstep_apt_repositories\nprintf "%s\\n" "${CHANGED[@]}"\n'
    return subprocess.run(["bash", "-c", harness, "bootstrap"], capture_output=True, text=True)


def configure(script: str, root: Path, stage: Path) -> list[str]:
    """run_step, which must succeed; what it reports it changed."""
    ran = run_step(script, root, stage)
    assert ran.returncode == 0, ran.stderr
    return ran.stdout.split()


def image_apt(pair: Pair, root: Path, request: list[str], *, list_archive: bool) -> set[tuple[str, str, str]]:
    """apt-get on the configured image: what the build wrote, plus (`list_archive`) the archive as the base image
    lists it in sources.list."""
    env = realapt.setup(
        root, pair.archive.url, pair.archive_key.keyring, ["stable"], ["main"], list_archive=list_archive
    )
    code, installs, output = realapt.simulate(env, request)
    assert code == 0, output
    return installs


def test_generated_bootstrap_configures_the_repository(pair: Pair, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A base image that lists no source for the archive: the build installs both keyrings and writes both
    sources, and the image's apt reads the archive through the one it wrote."""
    intent = pair.intent(["tool", "flat-tool"], {"libshared": "flat"})
    code, _, err = lock_update(intent, capsys)
    assert code == 0, err
    script = generate(intent, tmp_path / "out", capsys)
    keyring = base64.b64encode(pair.flat_key.keyring.read_bytes()).decode()
    row = f"  flat gpg {sha256_file(pair.flat_key.keyring)} {keyring} {pair.flat.url} ./ '' amd64\n"
    assert "\nreadonly -a APT_REPOS=(\n" + row + ")\n" in script
    archive_keyring = base64.b64encode(pair.archive_key.keyring.read_bytes()).decode()
    archive_row = (
        f"  gpg {sha256_file(pair.archive_key.keyring)} {archive_keyring} {pair.archive.url} stable main amd64\n"
    )
    assert "\nreadonly -a APT_ARCHIVE=(\n" + archive_row + ")\n" in script
    assert "  '*' 'release o=Flat,l=Flat CUDA' 500\n" in script  # the repository's own priority
    assert "  libshared 'release o=Flat,l=Flat CUDA' 990\n" in script  # the assignment, above it
    assert "\nstep_apt_repositories\n" in script
    root = tmp_path / "root"
    assert configure(script, root, tmp_path / "stage") == ["apt-repositories"]
    installed = root / "etc/apt/keyrings/imagelock-flat.gpg"
    assert installed.read_bytes() == pair.flat_key.keyring.read_bytes()
    assert sha256_file(installed) == sha256_file(pair.flat_key.keyring)
    assert (root / "etc/apt/sources.list.d/imagelock-flat.sources").read_text() == (
        f"Types: deb\nURIs: {pair.flat.url}\nSuites: ./\nArchitectures: amd64\nSigned-By: {installed}\n"
    )
    archive_installed = root / "etc/apt/keyrings/imagelock-archive.gpg"
    assert archive_installed.read_bytes() == pair.archive_key.keyring.read_bytes()
    assert sha256_file(archive_installed) == sha256_file(pair.archive_key.keyring)
    assert (root / "etc/apt/sources.list.d/imagelock-archive.sources").read_text() == (
        f"Types: deb\nURIs: {pair.archive.url}\nSuites: stable\nComponents: main\nArchitectures: amd64\n"
        f"Signed-By: {archive_installed}\n"
    )
    assert sorted(p.name for p in (root / "etc/apt/keyrings").iterdir()) == [
        "imagelock-archive.gpg",
        "imagelock-flat.gpg",
    ]
    assert (root / "etc/apt/preferences.d/imagelock").read_text() == (
        "Package: *\nPin: release o=Flat,l=Flat CUDA\nPin-Priority: 500\n\n"
        "Package: libshared\nPin: release o=Flat,l=Flat CUDA\nPin-Priority: 990\n\n"
    )
    assert configure(script, root, tmp_path / "stage") == []  # nothing to change the second time
    # The image's own apt reads what was written (both .sources, each with its Signed-By keyring, and the
    # preferences; no sources.list names the archive) and would install what the lock holds.
    ours = {(n, p["version"], p["arch"]) for n, p in _packages(intent).items()}
    assert image_apt(pair, root, ["tool", "flat-tool"], list_archive=False) == ours


@pytest.mark.parametrize(
    ("listing", "text"),
    [
        ("sources.list", "deb [arch=amd64 signed-by={keyring}] {url}/ stable main\n"),
        (
            "sources.list.d/ubuntu.sources",
            "Types: deb\nURIs: {url}/\nSuites: stable\nComponents: main\nSigned-By: {keyring}\n",
        ),
    ],
    ids=["sources.list", "deb822"],
)
def test_an_archive_the_base_image_lists_keeps_its_own_entry(  # type: ignore[no-untyped-def]
    pair: Pair, capsys, tmp_path: Path, listing: str, text: str
) -> None:
    """A stock image lists the archive already (Ubuntu's sources.list, noble's ubuntu.sources): the build installs
    the archive's keyring but writes no second source for it, which apt would refuse (two Signed-By), and says so."""
    intent = pair.intent(["tool", "flat-tool"], {"libshared": "flat"})
    code, _, err = lock_update(intent, capsys)
    assert code == 0, err
    script = generate(intent, tmp_path / "out", capsys)
    root = tmp_path / "root"
    listed = root / "etc/apt" / listing
    listed.parent.mkdir(parents=True)
    listed.write_text(
        "# deb http://elsewhere.invalid/ubuntu stable main\n"
        + text.format(url=pair.archive.url, keyring=pair.archive_key.keyring)
    )
    for attempt in range(2):  # the second run changes nothing and says the same
        ran = run_step(script, root, tmp_path / "stage")
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.split() == (["apt-repositories"] if attempt == 0 else [])
        (line,) = [x for x in ran.stderr.splitlines() if "the base image's own source entry is kept" in x]
        assert f"the archive {pair.archive.url} is listed in {listed}" in line
        assert "Signed-By" in line and "refuse every command" in line  # why
    assert (root / "etc/apt/keyrings/imagelock-archive.gpg").read_bytes() == pair.archive_key.keyring.read_bytes()
    assert not (root / "etc/apt/sources.list.d/imagelock-archive.sources").exists()
    assert (root / "etc/apt/sources.list.d/imagelock-flat.sources").exists()
    # The image's apt reads the archive through the base image's entry, beside the repository the build wrote.
    ours = {(n, p["version"], p["arch"]) for n, p in _packages(intent).items()}
    assert image_apt(pair, root, ["tool", "flat-tool"], list_archive=listing == "sources.list") == ours


# noble's cloud images list the archive in deb822 (/etc/apt/sources.list.d/ubuntu.sources): several URIs and
# suites per stanza, comment lines inside a stanza, and `Enabled: no` for a stanza apt does not read.
NOBLE_SECURITY = (
    "Types: deb\nURIs: http://security.ubuntu.invalid/ubuntu/\nSuites: noble-security\n"
    "Components: main restricted universe multiverse\nSigned-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg\n"
)


@pytest.mark.parametrize(
    ("text", "listed"),
    [
        (  # noble's own shape: the archive among several URIs, beside the security stanza
            "## Ubuntu distribution repository\n#\nTypes: deb\nURIs: http://mirror.invalid/ubuntu/ {url}/\n"
            "Suites: noble noble-updates noble-backports\nComponents: main restricted universe multiverse\n"
            "Signed-By: {keyring}\n\n" + NOBLE_SECURITY,
            True,
        ),
        ("Types: deb\nURIs: http://mirror.invalid/ubuntu/\n {url}\nSuites: stable\n", True),  # a continued field
        ("Types: deb\nuris: {url}\nSuites: stable\nEnabled: yes\n", True),  # field names are case-blind
        ("Types: deb\nURIs: {url}/\n# kept for later\nSuites: stable\nEnabled: no\n", False),  # disabled
        ("Types: deb\nURIs: {url}\nSuites: stable\nEnabled: False\n\n" + NOBLE_SECURITY, False),
        ("Enabled: no\nTypes: deb\nURIs: {url}\nSuites: stable\n\nTypes: deb\nURIs: {url}/\nSuites: stable", True),
        ("Types: deb\nURIs: {url}.old\nSuites: stable\n# URIs: {url}\n", False),  # another URL; a comment
    ],
    ids=["noble", "continued", "case", "disabled", "disabled-false", "disabled-then-enabled", "other-url"],
)
def test_deb822_listings_count_only_stanzas_apt_reads(  # type: ignore[no-untyped-def]
    pair: Pair, capsys, tmp_path: Path, text: str, listed: bool
) -> None:
    """ubuntu.sources lists the archive only in a stanza apt reads: else the build writes its own source."""
    intent = pair.intent(["tool", "flat-tool"], {"libshared": "flat"})
    assert lock_update(intent, capsys)[0] == 0
    script = generate(intent, tmp_path / "out", capsys)
    root = tmp_path / "root"
    sources = root / "etc/apt/sources.list.d/ubuntu.sources"
    sources.parent.mkdir(parents=True)
    sources.write_text(text.format(url=pair.archive.url, keyring=pair.archive_key.keyring))
    ran = run_step(script, root, tmp_path / "stage")
    assert ran.returncode == 0, ran.stderr
    kept = [x for x in ran.stderr.splitlines() if "the base image's own source entry is kept" in x]
    own = root / "etc/apt/sources.list.d/imagelock-archive.sources"
    if listed:
        assert len(kept) == 1 and f"is listed in {sources}" in kept[0]
        assert not own.exists()
    else:
        assert kept == []
        assert f"URIs: {pair.archive.url}\n" in own.read_text()


def test_a_commented_archive_line_is_not_a_listing(pair: Pair, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    intent = pair.intent(["tool", "flat-tool"], {"libshared": "flat"})
    assert lock_update(intent, capsys)[0] == 0
    script = generate(intent, tmp_path / "out", capsys)
    root = tmp_path / "root"
    (root / "etc/apt").mkdir(parents=True)
    (root / "etc/apt/sources.list").write_text(f"# deb {pair.archive.url} stable main\n")
    assert configure(script, root, tmp_path / "stage") == ["apt-repositories"]
    assert (root / "etc/apt/sources.list.d/imagelock-archive.sources").exists()


def test_a_tampered_archive_keyring_is_refused(pair: Pair, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Another key in place of the archive's: `lock generate` refuses the lock (one line, exit 2), and a build
    whose data was edited stops before installing it, naming it."""
    intent = pair.intent(["tool", "flat-tool"], {"libshared": "flat"})
    assert lock_update(intent, capsys)[0] == 0
    script = generate(intent, tmp_path / "out", capsys)
    archive_keyring = base64.b64encode(pair.archive_key.keyring.read_bytes()).decode()
    other = base64.b64encode(pair.flat_key.keyring.read_bytes()).decode()
    lock = intent.with_suffix(".lock")
    lock.write_text(lock.read_text().replace(f'keyring = "{archive_keyring}"', f'keyring = "{other}"'))
    from imagelock import cli

    code = cli.main(["generate", str(lock), "-o", str(tmp_path / "refused")])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "\n" not in err and str(lock) in err
    assert "apt.keyring" in err and "keyring-sha256" in err
    assert not (tmp_path / "refused").exists()
    root = tmp_path / "root"
    ran = run_step(script.replace(f" {archive_keyring} ", f" {other} "), root, tmp_path / "stage")
    assert ran.returncode != 0
    assert f"FAILED: apt: the keyring of the archive {pair.archive.url} is not the locked one" in ran.stderr
    assert not (root / "etc/apt/keyrings/imagelock-archive.gpg").exists()
    assert not (root / "etc/apt/sources.list.d/imagelock-archive.sources").exists()


def test_image_apt_follows_an_assignment_to_the_archive(pair: Pair, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The archive's older libshared over flat's newer one: only the written preferences make apt agree."""
    intent = pair.intent(["tool", "flat-only"], {"libshared": "archive"})
    code, _, err = lock_update(intent, capsys)
    assert code == 0, err
    assert _packages(intent)["libshared"]["version"] == "1.0"
    script = generate(intent, tmp_path / "out", capsys)
    assert "  libshared 'release a=stable,n=stable' 990\n" in script
    root = tmp_path / "root"
    assert configure(script, root, tmp_path / "stage") == ["apt-repositories"]
    ours = {(n, p["version"], p["arch"]) for n, p in _packages(intent).items()}
    assert image_apt(pair, root, ["tool", "flat-only"], list_archive=False) == ours
    (root / "etc/apt/preferences.d/imagelock").unlink()  # control: without them apt takes flat's 2.0
    assert ("libshared", "2.0", "amd64") in image_apt(
        pair, tmp_path / "root", ["tool", "flat-only"], list_archive=False
    )


# --- (b) a name two repositories offer, unassigned, is refused -------------------------------------------


@pytest.mark.parametrize(
    ("packages", "key"), [(["tool"], "apt.assign"), (["libshared"], "apt.packages[0]")], ids=["dependency", "request"]
)
def test_unassigned_name_in_two_repositories_is_refused(pair: Pair, capsys, packages: list[str], key: str) -> None:  # type: ignore[no-untyped-def]
    intent = pair.intent(packages)
    before = sorted(p.name for p in pair.folder.iterdir())
    code, out, err = lock_update(intent, capsys)
    line = _refused(intent, code, err, f"{key}:", "'libshared'", f"'archive' ({pair.archive.url})")
    assert f"'flat' ({pair.flat.url})" in line
    assert out == ""
    assert sorted(p.name for p in pair.folder.iterdir()) == before


# --- (c) a flat repository signed by another key is refused -----------------------------------------------


def test_flat_repository_with_a_bad_key_is_refused(pair: Pair, capsys, other_key: Key) -> None:  # type: ignore[no-untyped-def]
    intent = pair.intent(["tool"], {"libshared": "flat"}, keyring=str(other_key.keyring))
    code, _, err = lock_update(intent, capsys)
    assert code == 2, err
    assert f"{pair.flat.url}/InRelease" in err
    assert not intent.with_suffix(".lock").exists()


def test_flat_repository_with_an_altered_index_is_refused(pair: Pair, capsys) -> None:  # type: ignore[no-untyped-def]
    packages = Path(pair.flat.root) / "Packages.xz"
    packages.write_bytes(packages.read_bytes() + b"\0")
    intent = pair.intent(["tool"], {"libshared": "flat"})
    code, _, err = lock_update(intent, capsys)
    assert code == 2, err
    assert f"{pair.flat.url}/Packages.xz" in err and "signed Release" in err
    assert not intent.with_suffix(".lock").exists()


# --- bad input: one line naming the file and key, exit 2, nothing written ---------------------------------


@pytest.mark.parametrize(
    ("flat", "assign", "key", "needle"),
    [
        ({"mirror": "x"}, None, "apt.repositories.flat.mirror", "unknown key"),
        ({"components": ["main"]}, None, "apt.repositories.flat.components", "flat repository"),
        ({"keyring": None}, None, "apt.repositories.flat.keyring", "missing"),
        ({"keyring": "nowhere.gpg"}, None, "apt.repositories.flat.keyring", "no such keyring file"),
        ({"priority": 1000}, None, "apt.repositories.flat.priority", "from 1 to 989"),
        ({"suites": ["./", "stable"]}, None, "apt.repositories.flat.suites", "one suite"),
        ({}, {"tool": "flat"}, "apt.assign.tool", "repository 'flat' does not offer 'tool'; 'archive' does"),
        ({}, {"libshared": "cuda"}, "apt.assign.libshared", "unknown repository 'cuda'"),
        ({}, {"python3": {"11": "flat"}}, "apt.assign.python3", "must be quoted"),
    ],
    ids=[
        "unknown-key",
        "flat-with-components",
        "missing-keyring",
        "absent-keyring",
        "priority",
        "flat-and-suite",
        "not-served",
        "unknown-repository",
        "dotted-name",
    ],
)
def test_bad_repository_input_is_one_line(  # type: ignore[no-untyped-def]
    pair: Pair, capsys, flat: dict[str, Any], assign: dict[str, Any] | None, key: str, needle: str
) -> None:
    intent = pair.intent(["tool"], assign if assign is not None else {"libshared": "flat"}, **flat)
    code, _, err = lock_update(intent, capsys)
    _refused(intent, code, err, f"{key}:", needle)


def test_repository_named_archive_is_refused(pair: Pair, capsys) -> None:  # type: ignore[no-untyped-def]
    intent = pair.intent(["tool"], {"libshared": "flat"})
    intent.write_text(intent.read_text().replace("[apt.repositories.flat]", "[apt.repositories.archive]"))
    code, _, err = lock_update(intent, capsys)
    _refused(intent, code, err, "apt.repositories.archive:", "not 'archive'")


def test_lock_edit_of_a_repository_is_named(pair: Pair, capsys) -> None:  # type: ignore[no-untyped-def]
    """The field digests cover the new tables: an edited repository URL is named by `lock check`."""
    intent = pair.intent(["tool"], {"libshared": "flat"})
    code, _, err = lock_update(intent, capsys)
    assert code == 0, err
    lock = intent.with_suffix(".lock")
    lock.write_text(lock.read_text().replace(f'url = "{pair.flat.url}"', 'url = "http://127.0.0.1:1/evil"'))
    from imagelock import cli

    code = cli.main(["check", str(intent)])
    captured = capsys.readouterr()
    assert code != 0
    assert "apt.repositories" in captured.out + captured.err


def test_lock_with_a_bad_keyring_value_is_refused(pair: Pair, capsys) -> None:  # type: ignore[no-untyped-def]
    intent = pair.intent(["tool"], {"libshared": "flat"})
    code, _, err = lock_update(intent, capsys)
    assert code == 0, err
    lock = intent.with_suffix(".lock")
    text = lock.read_text()
    keyring = tomllib.loads(text)["apt"]["repositories"][0]["keyring"]
    lock.write_text(text.replace(keyring, "$(reboot)"))
    from imagelock import cli

    code = cli.main(["generate", str(lock), "-o", str(pair.folder / "out")])
    line = capsys.readouterr().err.strip()
    assert code == 2
    assert "apt.repositories[0].keyring" in line and "base64" in line
    assert not (pair.folder / "out").exists()


# --- the oracle: apt-get over the same two repositories, with the preferences the build writes -----------


def preferences(intent: Path) -> str:
    """The apt preferences the generated build writes for this lock (the same rows, the same format)."""
    lock, _ = domains.read_lock(intent.with_suffix(".lock"))
    assert lock.apt is not None
    return "".join(f"Package: {p}\nPin: {pin}\nPin-Priority: {n}\n\n" for p, pin, n in pins.pins(lock.apt))


CASES = [
    (["tool", "flat-tool"], {"libshared": "flat"}, {}),
    (["tool", "flat-only"], {"libshared": "archive"}, {}),  # the archive's older version, over flat's newer
    (["tool", "flat-tool"], {"libshared": "flat"}, {"priority": 100}),
]


def agree(pair: Pair, capsys, tmp_path: Path, runner: Path | None) -> None:  # type: ignore[no-untyped-def]
    for i, (request, assign, flat) in enumerate(CASES):
        intent = pair.intent(request, assign, **flat)
        code, _, err = lock_update(intent, capsys)
        assert code == 0, err
        ours = {(n, p["version"], p["arch"]) for n, p in _packages(intent).items()}
        env = realapt.setup(
            tmp_path / f"apt-{i}",
            pair.archive.url,
            pair.archive_key.keyring,
            ["stable"],
            ["main"],
            runner=runner,
            extra_sources=f"deb [arch=amd64 signed-by={pair.flat_key.keyring}] {pair.flat.url} ./\n",
            preferences=preferences(intent),
        )
        apt_code, theirs, output = realapt.simulate(env, request)
        assert apt_code == 0, output
        assert ours == theirs, (request, assign, output)
        intent.with_suffix(".lock").unlink()


def test_machine_apt_agrees_over_two_repositories(pair: Pair, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    agree(pair, capsys, tmp_path, None)


def test_apt_without_the_preference_would_take_the_newer(pair: Pair, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Control: the preferences are what makes apt take the archive's libshared, so the oracle can disagree."""
    env = realapt.setup(
        tmp_path / "apt",
        pair.archive.url,
        pair.archive_key.keyring,
        ["stable"],
        ["main"],
        extra_sources=f"deb [arch=amd64 signed-by={pair.flat_key.keyring}] {pair.flat.url} ./\n",
    )
    _, theirs, output = realapt.simulate(env, ["tool"])
    assert ("libshared", "2.0", "amd64") in theirs, output


@pytest.mark.live
def test_jammy_apt_agrees_over_two_repositories(pair: Pair, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.apt import jammy

    agree(pair, capsys, tmp_path, jammy.jammy_runner())


def test_second_update_reads_the_lock_back_and_changes_nothing(pair: Pair, capsys) -> None:  # type: ignore[no-untyped-def]
    intent = pair.intent(["tool", "flat-tool"], {"libshared": "flat"})
    assert lock_update(intent, capsys)[0] == 0
    first = intent.with_suffix(".lock").read_bytes()
    code, out, err = lock_update(intent, capsys, "--only", "apt")
    assert code == 0, err
    assert intent.with_suffix(".lock").read_bytes() == first, out


def test_a_repository_laid_out_as_an_archive(pair: Pair, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A repository with dists/ and components (a PPA, Docker's): its suites and components reach the image."""
    extra = build_repo(
        tmp_path / "extra", {"extra": [Deb("extra-tool", "1.0", fields={"Depends": "base-only"})]}, pair.flat_key
    )
    with RepoServer(extra) as server:
        intent = pair.intent(["extra-tool"], {"libshared": "flat"})
        table = tomllib.loads(intent.read_text())
        table["apt"]["repositories"]["extra"] = {
            "url": server.url,
            "suites": ["extra"],
            "components": ["main"],
            "keyring": str(pair.flat_key.keyring),
        }
        intent.write_text(tomli_w.dumps(table))
        code, _, err = lock_update(intent, capsys)
        assert code == 0, err
        packages = _packages(intent)
        assert {(n, p.get("repository")) for n, p in packages.items()} == {("extra-tool", "extra"), ("base-only", None)}
        urls = {a.name: a.urls for a in _artifacts(intent)}
        assert urls["extra-tool_1.0_amd64.deb"] == (f"{server.url}/pool/extra/extra-tool_1.0_amd64.deb",)
        script = generate(intent, tmp_path / "out", capsys)
        root = tmp_path / "root"
        assert configure(script, root, tmp_path / "stage") == ["apt-repositories"]
        assert (root / "etc/apt/sources.list.d/imagelock-extra.sources").read_text() == (
            f"Types: deb\nURIs: {server.url}\nSuites: extra\nComponents: main\nArchitectures: amd64\n"
            f"Signed-By: {root}/etc/apt/keyrings/imagelock-extra.gpg\n"
        )
        assert (
            "Pin: release a=extra,n=extra\nPin-Priority: 500\n"
            in (root / "etc/apt/preferences.d/imagelock").read_text()
        )
        ours = {(n, p["version"], p["arch"]) for n, p in packages.items()}
        assert image_apt(pair, root, ["extra-tool"], list_archive=False) == ours
