"""The eportcard card profile: the single source of truth for AID, INS codes, tags and status words.

docs/card-profile.md explains every value here; the driver, the virtual card and the tests all
import them from this module so the three can never drift apart.
"""

from __future__ import annotations

from enum import IntEnum

# Proprietary AID (ISO 7816-5 category F): F0 + "EPORT" + version 01.
AID = bytes.fromhex("F0 45 50 4F 52 54 01".replace(" ", ""))

CLA_ISO = 0x00
CLA_PROPRIETARY = 0x80

INITIAL_PIN = "88888888"  # 初始密码（8个8）
PIN_MIN_LENGTH = 6
PIN_MAX_LENGTH = 16
PIN_BLOCK_LENGTH = 16  # PINs travel as ASCII digits right-padded with 0xFF to 16 bytes
PIN_PAD = 0xFF
PIN_REFERENCE = 0x81  # P2 of VERIFY / CHANGE REFERENCE DATA / RESET RETRY COUNTER
DEFAULT_RETRY_LIMIT = 3  # 深圳: 密码连续三次输错，系统将自动锁卡

ADMIN_KEY_LENGTH = 16  # bytes: HMAC-SHA256(master secret, label || serial) truncated
CHALLENGE_LENGTH = 8
ADMIN_CRYPTOGRAM_LENGTH = 16
ADMIN_KEY_REFERENCE = 0x01  # P2 of EXTERNAL AUTHENTICATE

SERIAL_LENGTH = 16  # hex characters (8 random bytes), ASCII on the card
DEVICE_NO_LENGTH = 13

CHUNK = 0xF0  # READ/UPDATE BINARY chunk size; every APDU stays short (Lc, Le <= 255/256)
MAX_CERTIFICATE_LENGTH = 0x7FFF  # offsets are 15-bit (P1 bit 8 must be 0)


class Ins(IntEnum):
    SELECT = 0xA4
    GET_DATA = 0xCA
    PUT_DATA = 0xDA
    VERIFY = 0x20
    CHANGE_REFERENCE_DATA = 0x24
    RESET_RETRY_COUNTER = 0x2C
    GET_CHALLENGE = 0x84
    EXTERNAL_AUTHENTICATE = 0x82
    GENERATE_ASYMMETRIC_KEY_PAIR = 0x47
    READ_BINARY = 0xB0
    UPDATE_BINARY = 0xD6
    COMMIT_CERTIFICATE = 0xE6  # proprietary (CLA 80)
    PERFORM_SECURITY_OPERATION = 0x2A
    GET_RESPONSE = 0xC0


class Tag(IntEnum):
    """GET DATA / PUT DATA tags (P1 P2)."""

    SERIAL = 0x0101  # 16 ASCII hex characters, read-only
    DEVICE_NO = 0x0102  # 13 ASCII digits (设备编号), written once by the branch with admin auth
    STATUS = 0x0103  # 8-byte status record, see CardStatus layout below
    PUBLIC_KEY = 0x0104  # DER SubjectPublicKeyInfo of the card key


# STATUS record layout (8 bytes):
#   0 personalised (01: key pair and certificate present)   1 pin_is_initial (01/00)
#   2 tries left                                             3 retry limit
#   4 key algorithm (KeyAlgorithm, 00 = none)               5 PIN verified this session (01/00)
#   6-7 certificate length, big-endian (0000 = none)
STATUS_LENGTH = 8


class KeyAlgorithm(IntEnum):
    NONE = 0x00
    RSA_2048 = 0x01  # PKCS#1 v1.5 signature over a SHA-256 DigestInfo
    ECDSA_P256 = 0x02  # DER-encoded ECDSA-Sig-Value over a SHA-256 digest
    SM2 = 0x03  # DER SEQUENCE {r, s}: SM2 over e = SM3(Z || M), which the host computes (core.pki.sm2)


CARD_KEY_ALGORITHMS = (KeyAlgorithm.RSA_2048, KeyAlgorithm.ECDSA_P256, KeyAlgorithm.SM2)  # what GENERATE makes

# GENERATE ASYMMETRIC KEY PAIR P1; PSO P1 P2
GENERATE_P1 = 0x80
PSO_SIGN_P1 = 0x9E
PSO_SIGN_P2 = 0x9A
DIGEST_LENGTH = 32  # SHA-256, or SM2's e = SM3(Z || M): both 32 bytes
RESET_TO_INITIAL_P1 = 0x03  # RESET RETRY COUNTER without data: PIN back to 88888888


class SW(IntEnum):
    OK = 0x9000
    WARN_END_OF_FILE = 0x6282
    VERIFY_FAILED = 0x63C0  # | tries left (63Cx)
    ADMIN_AUTH_FAILED = 0x6300
    WRONG_LENGTH = 0x6700
    SECURITY_STATUS_NOT_SATISFIED = 0x6982
    AUTH_BLOCKED = 0x6983
    CONDITIONS_NOT_SATISFIED = 0x6985
    WRONG_DATA = 0x6A80
    FILE_NOT_FOUND = 0x6A82
    INCORRECT_P1P2 = 0x6A86
    REFERENCED_DATA_NOT_FOUND = 0x6A88  # the card is not personalised (no key / no certificate)
    WRONG_OFFSET = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    # Proprietary (ISO 7816-4 leaves 9xxx to the application):
    PIN_INITIAL_REFUSED = 0x9C01  # the new PIN is 88888888, which may never be set by the holder
    PIN_UNCHANGED_REFUSED = 0x9C02  # the new PIN equals the current PIN


def is_valid_pin(pin: str) -> bool:
    return pin.isascii() and pin.isdigit() and PIN_MIN_LENGTH <= len(pin) <= PIN_MAX_LENGTH


def pin_block(pin: str) -> bytes:
    """Encode a PIN for the wire: ASCII digits padded with FF to 16 bytes."""
    raw = pin.encode("ascii")
    return raw + bytes([PIN_PAD]) * (PIN_BLOCK_LENGTH - len(raw))


def parse_pin_block(block: bytes) -> str | None:
    """Inverse of pin_block; None when the block is malformed."""
    if len(block) != PIN_BLOCK_LENGTH:
        return None
    raw = block.rstrip(bytes([PIN_PAD]))
    if bytes([PIN_PAD]) in raw:
        return None
    try:
        pin = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    return pin if is_valid_pin(pin) else None
