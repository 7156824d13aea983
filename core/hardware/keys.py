"""Per-card admin keys, derived from the branch centre's master secret (never stored per card).

admin_key = HMAC-SHA256(master_secret, b"eportcard/admin-key/v1" || serial_ascii)[:16]

The branch keeps only the master secret; any card's key is re-derived from the serial the card
reports. The key never crosses the wire: the card issues an 8-byte challenge (GET CHALLENGE) and
the host answers with HMAC-SHA256(admin_key, challenge || serial_ascii)[:16] (EXTERNAL AUTHENTICATE).
"""

from __future__ import annotations

import hashlib
import hmac

from core.errors import InvalidInput
from core.hardware.profile import ADMIN_CRYPTOGRAM_LENGTH, ADMIN_KEY_LENGTH

DERIVATION_LABEL = b"eportcard/admin-key/v1"
MIN_MASTER_SECRET_LENGTH = 16


def derive_admin_key(master_secret: bytes, serial: str) -> bytes:
    if len(master_secret) < MIN_MASTER_SECRET_LENGTH:
        raise InvalidInput("主密钥太短（至少16字节）", "the master secret is too short (at least 16 bytes)",
                           field="master_secret")
    mac = hmac.new(master_secret, DERIVATION_LABEL + serial.encode("ascii"), hashlib.sha256)
    return mac.digest()[:ADMIN_KEY_LENGTH]


def admin_cryptogram(admin_key: bytes, challenge: bytes, serial: str) -> bytes:
    mac = hmac.new(admin_key, challenge + serial.encode("ascii"), hashlib.sha256)
    return mac.digest()[:ADMIN_CRYPTOGRAM_LENGTH]
