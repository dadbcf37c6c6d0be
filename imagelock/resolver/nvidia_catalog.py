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
"""

from __future__ import annotations

from dataclasses import dataclass

DOWNLOAD_BASE = "https://developer.download.nvidia.com/compute/cuda"

# The flags the seed installs the driver with: no toolkit, kernel module built by DKMS.
DEFAULT_INSTALL_FLAGS = ("--silent", "--driver", "--dkms")


@dataclass(frozen=True)
class Runfile:
    cuda: str
    driver: str
    md5: str
    size: int

    @property
    def name(self) -> str:
        return f"cuda_{self.cuda}_{self.driver}_linux.run"

    def url(self, base: str = DOWNLOAD_BASE) -> str:
        return f"{base.rstrip('/')}/{self.cuda}/local_installers/{self.name}"


def _catalog(*rows: Runfile) -> dict[str, Runfile]:
    return {row.cuda: row for row in rows}


# Source: rwgk/rwgk_config@6119ce8a39f9605cf744f82e244162cc31451b79 bin/ctk_download_installers.sh
CATALOG: dict[str, Runfile] = _catalog(
    Runfile("12.1.0", "530.30.02", "6b6583fad98b905574a1fd37a471ef92", 4245586997),
    Runfile("12.1.1", "530.30.02", "2f0a4127bf797bf4eab0be2a547cb8d0", 4317456991),
    Runfile("12.2.0", "535.54.03", "72aefb16c35ecb91074b85c27fa26e46", 4315928767),
    Runfile("12.2.1", "535.86.10", "2579fcb61cd80d3284d73da93785550f", 4332490379),
    Runfile("12.2.2", "535.104.05", "a32d82924645e0369c14acaebd54bff1", 4344134690),
    Runfile("12.3.0", "545.23.06", "848b8caed9a91ddf23a325f6bc1fdbf9", 4360403711),
    Runfile("12.3.1", "545.23.08", "cec391f9a1a3d1a62f354ac6cb2f82ec", 4368526618),
    Runfile("12.3.2", "545.23.08", "9d3585b651f4909f72c4db379beb3e01", 4368514070),
    Runfile("12.4.0", "550.54.14", "5148982e9f2d13a387f96a956e61aa2e", 4454353277),
    Runfile("12.4.1", "550.54.15", "afc99bab1d8c6579395d851d948ca3c1", 4454730420),
    Runfile("12.5.0", "555.42.02", "0bf587ce20c8e74b90701be56ae2c907", 4294677299),
    Runfile("12.5.1", "555.42.06", "6521c4c2f3872e40e2c18ddf685b62bf", 4311634770),
    Runfile("12.6.0", "560.28.03", "8685a58497b0c7e5d964e6da7968bb1e", 4333105923),
    Runfile("12.6.1", "560.35.03", "a2b81a6811c9a85eccbf90f79613bc4b", 4345714567),
    Runfile("12.6.2", "560.35.03", "dcba85e2d49d7e6d93d8626f708276a4", 4446677374),
    Runfile("12.6.3", "560.35.05", "29d297908c72b810c9ceaa5177142abd", 4446722669),
    Runfile("12.8.0", "570.86.10", "c71027cf1a4ce84f80b9cbf81116e767", 5412604598),
    Runfile("12.8.1", "570.124.06", "e281945bf4ea42788db29457ebc1e6ae", 5382238770),
    Runfile("12.8.2", "570.211.01", "82a348acc1271169ce3d2126f941f65f", 5396612289),
)
