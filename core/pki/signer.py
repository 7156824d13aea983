"""Who holds the CA key. The rest of core.pki only talks to a ``Signer``.

cryptography's builders (certificate, CRL, OCSP response) can only sign with its own private-key
objects, so the Protocol takes the *builder* rather than bytes. ``FileSigner`` simply calls
``builder.sign(key, hash)``. A key that never leaves its token (core.pki.pkcs11) is a
``SplicingSigner``: the builder signs with a stand-in key of the same algorithm, which gives the DER
with the right signature algorithm and the TBS bytes; the token signs the SHA-256 digest of those
bytes, and its signature replaces the stand-in's (``splice_signature``). Nothing else changes.
"""

from __future__ import annotations

import functools
import os
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.x509 import (
    Certificate,
    CertificateBuilder,
    CertificateRevocationList,
    CertificateRevocationListBuilder,
    load_der_x509_certificate,
    load_der_x509_crl,
    ocsp,
)

from core.errors import InvalidInput
from core.metrics import ca_signed
from core.private_files import create_private_file

Algorithm = Literal["rsa2048", "ec-p256", "sm2"]
# sm2: SM2 keys signing SM2-with-SM3 (core.pki.sm2, core.pki.gm); the CA key then lives in a file only.
ALGORITHMS: tuple[Algorithm, ...] = ("rsa2048", "ec-p256", "sm2")

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
    """A fresh software key (CA keys; tests standing in for a card's key); an SM2 key is tongsuopy's."""
    if check_algorithm(algorithm) == "sm2":
        from core.pki import sm2
        return sm2.generate_private_key()
    if algorithm == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def algorithm_of(key: PrivateKey | PublicKey) -> Algorithm:
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey) and key.key_size == 2048:
        return "rsa2048"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and \
            isinstance(key.curve, ec.SECP256R1):
        return "ec-p256"
    from core.pki import sm2
    if sm2.is_public_key(key) or sm2.is_private_key(key):
        return "sm2"
    raise InvalidInput("密钥类型不受支持（仅支持 RSA-2048、ECDSA P-256 与 SM2）",
                       "unsupported key type (only RSA-2048, ECDSA P-256 and SM2)", field="public_key")


def sign_data(key: PrivateKey, data: bytes) -> bytes:
    """SHA-256 signature as ``openssl dgst -sha256 -sign`` makes it (PKCS#1 v1.5 or DER ECDSA); for an SM2
    key SM2-with-SM3 with the default ID (DER; core.pki.sm2)."""
    from core.pki import sm2
    if sm2.is_private_key(key):
        return sm2.sign(key, data)
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


def read_key_file(path: str | os.PathLike[str]) -> bytes:
    """A CA key file's bytes (InvalidInput when there is none)."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"找不到 CA 私钥文件：{path}，请先执行 eportcard ca init",
                           f"no CA key file at {path}; run `eportcard ca init` first", field="dir") from None


def wrong_passphrase() -> InvalidInput:
    return InvalidInput("CA 私钥口令错误或密钥文件已损坏，请核对口令",
                        "wrong CA key passphrase or damaged key file; check the passphrase", field="passphrase")


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
        data = read_key_file(path)
        try:
            key = serialization.load_pem_private_key(data, passphrase.encode())
        except (ValueError, TypeError):
            raise wrong_passphrase() from None
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


# ---- a key held elsewhere: sign the digest there, splice the signature in ------------------------------------

# DER tags of the elements rewritten below (X.690 8.1.2: one-byte identifiers).
_SEQUENCE, _BIT_STRING, _OCTET_STRING, _EXPLICIT_0 = 0x30, 0x03, 0x04, 0xA0


def _element(der: bytes, at: int) -> tuple[int, int]:
    """(where the contents of the DER element at ``at`` start, where the element ends): X.690 8.1.3,
    definite lengths only, as DER requires."""
    first = der[at + 1]
    if first < 0x80:
        return at + 2, at + 2 + first
    count = first & 0x7F
    start = at + 2 + count
    return start, start + int.from_bytes(der[at + 2:start], "big")


def _children(der: bytes) -> list[bytes]:
    """The encoded elements inside the constructed DER element ``der``."""
    start, end = _element(der, 0)
    children, at = [], start
    while at < end:
        _, child_end = _element(der, at)
        children.append(der[at:child_end])
        at = child_end
    return children


def _encode(tag: int, contents: bytes) -> bytes:
    length = len(contents)
    if length < 0x80:
        return bytes([tag, length]) + contents
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + contents


def splice_signature(signed: bytes, signature: bytes) -> bytes:
    """``signed`` (DER of SEQUENCE {tbs, signatureAlgorithm, signatureValue BIT STRING, ...}: a certificate,
    RFC 5280 4.1; a CRL, 5.1; a BasicOCSPResponse, RFC 6960 4.2.1) with ``signature`` in place of its own."""
    tbs, algorithm, _old, *rest = _children(signed)
    return _encode(_SEQUENCE, tbs + algorithm + _encode(_BIT_STRING, b"\x00" + signature) + b"".join(rest))


def splice_ocsp_signature(response: bytes, signature: bytes) -> bytes:
    """An OCSPResponse (RFC 6960 4.2.1: SEQUENCE {responseStatus, [0] EXPLICIT ResponseBytes {responseType,
    response OCTET STRING (the BasicOCSPResponse)}}) with ``signature`` in its BasicOCSPResponse."""
    status, explicit = _children(response)
    (response_bytes,) = _children(explicit)
    response_type, octets = _children(response_bytes)
    start, _end = _element(octets, 0)
    basic = splice_signature(octets[start:], signature)
    response_bytes = _encode(_SEQUENCE, response_type + _encode(_OCTET_STRING, basic))
    return _encode(_SEQUENCE, status + _encode(_EXPLICIT_0, response_bytes))


# The signature of a digest, in the form X.509 carries (RFC 8017 9.2 for RSA; RFC 3279 2.2.3 for ECDSA).
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")  # RFC 8017 9.2, note 1


def ecdsa_der(raw: bytes) -> bytes:
    """PKCS#11's ECDSA signature (r and s side by side, PKCS#11 v2.40 2.3.1) as the DER ECDSA-Sig-Value."""
    half = len(raw) // 2
    return utils.encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))


@functools.cache
def _stand_in(algorithm: Algorithm) -> PrivateKey:
    """The key a draft is signed with, made once per process. Its signatures are thrown away, so only the
    signature algorithm it gives the TBS must be right: sha256WithRSAEncryption and ecdsa-with-SHA256 name
    no key size or curve (RFC 4055 5, RFC 5758 3.2), and an RSA-1024 stand-in signs a draft ~5 times faster."""
    if algorithm == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return generate_key(algorithm)


@functools.lru_cache(maxsize=8)
def _stand_in_certificate(subject: x509.Name, key: PrivateKey) -> Certificate:
    """A throw-away certificate for ``key`` under the responder's name (the OCSP draft needs one)."""
    start = datetime(2000, 1, 1, tzinfo=UTC)
    return (CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(1).not_valid_before(start).not_valid_after(start.replace(year=2100))
            .sign(key, hashes.SHA256()))


def _digest(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SHA256())
    h.update(data)
    return h.finalize()


class SplicingSigner(ABC):
    """A CA key that signs SHA-256 digests elsewhere (``sign_digest``); certificates, CRLs and OCSP
    responses are built by cryptography and get that signature spliced in. Every signature is checked
    with the public key before it leaves, so a wrong key on the token is an error, not a bad CRL."""

    algorithm: Algorithm

    @abstractmethod
    def public_key(self) -> PublicKey: ...

    @abstractmethod
    def sign_digest(self, digest: bytes) -> bytes:
        """The signature of a SHA-256 ``digest`` as X.509 carries it (PKCS#1 v1.5 or DER ECDSA)."""

    def _signed(self, tbs: bytes) -> bytes:
        signature = self.sign_digest(_digest(tbs))
        key = self.public_key()
        try:
            if isinstance(key, rsa.RSAPublicKey):
                key.verify(signature, tbs, padding.PKCS1v15(), hashes.SHA256())
            else:
                key.verify(signature, tbs, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise InvalidInput("CA 签名无法用 CA 公钥验证：令牌上的密钥与 CA 证书不符",
                               "a CA signature does not verify with the CA's public key: the key on the token "
                               "is not the CA certificate's", field="pki.pkcs11_key_label") from None
        return signature

    def _spliced(self, draft: Certificate | CertificateRevocationList, tbs: bytes, signed: str) -> bytes:
        der = splice_signature(draft.public_bytes(serialization.Encoding.DER), self._signed(tbs))
        ca_signed(signed)
        return der

    def sign_certificate(self, builder: CertificateBuilder) -> Certificate:
        draft = builder.sign(_stand_in(self.algorithm), hashes.SHA256())
        return load_der_x509_certificate(self._spliced(draft, draft.tbs_certificate_bytes, "certificate"))

    def sign_crl(self, builder: CertificateRevocationListBuilder) -> CertificateRevocationList:
        draft = builder.sign(_stand_in(self.algorithm), hashes.SHA256())
        return load_der_x509_crl(self._spliced(draft, draft.tbs_certlist_bytes, "crl"))

    def sign_ocsp(self, builder: ocsp.OCSPResponseBuilder) -> ocsp.OCSPResponse:
        # cryptography signs a response only with the responder certificate's own key, so the draft names
        # a stand-in certificate (same subject, the stand-in key). By name that is already right; by key
        # hash (RFC 6960 4.2.1 KeyHash: SHA-1 of the subjectPublicKey bits, as RFC 5280 4.2.1.2 method 1)
        # the stand-in's 20 bytes are replaced with the real key's before the token signs the TBS.
        responder, encoding = builder._responder_id or (None, None)  # no public accessor (cryptography 48)
        if responder is None or encoding is None:
            raise ValueError("the OCSP response names no responder")
        stand_in = _stand_in(self.algorithm)
        draft = ocsp.OCSPResponseBuilder(builder._response, (_stand_in_certificate(responder.subject, stand_in),
                                                             encoding), builder._certs, builder._extensions)
        der = draft.sign(stand_in, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
        if encoding is ocsp.OCSPResponderEncoding.HASH:
            fake = x509.SubjectKeyIdentifier.from_public_key(stand_in.public_key()).digest
            real = x509.SubjectKeyIdentifier.from_public_key(self.public_key()).digest
            assert der.count(fake) == 1, "the stand-in key hash must appear exactly once"
            der = der.replace(fake, real)
        response = ocsp.load_der_ocsp_response(der)
        der = splice_ocsp_signature(der, self._signed(response.tbs_response_bytes))
        ca_signed("ocsp")
        return ocsp.load_der_ocsp_response(der)

    def sign_bytes(self, data: bytes) -> bytes:
        signed = self._signed(data)
        ca_signed("data")
        return signed
