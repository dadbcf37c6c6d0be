"""The real distribution registry (Debian's docker-registry) on 127.0.0.1, images pushed into it by the real
skopeo from OCI layouts built here, and, where a test needs it, a tiny token server for the registry's
`auth.token` realm (JWTs signed with a throwaway key whose certificate the registry trusts)."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def tool(name: str) -> str:
    """The path of a system tool the test needs; in CI (which installs .ci/apt-packages.txt) its absence fails."""
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed, yet .ci/run installs .ci/apt-packages.txt")
        pytest.skip(f"{name} is not installed (.ci/apt-packages.txt)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- OCI layouts, built by hand and pushed by skopeo ---------------------------------------


def layer(files: dict[str, bytes]) -> bytes:
    """A reproducible gzip'd tar layer."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1700000000, 0o755
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


@dataclass
class Built:
    """What an OCI layout holds: its index digest, and per platform the manifest digest and blobs."""

    index: str
    manifests: dict[str, str] = field(default_factory=dict)
    layers: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    configs: dict[str, tuple[str, int]] = field(default_factory=dict)


def oci_layout(
    root: Path, tag: str, content: str, platforms: tuple[str, ...] = ("linux/amd64", "linux/arm64")
) -> Built:
    """An OCI image layout at `root` holding one multi-platform image under `tag`; `content` varies its bytes."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)

    def put(data: bytes) -> tuple[str, int]:
        digest = _sha(data)
        (blobs / digest.removeprefix("sha256:")).write_bytes(data)
        return digest, len(data)

    built = Built(index="")
    entries = []
    for platform in platforms:
        os_name, arch = platform.split("/")[:2]
        body = layer({"etc/imagelock-test": f"{content} {platform}\n".encode()})
        layer_digest, layer_size = put(body)
        diff_id = _sha(gzip.decompress(body))
        config = json.dumps(
            {"architecture": arch, "os": os_name, "rootfs": {"type": "layers", "diff_ids": [diff_id]}, "config": {}},
            sort_keys=True,
        ).encode()
        config_digest, config_size = put(config)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
                "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": layer_size}],
            },
            sort_keys=True,
        ).encode()
        manifest_digest, manifest_size = put(manifest)
        built.manifests[platform] = manifest_digest
        built.layers[platform] = [(layer_digest, layer_size)]
        built.configs[platform] = (config_digest, config_size)
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": manifest_digest,
                "size": manifest_size,
                "platform": {"os": os_name, "architecture": arch},
            }
        )
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}, sort_keys=True).encode()
    built.index, index_size = put(index)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (root / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": OCI_INDEX,
                        "digest": built.index,
                        "size": index_size,
                        "annotations": {"org.opencontainers.image.ref.name": tag},
                    }
                ],
            }
        )
    )
    return built


# --- the registry ------------------------------------------------------------------------


@dataclass
class Registry:
    host: str  # 127.0.0.1:<port>
    storage: Path
    creds: tuple[str, str] | None = None  # what skopeo pushes with, when the registry wants a token

    def push(self, layout: Path, tag: str, repository: str, *, every_platform: bool = True) -> None:
        """skopeo copies the whole multi-platform image from the layout into the registry (or, without
        `every_platform`, only this machine's platform's image manifest, as a single-platform image)."""
        args = [tool("skopeo"), "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false"]
        if every_platform:
            args.append("--all")
        if self.creds:
            args.append(f"--dest-creds={self.creds[0]}:{self.creds[1]}")
        args += [f"oci:{layout}:{tag}", f"docker://{self.host}/{repository}:{tag}"]
        subprocess.run(args, check=True, capture_output=True, timeout=120)

    def inspect_raw(self, reference: str) -> bytes:
        """skopeo's answer for the manifest bytes a reference names: the oracle for digests."""
        args = [tool("skopeo"), "inspect", "--raw", "--tls-verify=false"]
        if self.creds:
            args.append(f"--creds={self.creds[0]}:{self.creds[1]}")
        return subprocess.run(
            [*args, f"docker://{self.host}/{reference}"], check=True, capture_output=True, timeout=60
        ).stdout

    def blob_file(self, repository: str, digest: str) -> Path:
        """Where the registry's filesystem driver keeps a blob's bytes (to plant other bytes in a test)."""
        hexdigest = digest.removeprefix("sha256:")
        return self.storage / "docker/registry/v2/blobs/sha256" / hexdigest[:2] / hexdigest / "data"

    def tamper(self, repository: str, digest: str) -> None:
        """The registry serves other bytes of the same size under `digest`: its last byte flipped."""
        planted = self.blob_file(repository, digest)
        data = bytearray(planted.read_bytes())
        data[-1] ^= 0x01
        planted.write_bytes(bytes(data))


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited {proc.returncode}: {log.read_text(errors='replace')}")
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310 - loopback
            return
        except urllib.error.HTTPError:
            return  # 401 from a token-protected registry: it is up
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("docker-registry did not start")


@contextmanager
def registry(tmp: Path, token: TokenServer | None = None) -> Iterator[Registry]:
    """The distribution registry on 127.0.0.1:<free port>, its storage under `tmp`."""
    binary = tool("docker-registry")
    port = free_port()
    storage = tmp / "storage"
    storage.mkdir(parents=True)
    config = {
        "version": 0.1,
        "log": {"level": "error"},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}"},
    }
    if token is not None:
        config["auth"] = {
            "token": {
                "realm": f"{token.url}/token",
                "service": token.service,
                "issuer": token.issuer,
                "rootcertbundle": str(token.cert),
            }
        }
    path = tmp / "config.yml"
    path.write_text(json.dumps(config))  # JSON is YAML
    # Its log goes to a file: the registry writes a line per 404 (every blob a push probes for), and a pipe
    # nobody reads fills after some hundred of them and stops the registry mid-request.
    log = tmp / "registry.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen([binary, "serve", str(path)], stdout=subprocess.DEVNULL, stderr=sink)
    try:
        _wait(f"http://127.0.0.1:{port}/v2/", proc, log)
        yield Registry(f"127.0.0.1:{port}", storage, token.creds if token else None)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- a token server for the registry's token realm ----------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenServer:
    """Docker's token protocol: GET /token?service=&scope= -> {"token": JWT}. Anonymous pull is allowed;
    push needs the Basic credentials `creds`. `requests` records what each request carried."""

    url: str
    cert: Path
    creds: tuple[str, str]
    service: str = "imagelock-test-registry"
    issuer: str = "imagelock-test-tokens"
    requests: list[dict[str, str]] = field(default_factory=list)


@contextmanager
def token_server(tmp: Path, creds: tuple[str, str] = ("pusher", "s3cret-push")) -> Iterator[TokenServer]:
    crypto = pytest.importorskip("cryptography")
    del crypto
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "imagelock test tokens")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path = tmp / "token-cert.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    state = TokenServer("", cert_path, creds)
    expected = "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            from urllib.parse import parse_qs, urlsplit

            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            authorization = self.headers.get("Authorization", "")
            state.requests.append({**query, "authorization": authorization})
            if authorization and authorization != expected:
                self.send_response(401)
                self.end_headers()
                return
            access = []
            scope = query.get("scope", "")
            if scope.startswith("repository:"):
                _, repository, actions = scope.split(":")
                allowed = actions.split(",") if authorization else ["pull"]
                access.append({"type": "repository", "name": repository, "actions": allowed})
            issued = int(time.time())
            header = {"alg": "ES256", "typ": "JWT", "x5c": [x5c]}
            claims = {
                "iss": state.issuer,
                "sub": creds[0] if authorization else "",
                "aud": query.get("service", ""),
                "exp": issued + 300,
                "nbf": issued - 10,
                "iat": issued,
                "jti": f"{issued}-{len(state.requests)}",
                "access": access,
            }
            signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
            r, s = decode_dss_signature(key.sign(signing.encode(), ec.ECDSA(hashes.SHA256())))
            token = f"{signing}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
            body = json.dumps({"token": token, "access_token": token, "expires_in": 300}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
