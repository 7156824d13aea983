"""Every artefact the CA makes, made through its real code paths, for the outside judges (pkilint) and the
certificate-profile document: the CA certificates, each card kind's certificate new, renewed, on hold and
released, CRLs, and OCSP answers good / revoked / on hold / unknown / refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from attrs import frozen
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID
from pki_helpers import PASSPHRASE, SETTINGS, SUBJECT

from core.cards import SUPERSEDED
from core.model import CardKind
from core.pki import gm, revocation
from core.pki.ca import CertificateAuthority, new_serial, record_for, serial_hex
from core.pki.crl import build_crl
from core.pki.ocsp import OcspResponder
from core.pki.profiles import profile_for
from core.pki.registry import CertificateRecord, CertificateRegistry, MemoryRegistry, RegistryFactory
from core.pki.signer import generate_key

ROOT_NAME = "电子口岸测试根CA"
ISSUING_NAME = "电子口岸测试发卡CA"
NONCE = b"eportcard-nonce!"


@frozen
class OcspAnswer:
    request: bytes  # DER; empty when the request itself was garbage
    response: bytes  # DER, as the responder answered it
    record: CertificateRecord | None  # the registry's record of the certificate asked about, when it was asked


@frozen
class Artefacts:
    algorithm: str
    root: x509.Certificate
    issuing: x509.Certificate
    # label -> (issuer, certificate); labels name the kind and the moment, e.g. "operator on hold"
    cards: dict[str, tuple[x509.Certificate, x509.Certificate]]
    legacy: x509.Certificate  # as releases before the PrintableString fix wrote it
    crls: dict[str, x509.CertificateRevocationList]
    crl_records: dict[str, dict[int, CertificateRecord]]  # label -> serial -> the record each CRL lists
    ocsp: dict[str, OcspAnswer]
    started: datetime
    finished: datetime


def _now() -> datetime:
    return datetime.now(UTC)


def _request(certificate: x509.Certificate, issuer: x509.Certificate, algorithm: hashes.HashAlgorithm,
             nonce: bytes | None = None) -> bytes:
    if gm.is_sm2_certificate(issuer):  # pyca cannot hash an SM2 issuer key itself (RFC 6960 4.1.1 CertID)
        builder = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
            _hash(algorithm, issuer.subject.public_bytes()), _hash(algorithm, gm.key_bits(gm.certificate_spki(issuer))),
            certificate.serial_number, algorithm)
    else:
        builder = ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, algorithm)
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _hash(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    digest = hashes.Hash(algorithm)
    digest.update(data)
    return digest.finalize()


def legacy_certificate(ca: CertificateAuthority, algorithm: str, registry: CertificateRegistry) -> x509.Certificate:
    """A legal card certificate exactly as issued before the fix: serialNumber as UTF8String with '*'."""
    current = ca.issue(profile_for(CardKind.LEGAL, SETTINGS, algorithm), SUBJECT,
                       public_key=generate_key(algorithm).public_key())
    name = x509.Name([a for a in current.subject if a.oid != NameOID.SERIAL_NUMBER]
                     + [x509.NameAttribute(NameOID.SERIAL_NUMBER, SUBJECT.holder_id_masked, _ASN1Type.UTF8String)])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(current.issuer)
               .serial_number(new_serial())
               .not_valid_before(current.not_valid_before_utc).not_valid_after(current.not_valid_after_utc))
    for extension in current.extensions:
        builder = builder.add_extension(extension.value, critical=extension.critical)
    certificate = gm.sign_certificate(ca.signer, builder, gm.certificate_public_key(current))
    registry.add(record_for(certificate, card_id="card-legacy"))
    return certificate


def make_artefacts(base: Path, algorithm: str, registry_factory: RegistryFactory) -> Artefacts:
    """A root, an issuing CA under it, and everything they make; ``registry_factory`` is the store's or memory."""
    started = _now()
    root = CertificateAuthority.init(base / "root", ROOT_NAME, PASSPHRASE, algorithm)
    issuing = CertificateAuthority.init(base / "issuing", ISSUING_NAME, PASSPHRASE, algorithm, root=root)
    ca_cert = issuing.certificate
    crls: dict[str, x509.CertificateRevocationList] = {}
    listed: dict[str, dict[int, CertificateRecord]] = {}

    def crl(label: str) -> None:
        with registry_factory() as registry:
            crls[label] = build_crl(issuing, registry)
            listed[label] = {int(r.serial, 16): r for r in registry.revoked()}

    def stored(registry: CertificateRegistry, certificate: x509.Certificate) -> x509.Certificate:
        record = registry.get(serial_hex(certificate.serial_number))
        assert record is not None
        return x509.load_pem_x509_certificate(record.pem.encode())

    crl("empty")
    cards: dict[str, tuple[x509.Certificate, x509.Certificate]] = {}
    with registry_factory() as registry:
        for kind in CardKind:
            cards[str(kind)] = ca_cert, issuing.issue(profile_for(kind, SETTINGS, algorithm), SUBJECT,
                                                      public_key=generate_key(algorithm).public_key(),
                                                      registry=registry, card_id=f"card-{kind}")
        legal, operator, declarant = (cards[str(k)][1] for k in CardKind)
        cards["legal renewed"] = ca_cert, issuing.renew(legal, registry=registry)
        revocation.apply_cert_effect(registry, serial_hex(legal.serial_number), SUPERSEDED)
        legacy = legacy_certificate(issuing, algorithm, registry)
        cards["legacy legal renewed"] = ca_cert, issuing.renew(legacy, registry=registry)
        revocation.revoke(registry, serial_hex(legacy.serial_number), "unspecified")  # no reason code
        revocation.apply_card_action(registry, serial_hex(operator.serial_number), "freeze")
        for move in ("report_lost", "void"):  # held while lost, then revoked (keyCompromise)
            revocation.apply_card_action(registry, serial_hex(declarant.serial_number), move)
        cards["operator on hold"] = ca_cert, stored(registry, operator)
    crl("held and revoked")

    responder = OcspResponder(issuing, registry_factory)
    stranger = issuing.issue(profile_for(CardKind.LEGAL, SETTINGS, algorithm), SUBJECT,
                             public_key=generate_key(algorithm).public_key())  # signed, never recorded

    def answer(certificate: x509.Certificate | None, der: bytes) -> OcspAnswer:
        with registry_factory() as registry:
            record = registry.get(serial_hex(certificate.serial_number)) if certificate else None
        return OcspAnswer(der, responder.respond(der or b"not an OCSP request"), record)

    renewed = cards["legal renewed"][1]
    answers = {
        "good": answer(renewed, _request(renewed, ca_cert, hashes.SHA1())),
        "good, SHA-256 certID and nonce": answer(renewed, _request(renewed, ca_cert, hashes.SHA256(), NONCE)),
        "revoked": answer(declarant, _request(declarant, ca_cert, hashes.SHA1())),
        "revoked, reason unspecified": answer(legacy, _request(legacy, ca_cert, hashes.SHA1())),
        "on hold": answer(operator, _request(operator, ca_cert, hashes.SHA1())),
        "unknown": answer(stranger, _request(stranger, ca_cert, hashes.SHA1())),
        # asks about our card naming the root as its issuer: not a certificate this responder answers for
        "unauthorized": answer(operator, _request(operator, root.certificate, hashes.SHA1())),
        "malformed": answer(None, b""),
    }

    with registry_factory() as registry:
        revocation.apply_card_action(registry, serial_hex(operator.serial_number), "unfreeze")
        cards["operator released"] = ca_cert, stored(registry, operator)
    crl("after release")
    answers["good after release"] = answer(operator, _request(operator, ca_cert, hashes.SHA1()))

    # A deployment whose one CA is a root issues cards and signs its CRL itself.
    root_registry = MemoryRegistry()
    direct = root.issue(profile_for(CardKind.OPERATOR, SETTINGS, algorithm), SUBJECT,
                        public_key=generate_key(algorithm).public_key(), registry=root_registry)
    cards["operator from a root CA"] = root.certificate, direct
    revocation.revoke(root_registry, serial_hex(direct.serial_number), "keyCompromise")
    crls["root CA's CRL"] = build_crl(root, root_registry)
    listed["root CA's CRL"] = {int(r.serial, 16): r for r in root_registry.revoked()}
    return Artefacts(algorithm=algorithm, root=root.certificate, issuing=ca_cert, cards=cards, legacy=legacy,
                     crls=crls, crl_records=listed, ocsp=answers, started=started, finished=_now())
