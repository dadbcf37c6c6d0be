"""OpenPGP signatures checked by gpgv against one keyring: apt's InRelease, a vendor's signed SHA256SUMS.

gpgv runs with an empty GNUPGHOME and only the keyring the intent names, so no key of
the user's own keyrings can vouch for anything. What a caller trusts is what gpgv
says was signed (the clearsigned text it outputs, or the exact bytes a detached
signature covers), never the raw file.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from imagelock.errors import UpstreamError, VerificationError
from imagelock.hashing import sha256_bytes


def gpgv_verify(data: bytes, keyring: Path, what: str, signature: bytes | None = None) -> bytes:
    """The signed content: the text of a clearsigned document, or `data` itself when `signature` is a
    detached signature over it. Anything else is a VerificationError naming what failed."""
    with tempfile.TemporaryDirectory(prefix="imagelock-gpgv-") as home:
        signed = Path(home) / "signed"
        signed.write_bytes(data)
        out = Path(home) / "content"
        if signature is None:
            args = ["--output", str(out), str(signed)]
        else:
            detached = Path(home) / "signature"
            detached.write_bytes(signature)
            args = [str(detached), str(signed)]
        try:
            result = subprocess.run(
                ["gpgv", "--status-fd", "1", "--keyring", str(keyring), *args],
                capture_output=True,
                env={**os.environ, "GNUPGHOME": home, "LC_ALL": "C"},
                timeout=60,
                check=False,
            )
        except FileNotFoundError:
            raise UpstreamError(
                "gpgv is not installed: it is needed to verify signatures (install the gpgv package)"
            ) from None
        status = result.stdout.decode("utf-8", "replace")
        if result.returncode != 0 or "\n[GNUPG:] VALIDSIG " not in "\n" + status:
            reason = "no valid signature"
            if "[GNUPG:] BADSIG" in status:
                reason = "BAD signature (the signed text was altered)"
            elif "[GNUPG:] NO_PUBKEY" in status or "[GNUPG:] ERRSIG" in status:
                reason = "signed by a key that is not in the keyring"
            elif "[GNUPG:] NODATA" in status:
                reason = "not signed"
            raise VerificationError(f"{what}: {reason} (keyring {keyring})")
        return data if signature is not None else out.read_bytes()


def dearmor_keyring(keyring: Path, workdir: Path) -> Path:
    """gpgv reads binary keyrings only; an ASCII-armored `.asc` is converted first."""
    data = keyring.read_bytes()
    if not data.lstrip().startswith(b"-----BEGIN PGP"):
        return keyring
    target = workdir / f"{sha256_bytes(data)[:16]}.gpg"
    if not target.exists():
        result = subprocess.run(
            ["gpg", "--batch", "--dearmor", "--output", str(target), str(keyring)],
            capture_output=True,
            env={**os.environ, "GNUPGHOME": str(workdir)},
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise VerificationError(f"{keyring}: cannot read the armored keyring")
    return target
