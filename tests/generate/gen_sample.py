"""A lock with every layer, built from the lock model's dataclasses (values shaped like the seed's)."""

from __future__ import annotations

import base64
import hashlib

from imagelock.lock.model import (
    AptLayer,
    AptPackage,
    AptRepository,
    AptSource,
    BaseAmi,
    BaseLayer,
    KernelLayer,
    Lock,
    Mirror,
    Model,
    ModelFile,
    NvidiaLayer,
    PythonIndex,
    PythonLayer,
    PythonPackage,
    Universe,
    Wheel,
)

H = "0123456789abcdef" * 4  # a well-formed sha256


def _sha(n: int) -> str:
    return f"{n:064x}"


# Keyrings the lock carries as base64, each with the sha256 of its bytes (the validator and the build check it).
ARCHIVE_KEYRING = b"ubuntu archive keyring (not a key)"
CUDA_KEYRING = b"mdo not trust this key"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _sha_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def full_lock() -> Lock:
    python = PythonLayer(
        version="3.11",
        platform="x86_64-manylinux_2_35",
        venv="/opt/venvs/ai",
        engine="uv",
        indexes=[
            PythonIndex("pypi", "", [], True),
            PythonIndex("pytorch-cu124", "https://download.pytorch.org/whl/cu124", ["torch"], False),
        ],
        packages=[
            PythonPackage(
                "torch",
                "2.5.1+cu124",
                "pytorch-cu124",
                True,
                Wheel(
                    "torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl",
                    "https://download.pytorch.org/whl/cu124/torch-2.5.1%2Bcu124-cp311-cp311-linux_x86_64.whl",
                    _sha(1),
                ),
                dependencies=["filelock"],
            ),
            PythonPackage(
                "filelock",
                "3.18.0",
                "pypi",
                False,
                Wheel(
                    "filelock-3.18.0-py3-none-any.whl",
                    "https://files.example.invalid/filelock-3.18.0-py3-none-any.whl",
                    _sha(2),
                    16215,
                    "2025-03-14T07:11:39Z",
                ),
            ),
            PythonPackage(
                "vllm",
                "0.6.6.post1",
                "pypi",
                True,
                Wheel(
                    "vllm-0.6.6.post1-cp38-abi3-manylinux1_x86_64.whl",
                    "https://files.example.invalid/vllm-0.6.6.post1-cp38-abi3-manylinux1_x86_64.whl",
                    _sha(3),
                    201123456,
                    "2024-12-27T16:30:00Z",
                ),
                dependencies=["torch"],
            ),
            PythonPackage(
                "transformers",
                "4.51.3",
                "pypi",
                False,
                Wheel(
                    "transformers-4.51.3-py3-none-any.whl",
                    "https://files.example.invalid/transformers-4.51.3-py3-none-any.whl",
                    _sha(4),
                    10361422,
                    "2025-04-14T08:15:00Z",
                ),
            ),
        ],
    )
    apt = AptLayer(
        archive="https://snapshot.example.invalid/archive/ubuntu/20240415T000000Z",
        keyring_sha256=_sha_of(ARCHIVE_KEYRING),
        keyring=_b64(ARCHIVE_KEYRING),
        snapshot="20240415T000000Z",
        sources=[
            AptSource(
                "jammy-updates",
                "https://snapshot.example.invalid/archive/ubuntu/20240415T000000Z",
                ["amd64"],
                _sha(11),
                components=["main", "restricted"],
                origin="Ubuntu",
                label="Ubuntu",
                release_suite="jammy-updates",
                codename="jammy",
            )
        ],
        repositories=[
            AptRepository(
                name="cuda",
                url="https://developer.download.nvidia.example/compute/cuda/repos/ubuntu2204/x86_64",
                keyring_sha256=_sha_of(CUDA_KEYRING),
                keyring=_b64(CUDA_KEYRING),
                priority=600,
                sources=[
                    AptSource(
                        "./",
                        "https://developer.download.nvidia.example/compute/cuda/repos/ubuntu2204/x86_64",
                        ["amd64"],
                        _sha(17),
                        origin="NVIDIA",
                        label="NVIDIA CUDA",
                    )
                ],
                assigned=["libnccl2"],
            )
        ],
        packages=[
            AptPackage(
                "dkms",
                "2.8.7-2ubuntu2.2",
                "all",
                "pool/main/d/dkms/dkms_2.8.7-2ubuntu2.2_all.deb",
                _sha(12),
                70000,
                "jammy-updates",
                True,
            ),
            AptPackage(
                "linux-headers-5.15.0-105-generic",
                "5.15.0-105.115",
                "amd64",
                "pool/main/l/linux/linux-headers-5.15.0-105-generic_5.15.0-105.115_amd64.deb",
                _sha(13),
                2900000,
                "jammy-updates",
            ),
            AptPackage(
                "libc6",
                "2.35-0ubuntu3.7",
                "amd64",
                "pool/main/g/glibc/libc6_2.35-0ubuntu3.7_amd64.deb",
                _sha(14),
                3200000,
                "jammy-updates",
            ),
            AptPackage(
                "python3.11",
                "3.11.0~rc1-1~22.04",
                "amd64",
                "pool/universe/p/python3.11/python3.11_3.11.0~rc1-1~22.04_amd64.deb",
                _sha(15),
                600000,
                "jammy-updates",
                True,
            ),
            AptPackage(
                "libnccl2",
                "2.21.5-1+cuda12.4",
                "amd64",
                "./libnccl2_2.21.5-1+cuda12.4_amd64.deb",
                _sha(18),
                130000000,
                "./",
                True,
                repository="cuda",
            ),
        ],
    )
    kernel = KernelLayer("5.15.0-105-generic", "generic", "5.15.0-105", ["linux-headers-5.15.0-105-generic"])
    nvidia = NvidiaLayer(
        runfile="cuda_12.4.1_550.54.15_linux.run",
        url="https://developer.example.invalid/compute/cuda/12.4.1/local_installers/cuda_12.4.1_550.54.15_linux.run",
        sha256=_sha(20),
        md5="0123456789abcdef0123456789abcdef",
        size=4317942116,
        driver_version="550.54.15",
        cuda_version="12.4.1",
        install_flags=["--silent", "--driver", "--dkms"],
        mirror_url=f"s3://internal-artifacts/imagelock/sha256/{_sha(20)}",
    )  # as `lock mirror` records it
    models = [
        Model(
            "Qwen/Qwen3-4B-AWQ",
            "main",
            "a" * 40,
            "/workspace/models/qwen/Qwen3-4B-AWQ",
            [
                ModelFile("config.json", _sha(30), 937),
                ModelFile("model.safetensors", _sha(31), 2672236712, True),
                ModelFile("tokenizer.json", _sha(32), 11422654),
            ],
        ),
        Model(
            "cross-encoder/ms-marco-TinyBERT-L2-v2",
            "main",
            "b" * 40,
            "/workspace/models/ms-marco-TinyBERT-L2-v2",
            [ModelFile("config.json", _sha(33), 787)],
        ),
    ]
    base = BaseLayer(
        "ubuntu 22.04",
        [
            BaseAmi(
                "us-west-2",
                "ami-0aff18ec83b712f05",
                "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20240411",
                "2024-04-11T00:00:00.000Z",
                "099720109477",
                "/dev/sda1",
            ),
            BaseAmi(
                "us-east-1",
                "ami-04b70fa74e45c3917",
                "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20240411",
                "2024-04-11T00:00:00.000Z",
                "099720109477",
                "/dev/sda1",
            ),
        ],
    )
    return Lock(
        name="gpu-worker",
        intent_sha256=H,
        universe=Universe("2025-05-01T00:00:00Z", "intent"),
        layers={"python": python, "apt": apt, "kernel": kernel, "nvidia": nvidia, "models": models, "base": base},
        mirror=Mirror("s3://internal-artifacts/imagelock"),
    )
