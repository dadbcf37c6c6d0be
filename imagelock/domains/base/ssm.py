"""The value a public SSM parameter held at the cutoff: which version, written when.

A parameter such as Canonical's `/aws/service/canonical/ubuntu/.../ami-id` names today's image. Each write
makes a new version with its `LastModifiedDate`; version N held the parameter from its date until version
N+1's. So the value at the cutoff is the newest version written before it:

- GetParameter answers the current version with its `Version` and `LastModifiedDate`. Written before the
  cutoff, it is the value at the cutoff: no history is needed (the usual case for a recent cutoff).
- Otherwise GetParameterHistory (pages of at most 50, followed by `NextToken` to the end; SSM keeps the last
  100 versions) gives the older versions. AWS has said that public parameters do not support
  GetParameterHistory (bottlerocket-os/bottlerocket#2662): when it refuses, nothing in SSM says what the
  parameter held at the cutoff, and the intent is refused with the way out (find the image by name).

Nothing here guesses: a version whose date AWS did not give is never taken.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagelock.errors import InputError, UpstreamError
from imagelock.lock.model import instant
from imagelock.net import aws

PAGE = 50  # GetParameterHistory's MaxResults: 1..50 (SSM API reference)


@dataclass(frozen=True)
class Version:
    """One version of a parameter: its value, its number, and when it was written (a lock instant)."""

    value: str
    number: int
    modified: str


def _version(record: dict[str, Any]) -> Version | None:
    """A version as GetParameter / GetParameterHistory give it; None when its number or date is missing."""
    value, number, modified = record.get("Value"), record.get("Version"), record.get("LastModifiedDate")
    if not isinstance(value, str) or isinstance(number, bool) or not isinstance(number, int):
        return None
    if not isinstance(modified, dt.datetime):
        return None
    return Version(value=value, number=number, modified=instant(modified))


def at_cutoff(client: Any, name: str, region: str, cutoff: str, path: Path) -> Version:
    """The version of `name` in force at `cutoff`: the newest one written before it."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        current = client.get_parameter(Name=name)["Parameter"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            raise InputError(path, "base.image", f"Canonical publishes no SSM parameter {name} in {region}") from None
        raise UpstreamError(f"SSM {region}: GetParameter: {aws.describe_error(exc)}") from None
    except BotoCoreError as exc:
        raise UpstreamError(f"SSM {region}: GetParameter: {aws.describe_error(exc)}") from None
    latest = _version(current)
    if latest is not None and latest.modified < cutoff:
        return latest
    try:
        history = _history(client, name)
    except ClientError as exc:
        why = (
            f"was last written {latest.modified} (version {latest.number}), not before the cutoff {cutoff}"
            if latest
            else f"answers no version or date for its value, so nothing says it held it before the cutoff {cutoff}"
        )
        raise InputError(
            path,
            "base.source",
            f"SSM {name} in {region} {why}, and SSM gives no history of it (GetParameterHistory: "
            f"{aws.describe_error(exc)}); leave source out to take the newest image before the cutoff by name",
        ) from None
    except BotoCoreError as exc:
        raise UpstreamError(f"SSM {region}: GetParameterHistory: {aws.describe_error(exc)}") from None
    before = [v for v in history if v.modified < cutoff]
    if not before:
        oldest = min(history, key=lambda v: v.number, default=None)
        kept = f"; the oldest version SSM keeps, {oldest.number}, was written {oldest.modified}" if oldest else ""
        raise InputError(
            path,
            "base.source",
            f"SSM {name} in {region} held no value before the cutoff {cutoff}{kept}; leave source out to take "
            "the newest image before the cutoff by name",
        )
    return max(before, key=lambda v: v.number)


def _history(client: Any, name: str) -> list[Version]:
    """Every version GetParameterHistory lists, page after page; a version without a date is left out."""
    out: list[Version] = []
    token: str | None = None
    while True:
        query: dict[str, Any] = {"Name": name, "MaxResults": PAGE}
        if token:
            query["NextToken"] = token
        answer = client.get_parameter_history(**query)
        out += [v for v in (_version(p) for p in answer.get("Parameters", [])) if v is not None]
        token = answer.get("NextToken")
        if not token:
            return out
