"""The signing keys a vendor site's SHA256SUMS tests share (tests/files/vendor.py)."""

from tests.files.vendor import stranger_key, vendor_key

__all__ = ["stranger_key", "vendor_key"]
