"""Where each source sends its requests: the real upstreams, or stand-ins for them.

A source never asks whether it is talking to the real thing. It asks its
`Upstreams` for the URL, endpoint or record to use, and the answer is either the
upstream itself (`Live`) or a stand-in served on loopback from a recording
(imagelock.replay). Each method takes `where`, the intent file and key the
request comes from, so a stand-in that lacks a recording can say so in one line.
The lock always records the upstream, never the stand-in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from imagelock.net import aws

HUB_ENDPOINT = "https://huggingface.co"

Where = tuple[Path, str]  # the intent file and the key a request comes from


class NotRecorded(Exception):
    """The upstream knows the thing is there but holds none of its bytes (a recording made where the real
    upstream could not be read). The source locks what it can without them and says so; `why` is the
    recording's own reason."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


@dataclass(frozen=True)
class AptAccess:
    """How to read one apt archive: `fetch_base` stands in for its URL, and a recording brings its keyring."""

    fetch_base: str | None = None  # None: the archive URL itself
    keyring: Path | None = None  # the key a trimmed recording was re-signed with
    recording: Path | None = None  # the recording's directory, tying it back to the archive's signature


@dataclass(frozen=True)
class HubAccess:
    """The Hugging Face Hub endpoint to ask, and the token to send there (None: none)."""

    endpoint: str
    token: str | None
    # Set for a stand-in: it is named in messages, sends no token, and says why a gated repo fails.
    stand_in: str | None = None
    gated_note: str = ""  # why a gated repo cannot be read from the stand-in
    missing_note: str = ""  # where the stand-in's recordings are listed

    @property
    def name(self) -> str:
        return self.stand_in or self.endpoint


@dataclass(frozen=True)
class RunfileRecord:
    """A runfile's digests as a recording holds them (the runfile itself is gigabytes)."""

    record: dict[str, Any]
    where: Path  # the file the record was read from, for messages


class Upstreams(Protocol):
    """What every source is handed: where to send each kind of request."""

    def python_index(self, url: str | None, where: Where) -> str | None:
        """The index URL to ask for an intent's index URL (None: the engine's default index)."""

    def apt_archive(self, url: str, where: Where) -> AptAccess:
        """How to read the apt archive at `url` (snapshot included)."""

    def hub(self, where: Where) -> HubAccess:
        """The Hub to ask for model revisions and files."""

    def aws_client(self, service: str, region: str, where: Where) -> Any:
        """A boto3 client for `service` in `region`."""

    def runfile(self, name: str, where: Where) -> RunfileRecord | None:
        """A recorded runfile's digests; None means download the runfile and hash it."""

    def upstream_url(self, served: str, filename: str) -> str:
        """The URL the real upstream serves a file from, for one this run was served from `served`."""

    def plain_file(self, url: str, where: Where) -> str:
        """Where to GET a `[[files]]` URL (the URL itself, or a recording's copy of what it served).
        Raises NotRecorded for a URL a recording lists without its bytes."""

    def registry(self, host: str, plain_http: bool, where: Where) -> str:
        """The base URL (scheme://host[:port]) whose /v2/ API answers for a container registry host."""

    def registry_image(self, host: str, repository: str, digest: str, where: Where) -> None:
        """Nothing, or NotRecorded for an image a recording knows by digest only, without its manifests."""


def hub_endpoint() -> str:
    """The Hub the environment names (HF_ENDPOINT, as huggingface_hub reads it), else the Hub itself."""
    return (os.environ.get("HF_ENDPOINT") or HUB_ENDPOINT).rstrip("/")


def hub_token() -> str | None:
    """The token huggingface_hub would send: HF_TOKEN, else HUGGINGFACE_HUB_TOKEN (never read from disk)."""
    return os.environ.get("HF_TOKEN") or os.environ.get("HUGGINGFACE_HUB_TOKEN") or None


class Live:
    """The real upstreams, as the environment names them."""

    def python_index(self, url: str | None, where: Where) -> str | None:
        return url

    def apt_archive(self, url: str, where: Where) -> AptAccess:
        return AptAccess()

    def hub(self, where: Where) -> HubAccess:
        return HubAccess(endpoint=hub_endpoint(), token=hub_token())

    def aws_client(self, service: str, region: str, where: Where) -> Any:
        return aws.client(service, region)

    def runfile(self, name: str, where: Where) -> RunfileRecord | None:
        return None

    def upstream_url(self, served: str, filename: str) -> str:
        return served

    def plain_file(self, url: str, where: Where) -> str:
        return url

    def registry(self, host: str, plain_http: bool, where: Where) -> str:
        return f"{'http' if plain_http else 'https'}://{host}"

    def registry_image(self, host: str, repository: str, digest: str, where: Where) -> None:
        return None


LIVE = Live()
