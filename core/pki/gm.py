"""SM2 in the CA: an SM2 CA key, and certificates, CRLs and OCSP answers signed SM2-with-SM3.

cryptography (pyca) builds and parses X.509 but knows neither SM2 keys nor SM3, so its builders cannot sign
with an SM2 key nor hold an SM2 subject key. The SM2 path keeps everything else of theirs: the CA still fills
the same ``CertificateBuilder``, ``CertificateRevocationListBuilder`` and ``OCSPResponseBuilder``; the builder
signs a draft with a throw-away P-256 key, which gives the whole DER as the RSA and P-256 profiles have it;
the draft's to-be-signed part is then taken apart into its DER elements and put together with the real
signature algorithm, the real subject key (and, for OCSP, the real responder key hash) in their places, and
the CA key signs those bytes (asn1crypto encodes the AlgorithmIdentifiers).
The result is parsed back with pyca, which reads everything of it except an SM2 public key, so the rest of
the CA, the registry and the store keep working with ``x509.Certificate`` objects.

Every key algorithm can sign every other's certificate this way (an SM2 CA certifies an RSA card key, an RSA
CA an SM2 card key): the signature algorithm is the CA's, the subject key the card's. Public keys are kept
as DER SubjectPublicKeyInfo where the two libraries meet (``spki_der``, ``load_public_key``).
"""

from __future__ import annotations

import functools
import hashlib
import os
from datetime import UTC, datetime
from typing import Any

from asn1crypto import algos
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp

from core.errors import InvalidInput
from core.metrics import ca_signed
from core.pki import sm2
from core.pki.signer import (  # the DER helpers splice_signature uses (X.690 definite lengths)
    _BIT_STRING,
    _EXPLICIT_0,
    _OCTET_STRING,
    _SEQUENCE,
    Algorithm,
    _children,
    _element,
    _encode,
    check_passphrase,
    read_key_file,
    wrong_passphrase,
)
from core.private_files import create_private_file

_BY_KEY = 0xA2  # ResponderID byKey, [2] EXPLICIT (RFC 6960 4.2.1)

# The AlgorithmIdentifier each CA algorithm signs with: RFC 4055 §5 (sha256WithRSAEncryption, NULL
# parameters), RFC 5758 §3.2 (ecdsa-with-SHA256, no parameters), GM/T 0006-2012 (SM2-with-SM3, none).
_SIGNATURE_ALGORITHMS: dict[str, dict[str, Any]] = {
    "rsa2048": {"algorithm": "sha256_rsa", "parameters": None},
    "ec-p256": {"algorithm": "sha256_ecdsa"},
    "sm2": {"algorithm": sm2.SM2_WITH_SM3_OID},
}
_SIGNATURE_OIDS = {"1.2.840.113549.1.1.11": "rsa2048", "1.2.840.10045.4.3.2": "ec-p256",
                   sm2.SM2_WITH_SM3_OID: "sm2"}


def signature_algorithm(algorithm: str) -> algos.SignedDigestAlgorithm:
    return algos.SignedDigestAlgorithm(_SIGNATURE_ALGORITHMS[algorithm])


# ---- public keys of either library ----------------------------------------------------------------------------


def spki_der(key: Any) -> bytes:
    """The DER SubjectPublicKeyInfo of a public key (pyca's RSA / EC, or tongsuopy's SM2)."""
    if sm2.is_public_key(key):
        return _sm2_spki(key)
    return bytes(key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


@functools.lru_cache(maxsize=256)
def _sm2_spki(key: Any) -> bytes:
    # A CA key and the card keys at hand are asked again and again while issuing (SKI, AKI, the certificate).
    return sm2.public_key_der(key)


def load_public_key(spki: bytes) -> Any:
    """A DER SubjectPublicKeyInfo as a key object: tongsuopy's for SM2, pyca's otherwise."""
    if sm2.is_sm2_spki(spki):
        return sm2.load_public_key(spki)
    return serialization.load_der_public_key(spki)


def certificate_spki(certificate: x509.Certificate) -> bytes:
    """A certificate's SubjectPublicKeyInfo, DER, whatever its key (pyca cannot load an SM2 key)."""
    return _children(certificate.tbs_certificate_bytes)[_CERT_SPKI]


def certificate_public_key(certificate: x509.Certificate) -> Any:
    """A certificate's public key (pyca's object, or tongsuopy's for SM2)."""
    return load_public_key(certificate_spki(certificate))


def is_sm2_certificate(certificate: x509.Certificate) -> bool:
    return sm2.is_sm2_spki(certificate_spki(certificate))


def csr_spki(csr: x509.CertificateSigningRequest) -> bytes:
    return _children(csr.tbs_certrequest_bytes)[2]  # CertificationRequestInfo: version, subject, the key (RFC 2986 4.1)


def csr_public_key(csr: x509.CertificateSigningRequest) -> Any:
    """A certificate request's public key (pyca's object, or tongsuopy's for SM2)."""
    return load_public_key(csr_spki(csr))


def csr_signature_valid(csr: x509.CertificateSigningRequest) -> bool:
    """Whether the request is signed by its own key. An SM2 request must be signed SM2-with-SM3 with the
    GM/T 0009 default ID (``openssl req ... -sm3 -sigopt distid:1234567812345678``)."""
    spki = csr_spki(csr)
    if not sm2.is_sm2_spki(spki):
        return csr.is_signature_valid
    if csr.signature_algorithm_oid.dotted_string != sm2.SM2_WITH_SM3_OID:
        return False
    try:
        verify_signature(spki, "sm2", csr.signature, csr.tbs_certrequest_bytes)
    except InvalidSignature:
        return False
    return True


def key_bits(spki: bytes) -> bytes:
    """The subjectPublicKey BIT STRING's contents (RFC 5280 4.1): what SKIs and OCSP key hashes are taken over."""
    bit_string = _children(spki)[1]  # SubjectPublicKeyInfo ::= SEQUENCE {algorithm, subjectPublicKey}
    start, end = _element(bit_string, 0)
    return bit_string[start + 1:end]  # after the count of unused bits, always 0 for a key


@functools.lru_cache(maxsize=256)
def key_identifier(spki: bytes) -> bytes:
    """RFC 5280 4.2.1.2 method (1): the SHA-1 of the subjectPublicKey bits (as pyca's ``from_public_key``)."""
    return hashlib.sha1(key_bits(spki), usedforsecurity=False).digest()


def key_algorithm(key: Any) -> Algorithm:
    """``rsa2048``, ``ec-p256`` or ``sm2`` for a public key of either library (else InvalidInput)."""
    if sm2.is_public_key(key):
        return "sm2"
    from core.pki.signer import algorithm_of
    return algorithm_of(key)


def verify_signature(spki: bytes, algorithm: str, signature: bytes, data: bytes) -> None:
    """Check ``signature`` of ``data`` by the key ``spki`` with ``algorithm`` (``rsa2048``: PKCS#1 v1.5 SHA-256;
    ``ec-p256``: ECDSA SHA-256; ``sm2``: SM2-with-SM3). Raises cryptography's InvalidSignature."""
    key = load_public_key(spki)
    try:
        if algorithm == "sm2" and sm2.is_public_key(key):
            sm2.verify(key, signature, data)
        elif algorithm == "rsa2048" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif algorithm == "ec-p256" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            raise InvalidSignature
    except ValueError:
        raise InvalidSignature from None


def verify_issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> None:
    """What pyca's ``verify_directly_issued_by`` checks, for every algorithm here: the issuer's name and its
    signature over the TBS. Raises ValueError (names differ) or InvalidSignature."""
    if not (is_sm2_certificate(issuer) or is_sm2_certificate(certificate)):
        certificate.verify_directly_issued_by(issuer)  # pyca does it all for RSA and P-256
        return
    if certificate.issuer != issuer.subject:
        raise ValueError("the certificate's issuer is not this CA")
    algorithm = _SIGNATURE_OIDS.get(certificate.signature_algorithm_oid.dotted_string)
    if algorithm is None:
        raise InvalidSignature
    verify_signature(certificate_spki(issuer), algorithm, certificate.signature, certificate.tbs_certificate_bytes)


# ---- signing a pyca draft with any CA key ---------------------------------------------------------------------


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@functools.cache
def _stand_in() -> ec.EllipticCurvePrivateKey:
    # Signs drafts only; its signatures are always replaced. Made once per process.
    return ec.generate_private_key(ec.SECP256R1())


@functools.lru_cache(maxsize=8)
def _stand_in_certificate(subject: x509.Name) -> x509.Certificate:
    key = _stand_in()
    start = x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
    return start.serial_number(1).not_valid_before(_EPOCH).not_valid_after(_EPOCH.replace(year=2100)).sign(
        key, hashes.SHA256())


def _signer_algorithm(signer: Any) -> str:
    return str(signer.algorithm)


def sign_certificate(signer: Any, builder: x509.CertificateBuilder, public_key: Any) -> x509.Certificate:
    """``builder`` (everything but its public key) for ``public_key``, signed by ``signer``: the signer's own
    ``sign_certificate`` when pyca can do it all, else a draft re-signed here."""
    if sm2.is_public_key(public_key):
        return resign_certificate(signer, builder.public_key(_stand_in().public_key()),
                                  spki=sm2.public_key_der(public_key))
    return signer.sign_certificate(builder.public_key(public_key))


# The DER of a signed structure is SEQUENCE {tbs, signatureAlgorithm, signature BIT STRING, ...}: a certificate
# (RFC 5280 4.1), a CRL (5.1), a BasicOCSPResponse (RFC 6960 4.2.1). The draft's TBS is taken apart into its
# elements and put together again with the pieces replaced (X.690 DER, definite lengths), so a 100,000-entry CRL
# is copied once instead of decoded and encoded again. The certificate TBS holds the signature algorithm as its
# third element and the key as its seventh (version [0] is always there: v3), a CRL TBS the algorithm as its
# second (version v2 is always there), and ResponseData leaves its version out (the DEFAULT v1) and names the
# responder first.
_CERT_SIGNATURE, _CERT_SPKI, _CRL_SIGNATURE, _OCSP_RESPONDER = 2, 6, 1, 0


def _signed_der(signer: Any, tbs: bytes) -> bytes:
    """SEQUENCE {tbs, the signer's AlgorithmIdentifier, BIT STRING {the signature}}."""
    return _encode(_SEQUENCE, tbs + _algorithm_der(_signer_algorithm(signer))
                   + _encode(_BIT_STRING, b"\x00" + _sign(signer, tbs)))


def _replaced(der: bytes, replacements: dict[int, bytes]) -> bytes:
    elements = _children(der)
    for index, element in replacements.items():
        elements[index] = element
    return _encode(_SEQUENCE, b"".join(elements))


@functools.cache
def _algorithm_der(algorithm: str) -> bytes:
    return bytes(signature_algorithm(algorithm).dump())


def resign_certificate(signer: Any, builder: x509.CertificateBuilder, spki: bytes | None = None
                       ) -> x509.Certificate:
    """The certificate ``builder`` describes (with ``spki`` as its key, when given) signed by ``signer``."""
    draft = builder.sign(_stand_in(), hashes.SHA256())
    replacements = {_CERT_SIGNATURE: _algorithm_der(_signer_algorithm(signer))}
    if spki is not None:
        replacements[_CERT_SPKI] = spki
    signed = _signed_der(signer, _replaced(draft.tbs_certificate_bytes, replacements))
    ca_signed("certificate")
    return x509.load_der_x509_certificate(signed)


def resign_crl(signer: Any, builder: x509.CertificateRevocationListBuilder) -> x509.CertificateRevocationList:
    """The CRL ``builder`` describes, signed by ``signer``."""
    draft = builder.sign(_stand_in(), hashes.SHA256())
    tbs = _replaced(draft.tbs_certlist_bytes, {_CRL_SIGNATURE: _algorithm_der(_signer_algorithm(signer))})
    signed = _signed_der(signer, tbs)
    ca_signed("crl")
    return x509.load_der_x509_crl(signed)


def resign_ocsp(signer: Any, builder: ocsp.OCSPResponseBuilder, responder: x509.Certificate) -> ocsp.OCSPResponse:
    """The OCSP response ``builder`` describes, signed by ``signer`` as ``responder``. pyca signs a response
    only with the responder certificate's own key, so the draft names a stand-in certificate of the same
    subject; by key (RFC 6960 4.2.1, KeyHash: SHA-1 of the subjectPublicKey bits) the real key's hash goes in."""
    _responder, encoding = builder._responder_id or (None, None)  # no public accessor (cryptography 48-50)
    if encoding is None:
        raise ValueError("the OCSP response names no responder")
    draft_builder = ocsp.OCSPResponseBuilder(builder._response, (_stand_in_certificate(responder.subject), encoding),
                                             builder._certs, builder._extensions)
    draft = draft_builder.sign(_stand_in(), hashes.SHA256())
    tbs = draft.tbs_response_bytes
    if encoding is ocsp.OCSPResponderEncoding.HASH:  # ResponderID byKey: [2] EXPLICIT OCTET STRING
        by_key = _encode(_BY_KEY, _encode(_OCTET_STRING, key_identifier(certificate_spki(responder))))
        tbs = _replaced(tbs, {_OCSP_RESPONDER: by_key})
    # OCSPResponse: SEQUENCE {responseStatus, [0] EXPLICIT SEQUENCE {responseType, response OCTET STRING}}
    status, explicit = _children(draft.public_bytes(serialization.Encoding.DER))
    response_type, _basic = _children(_children(explicit)[0])
    response_bytes = _encode(_SEQUENCE, response_type + _encode(_OCTET_STRING, _signed_der(signer, tbs)))
    ca_signed("ocsp")
    return ocsp.load_der_ocsp_response(_encode(_SEQUENCE, status + _encode(_EXPLICIT_0, response_bytes)))


def _sign(signer: Any, tbs: bytes) -> bytes:
    # sign_bytes counts a "data" signature in the metrics; the callers count what was really signed.
    if isinstance(signer, Sm2FileSigner):
        return sm2.sign(signer._key, tbs)
    return bytes(signer.sign_bytes(tbs))


# ---- an SM2 CA key in a file ----------------------------------------------------------------------------------


class Sm2FileSigner:
    """An SM2 CA key in a PKCS#8 PEM file, encrypted with the passphrase (PBES2, as Tongsuo writes it), readable
    by its owner only: the same rules as ``FileSigner`` for RSA and P-256 keys."""

    algorithm: Algorithm = "sm2"

    def __init__(self, key: Any) -> None:
        if not sm2.is_private_key(key):
            raise InvalidInput("不是 SM2 私钥", "not an SM2 private key", field="dir")
        self._key = key

    @classmethod
    def create(cls, path: str | os.PathLike[str], passphrase: str) -> Sm2FileSigner:
        check_passphrase(passphrase)
        key = sm2.generate_private_key()
        create_private_file(path, sm2.private_key_pem(key, passphrase), what=("CA 私钥文件", "a CA key file"),
                            field="dir")
        return cls(key)

    @classmethod
    def load(cls, path: str | os.PathLike[str], passphrase: str) -> Sm2FileSigner:
        data = read_key_file(path)
        try:
            return cls(sm2.load_private_key_pem(data, passphrase))
        except ValueError:
            raise wrong_passphrase() from None

    def public_key(self) -> Any:
        return self._key.public_key()

    def sign_certificate(self, builder: x509.CertificateBuilder) -> x509.Certificate:
        return resign_certificate(self, builder)

    def sign_crl(self, builder: x509.CertificateRevocationListBuilder) -> x509.CertificateRevocationList:
        return resign_crl(self, builder)

    def sign_ocsp(self, builder: ocsp.OCSPResponseBuilder) -> ocsp.OCSPResponse:
        responder, _encoding = builder._responder_id or (None, None)
        if responder is None:
            raise ValueError("the OCSP response names no responder")
        return resign_ocsp(self, builder, responder)

    def sign_bytes(self, data: bytes) -> bytes:
        signed = sm2.sign(self._key, data)
        ca_signed("data")
        return signed


def load_file_signer(path: str | os.PathLike[str], passphrase: str, certificate: x509.Certificate) -> Any:
    """The key file of the CA whose certificate is ``certificate``: an SM2 one for an SM2 CA, else None."""
    if is_sm2_certificate(certificate):
        return Sm2FileSigner.load(path, passphrase)
    return None


__all__ = ["Sm2FileSigner", "certificate_public_key", "certificate_spki", "is_sm2_certificate", "key_algorithm",
           "key_bits", "key_identifier", "load_file_signer", "load_public_key", "resign_certificate", "resign_crl",
           "resign_ocsp", "sign_certificate", "signature_algorithm", "spki_der", "verify_issued_by",
           "verify_signature"]
