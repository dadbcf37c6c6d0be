"""NVIDIA's CUDA runfiles for x86_64 Linux: what each release bundles and what NVIDIA says it is.

Each entry is one "runfile (local)" installer: the CUDA release, the driver it
bundles (the version in the file name), the download URL, and the md5 and byte
size NVIDIA publishes for it (the md5 is the one in the release's
`docs/sidebar/md5sum.txt`; size and md5 both appear in the download page's
release payload). The tool never trusts these alone: it streams the file,
checks md5 and size against this table, and records the sha256 it computed.

Source of every row (version, file name, md5, byte size, URL), copied as
published and not recomputed:
  rwgk/rwgk_config, bin/ctk_download_installers.sh, commit
  6119ce8a39f9605cf744f82e244162cc31451b79 (a catalog "copied from NVIDIA's
  release payload" of the CUDA Toolkit Archive download pages).
Independent cross-check of 12.4.1: the md5 afc99bab1d8c6579395d851d948ca3c1 is
also pinned as CUDA_MD5 for the same URL in public Dockerfiles (found with the
code search, e.g. `ARG CUDA_MD5=afc99bab...` beside
`ARG CUDA_URL=.../12.4.1/local_installers/cuda_12.4.1_550.54.15_linux.run`).
CUDA 12.7 does not exist (NVIDIA went from 12.6 to 12.8). Older (11.x, 12.0)
and newer (12.9, 13.x) releases are left out until their facts are sourced.

Source of the sha256 column (a cross-check, not what the lock records):
  Spack's cuda package, `_versions[<version>]["Linux-x86_64"]` in
  spack/spack-packages repos/spack_repo/builtin/packages/cuda/package.py
  (read at commit 0cd1d4663ba33158aae43fa7dc99d5832441c5de for 12.1.0 to 12.6.3;
  12.8.0 and 12.8.1 from a newer revision of the same file as the code search
  holds it; 12.1.0 to 12.6.2 also match spack/spack's 2024
  var/spack/repos/builtin/packages/cuda/package.py). Spack has no 12.8.2 entry,
  so 12.8.2 has none here.
"""

from __future__ import annotations

from dataclasses import dataclass

DOWNLOAD_BASE = "https://developer.download.nvidia.com/compute/cuda"
# Names a look-alike of DOWNLOAD_BASE (tests, a site mirror); the lock still records NVIDIA's URL.
BASE_URL_ENV = "IMAGELOCK_NVIDIA_BASE_URL"

# The flags the seed installs the driver with: no toolkit, kernel module built by DKMS.


@dataclass(frozen=True)
class Runfile:
    cuda: str
    driver: str
    md5: str
    size: int
    # A sha256 published by a second, independent party (Spack's cuda package): a third
    # check beside NVIDIA's md5 and size. The lock still records the sha256 imagelock computed.
    sha256: str | None = None

    @property
    def name(self) -> str:
        return f"cuda_{self.cuda}_{self.driver}_linux.run"

    def url(self, base: str = DOWNLOAD_BASE) -> str:
        return f"{base.rstrip('/')}/{self.cuda}/local_installers/{self.name}"


def _catalog(*rows: Runfile) -> dict[str, Runfile]:
    return {row.cuda: row for row in rows}


# md5, size: rwgk/rwgk_config@6119ce8a39f9605cf744f82e244162cc31451b79 bin/ctk_download_installers.sh
# sha256: Spack's cuda package (see the module docstring)
CATALOG: dict[str, Runfile] = _catalog(
    Runfile(
        "12.1.0",
        "530.30.02",
        "6b6583fad98b905574a1fd37a471ef92",
        4245586997,
        "68699036c12d71adb9ad2799dce2ff070270fab4488b90920b9756ab3f52c41c",
    ),
    Runfile(
        "12.1.1",
        "530.30.02",
        "2f0a4127bf797bf4eab0be2a547cb8d0",
        4317456991,
        "d74022d41d80105319dfa21beea39b77a5b9919539c0487a05caaf2446d6a70e",
    ),
    Runfile(
        "12.2.0",
        "535.54.03",
        "72aefb16c35ecb91074b85c27fa26e46",
        4315928767,
        "ecf3d2afadcbac029f0f4505785810d52d006e4b87ba79ff3f984336a2bbf518",
    ),
    Runfile(
        "12.2.1",
        "535.86.10",
        "2579fcb61cd80d3284d73da93785550f",
        4332490379,
        "c51e814eaa756160a73289b1f35880cc38c18e1ddedc87f46f7ff0d1696bdb95",
    ),
    Runfile(
        "12.2.2",
        "535.104.05",
        "a32d82924645e0369c14acaebd54bff1",
        4344134690,
        "2b39aae3e7618d9f59a3c8fa1f1bc61f29c0b0e0df75fb05076badb352952ef2",
    ),
    Runfile(
        "12.3.0",
        "545.23.06",
        "848b8caed9a91ddf23a325f6bc1fdbf9",
        4360403711,
        "7c13face3af64d6e1648d6e3101d31c8111e747143acb0077d973c1690820422",
    ),
    Runfile(
        "12.3.1",
        "545.23.08",
        "cec391f9a1a3d1a62f354ac6cb2f82ec",
        4368526618,
        "b73d18ccd5ff85bbae32b425dfb82729612ede65b07a37cd5e2b574190614038",
    ),
    Runfile(
        "12.3.2",
        "545.23.08",
        "9d3585b651f4909f72c4db379beb3e01",
        4368514070,
        "24b2afc9f770d8cf43d6fa7adc2ebfd47c4084db01bdda1ce3ce0a4d493ba65b",
    ),
    Runfile(
        "12.4.0",
        "550.54.14",
        "5148982e9f2d13a387f96a956e61aa2e",
        4454353277,
        "e6a842f4eca9490575cdb68b6b1bb78d47b95a897de48dee292c431892e57d17",
    ),
    Runfile(
        "12.4.1",
        "550.54.15",
        "afc99bab1d8c6579395d851d948ca3c1",
        4454730420,
        "367d2299b3a4588ab487a6d27276ca5d9ead6e394904f18bccb9e12433b9c4fb",
    ),
    Runfile(
        "12.5.0",
        "555.42.02",
        "0bf587ce20c8e74b90701be56ae2c907",
        4294677299,
        "90fcc7df48226434065ff12a4372136b40b9a4cbf0c8602bb763b745f22b7a99",
    ),
    Runfile(
        "12.5.1",
        "555.42.06",
        "6521c4c2f3872e40e2c18ddf685b62bf",
        4311634770,
        "b5e0a779e089c86610051141c4cf498beef431858ec63398107391727ecbdb04",
    ),
    Runfile(
        "12.6.0",
        "560.28.03",
        "8685a58497b0c7e5d964e6da7968bb1e",
        4333105923,
        "31ab04394e69b14dd8656e2b44c2877db1a0e898dff8a7546a4c628438101b94",
    ),
    Runfile(
        "12.6.1",
        "560.35.03",
        "a2b81a6811c9a85eccbf90f79613bc4b",
        4345714567,
        "73acce7243519625f259509f5dcff6dc8fbd23dca53b852aa9ce382009e92e9d",
    ),
    Runfile(
        "12.6.2",
        "560.35.03",
        "dcba85e2d49d7e6d93d8626f708276a4",
        4446677374,
        "3729a89cb58f7ca6a46719cff110d6292aec7577585a8d71340f0dbac54fb237",
    ),
    Runfile(
        "12.6.3",
        "560.35.05",
        "29d297908c72b810c9ceaa5177142abd",
        4446722669,
        "81d60e48044796d7883aa8a049afe6501b843f2c45639b3703b2378de30d55d3",
    ),
    Runfile(
        "12.8.0",
        "570.86.10",
        "c71027cf1a4ce84f80b9cbf81116e767",
        5412604598,
        "610867dcd6d94c4e36c4924f1d01b9db28ec08164e8af6c764f21b84200695f8",
    ),
    Runfile(
        "12.8.1",
        "570.124.06",
        "e281945bf4ea42788db29457ebc1e6ae",
        5382238770,
        "228f6bcaf5b7618d032939f431914fc92d0e5ed39ebe37098a24502f26a19797",
    ),
    Runfile("12.8.2", "570.211.01", "82a348acc1271169ce3d2126f941f65f", 5396612289),
)
