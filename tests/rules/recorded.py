"""Layers built from recorded facts, for locks that pass or break one compatibility rule.

Sources of every fact here:
  - runfiles: the CUDA runfile catalog of the NVIDIA domain (file name, driver in
    the name, byte size as NVIDIA publishes it; rwgk/rwgk_config
    bin/ctk_download_installers.sh @6119ce8a). Their sha256 is not published by
    NVIDIA and is not needed by the rules, so these layers carry none.
  - Debian packages: real stanzas of Debian bookworm's signed main/binary-amd64
    index (the apt domain's fixture tests/fixtures/apt/bookworm, recorded and
    gpgv-verified by tools/record_apt_snapshot.py): name, version, pool path, size, SHA256.
  - Qwen/Qwen3-4B-AWQ: the seed's model (shared/seeds/000, section 4). Its
    architecture, Qwen3ForCausalLM, is the one a public copy of Qwen3-4B's
    config.json lists (akougkas/warpio-cli, warpio-docs/ai-docs/model_cards/
    qwen3:4b.md: "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3");
    an AWQ repack adds a quantization_config and keeps the architecture, which
    could not be confirmed on the AWQ repository itself: the Hub cannot be
    reached from the build machines. For the same reason the commit and file
    hashes are not recorded and the model carries no files here.
  - the Python layers are the committed, replay-resolved locks/seed.lock
    (vllm 0.6.6.post1, torch 2.5.1+cu124) and tests/fixtures/locks/seed-qwen3.lock
    (vllm 0.8.4, torch 2.6.0+cu124, resolved from snapshots/seed-qwen3).
"""

from __future__ import annotations

import copy
from pathlib import Path

from imagelock import domains
from imagelock.lock import codec as lockfile
from imagelock.lock.model import AptLayer, AptPackage, KernelLayer, Lock, Model, ModelFile, NvidiaLayer

ROOT = Path(__file__).resolve().parents[2]
SEED_LOCK = ROOT / "locks" / "seed.lock"
SEED_INTENT = ROOT / "locks" / "seed.toml"
QWEN3_LOCK = ROOT / "tests" / "fixtures" / "locks" / "seed-qwen3.lock"
QWEN3_INTENT = ROOT / "tests" / "fixtures" / "intents" / "seed-qwen3.toml"

_CACHE: dict[Path, Lock] = {}


def load(path: Path) -> Lock:
    """A fresh copy of a committed lock (tests may change it freely)."""
    if path not in _CACHE:
        _CACHE[path] = domains.read_lock(path)[0]
    return copy.deepcopy(_CACHE[path])


def runfile(cuda: str, driver: str, size: int) -> NvidiaLayer:
    name = f"cuda_{cuda}_{driver}_linux.run"
    return NvidiaLayer(
        runfile=name,
        url=f"https://developer.download.nvidia.com/compute/cuda/{cuda}/local_installers/{name}",
        sha256="0" * 64,  # stand-ins of the right form: the rules read versions and sizes, never hashes
        md5="0" * 32,
        size=size,
        driver_version=driver,
        cuda_version=cuda,
        install_flags=["--silent", "--driver", "--dkms"],
    )


RUNFILE_12_4_1 = ("12.4.1", "550.54.15", 4454730420)
RUNFILE_12_2_2 = ("12.2.2", "535.104.05", 4344134690)
RUNFILE_12_6_0 = ("12.6.0", "560.28.03", 4333105923)


def deb(
    name: str,
    version: str,
    arch: str,
    filename: str,
    size: int,
    sha256: str,
    requested: bool = False,
    depends_on: list[str] | None = None,
) -> AptPackage:
    return AptPackage(
        name=name,
        version=version,
        arch=arch,
        filename=filename,
        sha256=sha256,
        size=size,
        suite="bookworm",
        requested=requested,
        depends_on=list(depends_on or []),
    )


def bookworm_kernel_debs() -> list[AptPackage]:
    """Debian bookworm's 6.1.0-50-amd64 kernel image and headers, and dkms, as its index lists them."""
    return [
        deb(
            "linux-image-6.1.0-50-amd64",
            "6.1.176-1",
            "amd64",
            "pool/main/l/linux-signed-amd64/linux-image-6.1.0-50-amd64_6.1.176-1_amd64.deb",
            70305560,
            "7b5597492a0a65aee61985a492e6bcc3f2cde830072a0e3b3d8c7e1b90279bd3",
            requested=True,
        ),
        deb(
            "linux-headers-6.1.0-50-amd64",
            "6.1.176-1",
            "amd64",
            "pool/main/l/linux/linux-headers-6.1.0-50-amd64_6.1.176-1_amd64.deb",
            1688232,
            "91a7929ce639f4199e9ff7f929236cdfdcb5511dba613af5094369e95ca241da",
            requested=True,
            depends_on=["linux-headers-6.1.0-50-common"],
        ),
        deb(
            "linux-headers-6.1.0-50-common",
            "6.1.176-1",
            "all",
            "pool/main/l/linux/linux-headers-6.1.0-50-common_6.1.176-1_all.deb",
            10367932,
            "7f6f7bee50efbc36dc02c976be5982b96cf36abe544f03f09368e98cfcc5ac3b",
        ),
        deb(
            "dkms",
            "3.0.10-8+deb12u1",
            "all",
            "pool/main/d/dkms/dkms_3.0.10-8+deb12u1_all.deb",
            48716,
            "12da620048a926afa72f1f46f3477fb9ad3d2a6b3446da56cc43fe1a413b6944",
            requested=True,
        ),
        deb(
            "build-essential",
            "12.9",
            "amd64",
            "pool/main/b/build-essential/build-essential_12.9_amd64.deb",
            7704,
            "bbfd38de41898a06326f2a6ce4cc43e8e399f5566381231065b01d70499d5ba5",
            requested=True,
        ),
    ]


def apt_layer(packages: list[AptPackage]) -> AptLayer:
    return AptLayer(archive="https://archive.example.invalid/debian", keyring_sha256="0" * 64, packages=packages)


def bookworm_kernel(abi: str = "6.1.0-50") -> KernelLayer:
    release = f"{abi}-amd64"
    return KernelLayer(
        version=release, flavour="amd64", abi=abi, packages=[f"linux-image-{release}", f"linux-headers-{release}"]
    )


def qwen3_model() -> Model:
    """Qwen3-4B-AWQ with its weights (the LFS sha256 and size of snapshots/seed/hf) and config.json's architecture."""
    weights = ModelFile(
        "model.safetensors", "a7043493ebd993f5fea18794ad7b5b3e064a52023f392a7fcce7ce0984c341f0", 2666027672, lfs=True
    )
    return Model(
        repo="Qwen/Qwen3-4B-AWQ",
        revision="main",
        commit="",
        dest="/workspace/models/qwen/Qwen3-4B-AWQ",
        files=[weights],
        architectures=["Qwen3ForCausalLM"],
    )


def write_lock(path: Path, lock: Lock) -> Path:
    """Write a lock as `lock update` would (deterministic TOML, digest of its content)."""
    path.write_text(lockfile.dumps(lock), encoding="utf-8")
    return path


def python_intent(path: Path = SEED_INTENT) -> str:
    """An intent's universe and Python layer (up to its apt layer): what the compatibility tests build on."""
    return path.read_text(encoding="utf-8").split("\n# The seed's apt layer", 1)[0]


def seed_intent_with(tmp: Path, extra: str, name: str = "seed.toml") -> Path:
    """The seed's Python layer with other tables appended (a models, nvidia or base section)."""
    path = tmp / name
    path.write_text(python_intent() + "\n" + extra, encoding="utf-8")
    return path


QWEN3_MODELS = """\
[[models]]
repo = "Qwen/Qwen3-4B-AWQ"
revision = "main"
files = ["model.safetensors", "config.json", "tokenizer.json", "README.md"]
dest = "/workspace/models/qwen/Qwen3-4B-AWQ"
"""

# The two newest "Deep Learning Base AMI with Single CUDA (Amazon Linux 2023)" images
# listed in shared/seeds/004 (us-east-1), as describe-images printed them there.
DLAMI_20251216 = (
    "ami-09f5f5e0999e6246c",
    "Deep Learning Base AMI with Single CUDA (Amazon Linux 2023) 20251216",
    "2025-12-16T17:53:30.000Z",
)
DLAMI_20251219 = (
    "ami-01a45bc7e19f2bb26",
    "Deep Learning Base AMI with Single CUDA (Amazon Linux 2023) 20251219",
    "2025-12-19T16:34:04.000Z",
)
