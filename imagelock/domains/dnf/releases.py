"""`releasever = "latest"`: the newest Amazon Linux release version before `universe.cutoff`, chosen from the
release list (releasemd.xml, imagelock.formats.releasemd) that the intent's `release-list` names.

The list is read through `ctx.upstreams.plain_file`, as the repositories are, so a recording can stand in
for it. Nothing is guessed: a list that cannot be read, or that is not a release list, refuses the update.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from imagelock.domains.context import UpdateContext
from imagelock.errors import InputError, UpstreamError
from imagelock.formats import releasemd
from imagelock.hashing import sha256_bytes
from imagelock.intent.dnf import LATEST, DnfIntent
from imagelock.net import http


@dataclass(frozen=True)
class Chosen:
    intent: DnfIntent  # with the chosen releasever in place of "latest"
    release_list: str | None = None
    release_list_sha256: str | None = None


def choose(ctx: UpdateContext, intent: DnfIntent) -> Chosen:
    if intent.releasever != LATEST:
        return Chosen(intent)
    url = intent.release_list
    label = http.redact(url)
    data = http.get_bytes(ctx.upstreams.plain_file(url, (intent.path, "dnf.release-list")), what="the release list")
    try:
        releases = releasemd.parse(data)
    except releasemd.ReleasemdError as exc:
        raise UpstreamError(f"{label}: not a release list: {exc}; nothing was written") from None
    cutoff = dt.datetime.fromisoformat(ctx.cutoff.replace("Z", "+00:00"))
    newest = releasemd.newest_before(releases, cutoff)
    if newest is None:
        raise InputError(
            intent.path,
            "dnf.releasever",
            f"no release in {label} is dated before the cutoff {ctx.cutoff} "
            f"(the oldest is {releases[0].version}): move universe.cutoff or name a releasever",
        )
    return Chosen(dataclasses.replace(intent, releasever=newest.version), url, sha256_bytes(data))
