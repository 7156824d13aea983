"""SM2 keys and SM2-with-SM3 signatures (the Chinese national algorithms E-Port cards use), through tongsuopy.

tongsuopy is the Tongsuo project's Python SDK: a cryptography-style API over Tongsuo, the OpenSSL fork
that keeps the GM/T algorithms. It makes SM2 keys, signs and verifies SM2 with SM3 and writes PKCS#8; it has
no X.509 module (core.pki.gm builds those structures). Nothing here implements SM2 or SM3: every curve
operation and every hash is Tongsuo's.

A signature is computed over e = SM3(Z || M), where Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA)
binds the signer's identity ID and public key (GB/T 32918.2-2016 §5.5 and §6.1; GM/T 0003.2-2012 the same).
Certificates, CRLs, OCSP answers and card signatures all use the default ID ``1234567812345678`` of
GM/T 0009-2012 (§10, "用户身份标识ID的缺省值"), which is also what tongsuopy signs and verifies with. The
OpenSSL 3 command line needs that ID spelled out: ``openssl pkeyutl -verify ... -rawin -digest sm3 -pkeyopt
distid:1234567812345678`` and ``openssl verify -vfyopt distid:1234567812345678`` (openssl-pkeyutl(1),
openssl-verify(1)); without it OpenSSL 3 uses an empty ID and the signature fails.

Signatures travel in two forms: DER ``SEQUENCE {r INTEGER, s INTEGER}`` (GM/T 0009-2012 §7.3, as X.509 and
OpenSSL carry them) and raw ``r || s``, 32 bytes each (what the E-Port client control returns; docs/agent.md).
"""

from __future__ import annotations

import functools
from typing import Any

from asn1crypto import algos, keys
from cryptography.exceptions import InvalidSignature
from tongsuopy.crypto import hashes as gm_hashes
from tongsuopy.crypto import serialization as gm_serialization
from tongsuopy.crypto.asymciphers import ec as gm_ec
from tongsuopy.crypto.exceptions import InternalError as GmInternalError
from tongsuopy.crypto.exceptions import InvalidSignature as GmInvalidSignature

from core.errors import InvalidInput

# Object identifiers: GM/T 0006-2012 (the OID registry of the GM/T standards).
SM2_CURVE_OID = "1.2.156.10197.1.301"  # the SM2 curve, named in an id-ecPublicKey SubjectPublicKeyInfo
SM2_WITH_SM3_OID = "1.2.156.10197.1.501"  # the signature algorithm SM2-with-SM3 (no parameters)
SM3_OID = "1.2.156.10197.1.401"

DEFAULT_ID = b"1234567812345678"  # GM/T 0009-2012 §10: the default signer ID

# The recommended curve of GB/T 32918.5-2017 (GM/T 0003.5-2012), as Z takes them: a, b, xG, yG.
_CURVE_A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
_CURVE_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
_G_X = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
_G_Y = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0
COORDINATE_BYTES = 32
RAW_SIGNATURE_BYTES = 2 * COORDINATE_BYTES

# tongsuopy ships no type information; its key objects are these.
Sm2PrivateKey = Any
Sm2PublicKey = Any


def generate_private_key() -> Sm2PrivateKey:
    return gm_ec.generate_private_key(gm_ec.SM2())


def is_private_key(key: object) -> bool:
    return isinstance(key, gm_ec.EllipticCurvePrivateKey) and isinstance(key.curve, gm_ec.SM2)


def is_public_key(key: object) -> bool:
    return isinstance(key, gm_ec.EllipticCurvePublicKey) and isinstance(key.curve, gm_ec.SM2)


# AlgorithmIdentifier {id-ecPublicKey (RFC 5480 2.1.1), namedCurve SM2}: DER has one encoding of it.
_SM2_KEY_ALGORITHM = bytes(keys.PublicKeyAlgorithm({
    "algorithm": "ec", "parameters": keys.ECDomainParameters(name="named", value=SM2_CURVE_OID)}).dump())


def is_sm2_spki(spki: bytes) -> bool:
    """Whether a DER SubjectPublicKeyInfo holds an SM2 key (id-ecPublicKey on the SM2 curve). An SM2 key's
    SubjectPublicKeyInfo is short (at most 91 bytes), so its AlgorithmIdentifier starts at the third byte."""
    return len(spki) > 2 and spki[0] == 0x30 and spki[1] < 0x80 and spki[2:2 + len(_SM2_KEY_ALGORITHM)] == \
        _SM2_KEY_ALGORITHM


def public_key_der(key: Sm2PublicKey) -> bytes:
    """The DER SubjectPublicKeyInfo of an SM2 public key."""
    return bytes(key.public_bytes(gm_serialization.Encoding.DER, gm_serialization.PublicFormat.SubjectPublicKeyInfo))


def public_key_pem(key: Sm2PublicKey) -> bytes:
    return bytes(key.public_bytes(gm_serialization.Encoding.PEM, gm_serialization.PublicFormat.SubjectPublicKeyInfo))


def load_public_key(spki: bytes) -> Sm2PublicKey:
    key = gm_serialization.load_der_public_key(spki)
    if not is_public_key(key):
        raise ValueError("not an SM2 public key")
    return key


def private_key_pem(key: Sm2PrivateKey, passphrase: str | None = None) -> bytes:
    """PKCS#8 PEM; encrypted (PBES2, as Tongsuo chooses) when ``passphrase`` is given."""
    encryption = (gm_serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
                  else gm_serialization.NoEncryption())
    return bytes(key.private_bytes(gm_serialization.Encoding.PEM, gm_serialization.PrivateFormat.PKCS8, encryption))


def load_private_key_pem(data: bytes, passphrase: str | None = None) -> Sm2PrivateKey:
    """An SM2 private key from PKCS#8 PEM. Raises ValueError for a wrong passphrase or another kind of key."""
    try:
        key = gm_serialization.load_pem_private_key(data, passphrase.encode() if passphrase else None)
    except (TypeError, ValueError) as exc:
        raise ValueError(str(exc)) from None
    if not is_private_key(key):
        raise ValueError("not an SM2 private key")
    return key


def sm3(data: bytes) -> bytes:
    digest = gm_hashes.Hash(gm_hashes.SM3())
    digest.update(data)
    return bytes(digest.finalize())


def z_value(public_key: Sm2PublicKey, signer_id: bytes = DEFAULT_ID) -> bytes:
    """Z_A of GB/T 32918.2-2016 §5.5: SM3 over the ID's bit length (2 bytes), the ID, the curve and the key."""
    numbers = public_key.public_numbers()
    fields = (_CURVE_A, _CURVE_B, _G_X, _G_Y, numbers.x, numbers.y)
    return sm3((len(signer_id) * 8).to_bytes(2, "big") + signer_id
               + b"".join(value.to_bytes(COORDINATE_BYTES, "big") for value in fields))


def signing_digest(public_key: Sm2PublicKey, message: bytes) -> bytes:
    """e = SM3(Z_A || M) (GB/T 32918.2-2016 §6.1 steps A1-A2): what the card signs for ``message``."""
    return sm3(z_value(public_key) + message)


def sign(key: Sm2PrivateKey, data: bytes) -> bytes:
    """SM2-with-SM3 over ``data`` with the default ID: DER ``SEQUENCE {r, s}``."""
    return bytes(key.sign(data, gm_ec.ECDSA(gm_hashes.SM3())))


def sign_digest(key: Sm2PrivateKey, digest: bytes) -> bytes:
    """An SM2 signature (DER) of ``digest``, which is already e = SM3(Z || M): the card's half of signing.

    tongsuopy's public API always hashes the message itself, so this calls Tongsuo's EVP_PKEY_sign through
    tongsuopy's own binding; for an SM2 key that signs the given e as it is (OpenSSL 3 providers/
    implementations/signature/sm2_sig.c, sm2sig_sign; Tongsuo keeps it). Tested against ``openssl pkeyutl``.
    """
    if len(digest) != COORDINATE_BYTES:
        raise ValueError("an SM2 digest is 32 bytes")
    backend, lib, ffi = _binding()
    ctx = ffi.gc(lib.EVP_PKEY_CTX_new(key._evp_pkey, ffi.NULL), lib.EVP_PKEY_CTX_free)
    length = ffi.new("size_t *")
    if lib.EVP_PKEY_sign_init(ctx) != 1 or lib.EVP_PKEY_sign(ctx, ffi.NULL, length, digest, len(digest)) != 1:
        backend._consume_errors()
        raise ValueError("Tongsuo refused to sign with this key")
    buffer = ffi.new("unsigned char[]", length[0])
    if lib.EVP_PKEY_sign(ctx, buffer, length, digest, len(digest)) != 1:
        backend._consume_errors()
        raise ValueError("Tongsuo could not sign the digest")
    return bytes(ffi.buffer(buffer)[:length[0]])


def verify_digest(public_key: Sm2PublicKey, signature: bytes, digest: bytes) -> None:
    """Check an SM2 signature (DER, or raw r || s) of ``digest`` = e = SM3(Z || M) (what a card signed when it
    was handed e); EVP_PKEY_verify through tongsuopy's binding, as :func:`sign_digest`. Raises InvalidSignature."""
    try:
        der = from_raw(signature) if len(signature) == RAW_SIGNATURE_BYTES else signature
    except ValueError:
        raise InvalidSignature from None
    if len(digest) != COORDINATE_BYTES:
        raise InvalidSignature
    backend, lib, ffi = _binding()
    ctx = ffi.gc(lib.EVP_PKEY_CTX_new(public_key._evp_pkey, ffi.NULL), lib.EVP_PKEY_CTX_free)
    if lib.EVP_PKEY_verify_init(ctx) != 1 or lib.EVP_PKEY_verify(ctx, der, len(der), digest, len(digest)) != 1:
        backend._consume_errors()
        raise InvalidSignature


@functools.cache
def _binding() -> tuple[Any, Any, Any]:
    from tongsuopy.backends.tongsuo.backend import backend
    return backend, backend._lib, backend._ffi


def verify(public_key: Sm2PublicKey, signature: bytes, data: bytes) -> None:
    """Check an SM2-with-SM3 signature (DER, or raw r || s) of ``data``; raises cryptography's InvalidSignature."""
    try:
        der = from_raw(signature) if len(signature) == RAW_SIGNATURE_BYTES else signature
        public_key.verify(der, data, gm_ec.ECDSA(gm_hashes.SM3()))
    except (GmInvalidSignature, GmInternalError, ValueError):  # InternalError: Tongsuo could not parse it
        _binding()[0]._consume_errors()
        raise InvalidSignature from None


def to_raw(der: bytes) -> bytes:
    """DER ``SEQUENCE {r, s}`` -> ``r || s`` (32 bytes each, big-endian)."""
    try:
        parsed = algos.DSASignature.load(der)
        r, s = parsed["r"].native, parsed["s"].native
        return r.to_bytes(COORDINATE_BYTES, "big") + s.to_bytes(COORDINATE_BYTES, "big")
    except (ValueError, TypeError, OverflowError):
        raise InvalidInput("SM2 签名格式错误", "malformed SM2 signature", field="signature") from None


def from_raw(raw: bytes) -> bytes:
    """``r || s`` -> DER ``SEQUENCE {r, s}``."""
    if len(raw) != RAW_SIGNATURE_BYTES:
        raise ValueError("a raw SM2 signature is 64 bytes")
    r, s = int.from_bytes(raw[:COORDINATE_BYTES], "big"), int.from_bytes(raw[COORDINATE_BYTES:], "big")
    return bytes(algos.DSASignature({"r": r, "s": s}).dump())


__all__ = ["DEFAULT_ID", "SM2_CURVE_OID", "SM2_WITH_SM3_OID", "SM3_OID", "from_raw", "generate_private_key",
           "is_private_key", "is_public_key", "is_sm2_spki", "load_private_key_pem", "load_public_key",
           "private_key_pem", "public_key_der", "public_key_pem", "sign", "sign_digest", "signing_digest",
           "sm3", "to_raw", "verify", "verify_digest", "z_value"]
