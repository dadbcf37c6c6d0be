"""releasemd.xml, Amazon Linux's list of release versions (`https://cdn.amazonlinux.com/al2023/core/releasemd.xml`).

`dnf check-release-update` reads it to say which release versions an instance can move to. Format, as
aquasecurity/vuln-list-update reads it (amazon/types.go: `root/releases/release[@version]/update[name,
version_string, release_notes]`) and as its recorded fixtures (amazon/testdata/fixtures/releasemd_valid.xml,
AL2022) show it:

    <root>
      <releases>
        <release version="2022.0.20220518">
          <update>
            <name>2022.0.20220531</name>
            <version_string>2022.0.20220531</version_string>
            <release_notes>https://aws.amazon.com</release_notes>
          </update>
        </release>
      </releases>
    </root>

Each `release` is a release version, each `update` one it can be updated to; both are release versions.
The file states no publication time: a version names its own date (`2023.<minor>.<YYYYMMDD>`), and that
date is all a cutoff can be compared with (imagelock.domains.dnf.releases). Every error is one
ReleasemdError naming the element.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

# Amazon Linux release versions: <year>.<minor>.<YYYYMMDD> (2023.6.20241212; AL2022's 2022.0.20220518).
VERSION = re.compile(r"^(\d{4})\.(\d{1,3})\.(\d{8})$")
LARGEST = 16 << 20  # the real file is a few hundred kB; anything far larger is not it


class ReleasemdError(ValueError):
    """releasemd.xml is not the release list Amazon Linux publishes; the message names the element."""


@dataclass(frozen=True, order=True)
class Release:
    """One release version and the day its version states."""

    day: dt.date
    minor: int
    version: str


def release(version: str, where: str) -> Release:
    match = VERSION.match(version)
    if not match:
        raise ReleasemdError(f"{where}: {version[:80]!r} is not a release version such as 2023.6.20241212")
    try:
        day = dt.datetime.strptime(match.group(3), "%Y%m%d").date()
    except ValueError:
        raise ReleasemdError(f"{where}: {version!r} does not end in a date (YYYYMMDD)") from None
    return Release(day, int(match.group(2)), version)


def parse(data: bytes) -> list[Release]:
    """Every release version the list names, oldest first (by date, then minor); never empty."""
    if len(data) > LARGEST:
        raise ReleasemdError(f"{len(data)} bytes: far larger than a release list")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ReleasemdError("declares a DOCTYPE or entities, which a release list never does")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ReleasemdError(f"not XML ({exc})") from None
    if root.tag != "root":
        raise ReleasemdError(f"<{root.tag[:40]}>: expected <root> holding <releases>")
    found: dict[str, Release] = {}
    for i, element in enumerate(root.findall("releases/release")):
        where = f"releases/release[{i}]"
        version = (element.get("version") or "").strip()
        found[version] = release(version, f"{where}@version")
        for j, update in enumerate(element.findall("update")):
            text = (update.findtext("version_string") or update.findtext("name") or "").strip()
            found[text] = release(text, f"{where}/update[{j}]/version_string")
    if not found:
        raise ReleasemdError("lists no release (expected root/releases/release[@version])")
    return sorted(found.values())


def newest_before(releases: list[Release], cutoff: dt.datetime) -> Release | None:
    """The newest release whose whole day (UTC) lies before the cutoff; None when none does.

    A release dated D is taken from D+1 00:00 UTC on: the list gives no hour, so only a cutoff after the
    whole day is sure to come after the release's date.
    """
    eligible = [r for r in releases if dt.datetime.combine(r.day + dt.timedelta(days=1), dt.time(), dt.UTC) <= cutoff]
    return max(eligible) if eligible else None
