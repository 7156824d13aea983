"""Who holds the CA key. The rest of core.pki only talks to a ``Signer``.

cryptography's builders (certificate, CRL, OCSP response) can only sign with its own private-key
objects, so the Protocol takes the *builder* rather than bytes. ``FileSigner`` simply calls
``builder.sign(key, hash)``. A PKCS#11 signer (HSM or token) plugs in by implementing the same
methods: build once with a throw-away key of the same algorithm to get the TBS bytes
(``tbs_certificate_bytes`` / ``tbs_certlist_bytes`` / ``tbs_response_bytes``), sign those on the
token with ``sign_bytes``, and splice the token's signature into the DER. Nothing else changes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Protocol

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import (
    Certificate,
    CertificateBuilder,
    CertificateRevocationList,
    CertificateRevocationListBuilder,
    ocsp,
)

from core.errors import InvalidInput
from core.metrics import ca_signed
from core.private_files import create_private_file

Algorithm = Literal["rsa2048", "ec-p256"]
ALGORITHMS: tuple[Algorithm, ...] = ("rsa2048", "ec-p256")

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


class Signer(Protocol):
    """A CA signing key. ``algorithm`` is one of ``ALGORITHMS``; signatures use SHA-256."""

    algorithm: Algorithm

    def public_key(self) -> PublicKey: ...

    def sign_certificate(self, builder: CertificateBuilder) -> Certificate: ...

    def sign_crl(self, builder: CertificateRevocationListBuilder) -> CertificateRevocationList: ...

    def sign_ocsp(self, builder: ocsp.OCSPResponseBuilder) -> ocsp.OCSPResponse: ...

    def sign_bytes(self, data: bytes) -> bytes: ...


def check_algorithm(algorithm: str) -> Algorithm:
    if algorithm not in ALGORITHMS:
        raise InvalidInput(
            f"不支持的密钥算法 {algorithm!r}，可选：{', '.join(ALGORITHMS)}",
            f"unsupported key algorithm {algorithm!r}; choose one of: {', '.join(ALGORITHMS)}",
            field="algorithm")
    return algorithm


def generate_key(algorithm: str) -> PrivateKey:
    """A fresh software key (CA keys; tests standing in for a card's key)."""
    if check_algorithm(algorithm) == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def algorithm_of(key: PrivateKey | PublicKey) -> Algorithm:
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey) and key.key_size == 2048:
        return "rsa2048"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and \
            isinstance(key.curve, ec.SECP256R1):
        return "ec-p256"
    raise InvalidInput("密钥类型不受支持（仅支持 RSA-2048 与 ECDSA P-256）",
                       "unsupported key type (only RSA-2048 and ECDSA P-256)", field="public_key")


def sign_data(key: PrivateKey, data: bytes) -> bytes:
    """SHA-256 signature as ``openssl dgst -sha256 -sign`` makes it (PKCS#1 v1.5 or DER ECDSA)."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


PASSPHRASE_MIN_LENGTH = 12
PASSPHRASE_PHRASE_LENGTH = 20
PASSPHRASE_MIN_DISTINCT = 6


def check_passphrase(passphrase: str) -> None:
    """Refuse a weak passphrase for a new CA key (``InvalidInput``, field ``passphrase``).

    Strong means: at least 12 characters, at least 6 different ones, and three of the four kinds
    (lower-case, upper-case, digits, anything else: spaces, punctuation, Chinese), or a phrase of at
    least 20 characters of any kinds. The key file is the whole CA: whoever copies it can guess offline.
    """
    kinds = sum(any(test(c) for c in passphrase) for test in (
        str.islower, str.isupper, str.isdigit, lambda c: not (c.islower() or c.isupper() or c.isdigit())))
    long_enough = len(passphrase) >= PASSPHRASE_PHRASE_LENGTH or (len(passphrase) >= PASSPHRASE_MIN_LENGTH
                                                                   and kinds >= 3)
    if long_enough and len(set(passphrase)) >= PASSPHRASE_MIN_DISTINCT:
        return
    raise InvalidInput("CA 私钥口令太弱：至少 12 个字符且包含大写字母、小写字母、数字、其他符号中的三类"
                       "（或至少 20 个字符的短语），不同字符不少于 6 个",
                       "the CA key passphrase is too weak: use at least 12 characters with three of upper-case, "
                       "lower-case, digits and other symbols (or a phrase of at least 20 characters), "
                       "with at least 6 different characters", field="passphrase")


class FileSigner:
    """A CA key kept in a PKCS#8 PEM file, encrypted with a passphrase, readable by its owner only."""

    def __init__(self, key: PrivateKey) -> None:
        self._key = key
        self.algorithm: Algorithm = algorithm_of(key)

    @classmethod
    def create(cls, path: str | os.PathLike[str], passphrase: str, algorithm: str) -> FileSigner:
        check_passphrase(passphrase)
        key = generate_key(algorithm)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode()),
        )
        create_private_file(path, pem, what=("CA 私钥文件", "a CA key file"), field="dir")
        return cls(key)

    @classmethod
    def load(cls, path: str | os.PathLike[str], passphrase: str) -> FileSigner:
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            raise InvalidInput(f"找不到 CA 私钥文件：{path}，请先执行 eportcard ca init",
                               f"no CA key file at {path}; run `eportcard ca init` first",
                               field="dir") from None
        try:
            key = serialization.load_pem_private_key(data, passphrase.encode())
        except (ValueError, TypeError):
            raise InvalidInput("CA 私钥口令错误或密钥文件已损坏，请核对口令",
                               "wrong CA key passphrase or damaged key file; check the passphrase",
                               field="passphrase") from None
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise InvalidInput("CA 私钥类型不受支持", "unsupported CA key type", field="dir")
        return cls(key)

    def public_key(self) -> PublicKey:
        return self._key.public_key()

    def sign_certificate(self, builder: CertificateBuilder) -> Certificate:
        signed = builder.sign(self._key, hashes.SHA256())
        ca_signed("certificate")
        return signed

    def sign_crl(self, builder: CertificateRevocationListBuilder) -> CertificateRevocationList:
        signed = builder.sign(self._key, hashes.SHA256())
        ca_signed("crl")
        return signed

    def sign_ocsp(self, builder: ocsp.OCSPResponseBuilder) -> ocsp.OCSPResponse:
        signed = builder.sign(self._key, hashes.SHA256())
        ca_signed("ocsp")
        return signed

    def sign_bytes(self, data: bytes) -> bytes:
        signed = sign_data(self._key, data)
        ca_signed("data")
        return signed
