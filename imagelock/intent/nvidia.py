"""The `[nvidia]` intent section: a CUDA release or a driver version, and how the runfile installs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagelock.errors import InputError
from imagelock.intent.fields import check_keys
from imagelock.net import aws

# What the runfile is run with unless the intent says otherwise.
DEFAULT_INSTALL_FLAGS = ("--silent", "--driver", "--dkms")
KEYS = ("cuda", "driver", "mirror", "install-flags")
_VERSION = re.compile(r"^\d+\.\d+(\.\d+)?$")
_DRIVER = re.compile(r"^\d{3}\.\d+(\.\d+)?$")
_FLAG = re.compile(r"^--[a-z][a-z0-9-]*(=[A-Za-z0-9._/:-]+)?$")


@dataclass
class NvidiaIntent:
    cuda: str | None
    driver: str | None
    mirror: str | None
    install_flags: list[str]


def parse(table: Any, path: Path) -> NvidiaIntent:
    where = "nvidia"
    check_keys(table, KEYS, path, where)
    values: dict[str, Any] = {}
    for key in ("cuda", "driver", "mirror"):
        value = table.get(key)
        if value is not None and not isinstance(value, str):
            raise InputError(path, f"{where}.{key}", f"expected a string, found {type(value).__name__}")
        values[key] = value
    cuda, driver, mirror = values["cuda"], values["driver"], values["mirror"]
    if cuda is None and driver is None:
        raise InputError(path, where, 'expected `cuda = "12.4.1"` or `driver = "550.54.15"`')
    if cuda is not None and not _VERSION.match(cuda):
        raise InputError(path, f"{where}.cuda", f'expected a CUDA version such as "12.4.1", found {cuda!r}')
    if driver is not None and not _DRIVER.match(driver):
        raise InputError(path, f"{where}.driver", f'expected a driver version such as "550.54.15", found {driver!r}')
    if mirror is not None and not mirror.startswith(("s3://", "https://", "http://")):
        raise InputError(path, f"{where}.mirror", f"expected an s3:// or https:// URL, found {mirror!r}")
    if mirror is not None and mirror.startswith("s3://"):
        aws.parse_s3_url(mirror, path, f"{where}.mirror")
    flags = table.get("install-flags", list(DEFAULT_INSTALL_FLAGS))
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        raise InputError(path, f"{where}.install-flags", "expected an array of strings")
    for i, flag in enumerate(flags):
        if not _FLAG.match(flag):
            raise InputError(
                path, f"{where}.install-flags[{i}]", f'expected a runfile option such as "--dkms", found {flag!r}'
            )
    return NvidiaIntent(cuda=cuda, driver=driver, mirror=mirror, install_flags=list(flags))
