"""The sm2 profile, checked from outside with the OpenSSL 3 command line: the SM2 CA and its encrypted key,
card certificates issued (from a key and from a CSR), renewed, held, released and revoked, CRLs and OCSP
answers signed SM2-with-SM3, and certificates across profiles (an SM2 CA certifying an RSA key and back).

OpenSSL 3 verifies SM2 with an empty signer ID unless told otherwise, and every signature here uses the
GM/T 0009 default ID: certificates are checked with ``openssl verify -vfyopt distid:...`` one link at a time
(OpenSSL passes the ID to the certificate it is asked about only), CRLs and OCSP answers by taking their
signed bytes apart with ``openssl asn1parse -strparse`` and ``openssl pkeyutl -verify ... -pkeyopt distid:``.
"""

from __future__ import annotations

import hashlib
import re
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from pki_helpers import PASSPHRASE, SETTINGS, SUBJECT, openssl, write_pem

from core.errors import InvalidInput
from core.pki import gm, revocation, sm2
from core.pki.ca import KEY_FILE, CertificateAuthority, serial_hex
from core.pki.crl import build_crl
from core.pki.ocsp import OcspResponder
from core.pki.profiles import profile_for
from core.pki.registry import MemoryRegistry
from core.pki.signer import generate_key

DISTID = "distid:1234567812345678"  # GM/T 0009-2012 §10


@pytest.fixture(scope="module")
def sm2_cas(tmp_path_factory) -> tuple[CertificateAuthority, CertificateAuthority]:
    base = tmp_path_factory.mktemp("sm2-ca")
    root = CertificateAuthority.init(base / "root", "电子口岸SM2根CA", PASSPHRASE, "sm2")
    return root, CertificateAuthority.init(base / "issuing", "电子口岸SM2发卡CA", PASSPHRASE, "sm2", root=root)


def _pem(path: Path, *items: x509.Certificate | x509.CertificateRevocationList) -> Path:
    return write_pem(path, *items)


def verify_link(tmp_path: Path, certificate: x509.Certificate, issuer: x509.Certificate, *,
                distid: bool = True) -> bool:
    """``openssl verify`` of one certificate by its issuer, with the GM/T 0009 ID (or without)."""
    options = ["-vfyopt", DISTID] if distid else []
    result = openssl("verify", *options, "-partial_chain", "-CAfile", _pem(tmp_path / "issuer.pem", issuer),
                     _pem(tmp_path / "subject.pem", certificate), check=False)
    return result.returncode == 0 and result.stdout.decode().strip().endswith(": OK")


def signed_bytes_verify(tmp_path: Path, der: bytes, key_pem: bytes, *, path: tuple[int, ...] = ()) -> str:
    """Take a signed structure (SEQUENCE {tbs, algorithm, signature BIT STRING}) apart with ``openssl asn1parse
    -strparse`` and check the signature over the TBS with ``openssl pkeyutl`` and the GM/T 0009 ID. ``path``
    are the offsets that lead from ``der`` down to that structure (an OCSP answer's BasicOCSPResponse)."""
    (tmp_path / "signed.der").write_bytes(der)
    (tmp_path / "ca-key.pem").write_bytes(key_pem)
    drill = [arg for offset in path for arg in ("-strparse", str(offset))]
    listing = openssl("asn1parse", "-inform", "DER", "-in", tmp_path / "signed.der", *drill).stdout.decode()
    top = [line for line in listing.splitlines() if ":d=1 " in line]
    assert "SEQUENCE" in top[0] and "BIT STRING" in top[-1], listing
    for offset, name in ((top[0], "tbs.der"), (top[-1], "signature.der")):
        openssl("asn1parse", "-inform", "DER", "-in", tmp_path / "signed.der", *drill,
                "-strparse", offset.split(":")[0].strip(), "-noout", "-out", tmp_path / name)
    result = openssl("pkeyutl", "-verify", "-pubin", "-inkey", tmp_path / "ca-key.pem", "-rawin", "-digest", "sm3",
                     "-pkeyopt", DISTID, "-in", tmp_path / "tbs.der", "-sigfile", tmp_path / "signature.der",
                     check=False)
    return (result.stdout + result.stderr).decode()


def _ca_key_pem(ca: CertificateAuthority) -> bytes:
    return sm2.public_key_pem(ca.signer.public_key())


# ---- the CA ----------------------------------------------------------------------------------------------------


def test_the_sm2_ca_key_is_encrypted_owner_only_and_needs_its_passphrase(tmp_path, sm2_cas):
    _, issuing = sm2_cas
    key_file = issuing.directory / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    shown = openssl("pkey", "-in", key_file, "-passin", f"pass:{PASSPHRASE}", "-noout", "-text").stdout.decode()
    assert "ASN1 OID: SM2" in shown
    assert openssl("pkey", "-in", key_file, "-passin", "pass:not the passphrase", check=False).returncode != 0
    with pytest.raises(InvalidInput) as wrong:
        CertificateAuthority.load(issuing.directory, "not the passphrase at all")
    assert wrong.value.field == "passphrase" and wrong.value.zh and wrong.value.en
    reopened = CertificateAuthority.load(issuing.directory, PASSPHRASE)
    assert reopened.signer.algorithm == "sm2" and reopened.certificate == issuing.certificate
    with pytest.raises(InvalidInput, match="passphrase is too weak"):
        CertificateAuthority.init(tmp_path / "weak", "弱口令CA", "short", "sm2")
    assert not (tmp_path / "weak" / KEY_FILE).exists()


def test_an_sm2_ca_will_not_open_with_another_key(tmp_path, sm2_cas):
    _, issuing = sm2_cas
    other = CertificateAuthority.init(tmp_path / "other", "另一个CA", PASSPHRASE, "sm2")
    with pytest.raises(InvalidInput, match="does not match the CA certificate"):
        CertificateAuthority.open(issuing.directory, other.signer)


def test_the_chain_is_sm2_with_sm3_and_verifies_with_the_gmt_0009_id(tmp_path, sm2_cas):
    root, issuing = sm2_cas
    text = openssl("x509", "-in", _pem(tmp_path / "issuing.pem", issuing.certificate), "-noout", "-text"
                   ).stdout.decode()
    assert text.count("Signature Algorithm: SM2-with-SM3") == 2 and "ASN1 OID: SM2" in text
    assert verify_link(tmp_path, root.certificate, root.certificate)
    assert verify_link(tmp_path, issuing.certificate, root.certificate)
    # the fact the docs build on: OpenSSL 3 without the ID uses an empty one, and the signature fails
    assert not verify_link(tmp_path, issuing.certificate, root.certificate, distid=False)


# ---- card certificates ---------------------------------------------------------------------------------------


def test_a_card_certificate_from_an_sm2_card_key_renewed_and_revoked(tmp_path, sm2_cas):
    _, issuing = sm2_cas
    registry = MemoryRegistry()
    card_key = sm2.generate_private_key()
    cert = issuing.issue(profile_for("legal", SETTINGS, "sm2"), SUBJECT, public_key=card_key.public_key(),
                         registry=registry, card_id="card-1")
    assert gm.certificate_spki(cert) == sm2.public_key_der(card_key.public_key())
    assert verify_link(tmp_path, cert, issuing.certificate)
    text = openssl("x509", "-in", _pem(tmp_path / "card.pem", cert), "-noout", "-text").stdout.decode()
    assert "Signature Algorithm: SM2-with-SM3" in text and "ASN1 OID: SM2" in text
    assert "Digital Signature, Non Repudiation, Key Agreement" in text
    assert "serialNumber = 4403----------1234" in text
    stored = registry.get(serial_hex(cert.serial_number))
    assert stored is not None and stored.card_id == "card-1" and stored.status == "good"

    renewed = issuing.renew(cert, registry=registry)
    assert gm.certificate_spki(renewed) == gm.certificate_spki(cert) and renewed.subject == cert.subject
    assert renewed.serial_number != cert.serial_number and verify_link(tmp_path, renewed, issuing.certificate)
    assert registry.get(serial_hex(renewed.serial_number)).card_id == "card-1"  # type: ignore[union-attr]

    rekeyed = issuing.renew(cert, public_key=sm2.generate_private_key().public_key())
    assert gm.certificate_spki(rekeyed) != gm.certificate_spki(cert) and verify_link(tmp_path, rekeyed,
                                                                                       issuing.certificate)

    # a card's data signature verifies with the certificate's key, as a customs tool would check it
    data = "报关单 5300 2024 0000 1234 合计 12345.67 元".encode()
    (tmp_path / "data").write_bytes(data)
    (tmp_path / "sig").write_bytes(sm2.sign(card_key, data))
    (tmp_path / "pub.pem").write_bytes(openssl("x509", "-in", tmp_path / "card.pem", "-noout", "-pubkey").stdout)
    checked = openssl("pkeyutl", "-verify", "-pubin", "-inkey", tmp_path / "pub.pem", "-rawin", "-digest", "sm3",
                      "-pkeyopt", DISTID, "-in", tmp_path / "data", "-sigfile", tmp_path / "sig")
    assert b"Signature Verified Successfully" in checked.stdout


def test_renewal_refuses_a_certificate_this_ca_did_not_sign(tmp_path, sm2_cas):
    root, issuing = sm2_cas
    stranger = CertificateAuthority.init(tmp_path / "stranger", "电子口岸SM2发卡CA", PASSPHRASE, "sm2", root=root)
    foreign = stranger.issue(profile_for("legal", SETTINGS, "sm2"), SUBJECT,
                             public_key=sm2.generate_private_key().public_key())
    assert foreign.issuer == issuing.certificate.subject  # same name, another key
    with pytest.raises(InvalidInput, match="does not verify against this CA"):
        issuing.renew(foreign)


def _sm2_csr(tmp_path: Path, name: str = "req", *, distid: bool = True) -> x509.CertificateSigningRequest:
    """An SM2 CSR from ``openssl req`` (signed with the GM/T 0009 ID, or with OpenSSL's empty default)."""
    key = tmp_path / f"{name}-key.pem"
    key.write_bytes(sm2.private_key_pem(sm2.generate_private_key()))
    options = ["-sigopt", DISTID] if distid else []
    openssl("req", "-new", "-key", key, "-sm3", *options, "-subj", "/CN=ignored", "-out", tmp_path / f"{name}.pem")
    return x509.load_pem_x509_csr((tmp_path / f"{name}.pem").read_bytes())


def test_a_csr_made_by_openssl_with_the_gmt_0009_id(tmp_path, sm2_cas):
    _, issuing = sm2_cas
    csr = _sm2_csr(tmp_path)
    cert = issuing.issue(profile_for("operator", SETTINGS, "sm2"), SUBJECT, csr=csr)
    assert gm.certificate_spki(cert) == gm.csr_spki(csr)
    assert cert.subject == SUBJECT.x509_name("operator")  # never the CSR's
    assert verify_link(tmp_path, cert, issuing.certificate)


def test_csrs_that_do_not_verify_with_the_gmt_0009_id_are_refused(tmp_path, sm2_cas):
    _, issuing = sm2_cas
    profile = profile_for("operator", SETTINGS, "sm2")
    empty_id = _sm2_csr(tmp_path, "empty-id", distid=False)
    der = bytearray(_sm2_csr(tmp_path, "good").public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # one bit of the signature
    tampered = x509.load_der_x509_csr(bytes(der))
    for csr in (empty_id, tampered):
        with pytest.raises(InvalidInput) as refused:
            issuing.issue(profile, SUBJECT, csr=csr)
        assert refused.value.field == "csr" and "CSR" in refused.value.en


def test_the_key_must_fit_the_profile(sm2_cas):
    _, issuing = sm2_cas
    with pytest.raises(InvalidInput) as refused:
        issuing.issue(profile_for("legal", SETTINGS, "sm2"), SUBJECT, public_key=generate_key("ec-p256").public_key())
    assert refused.value.field == "public_key" and "sm2" in refused.value.en
    with pytest.raises(InvalidInput) as refused:
        issuing.issue(profile_for("legal", SETTINGS, "ec-p256"), SUBJECT,
                      public_key=sm2.generate_private_key().public_key())
    assert refused.value.field == "public_key"


def test_profiles_across_cas(tmp_path, sm2_cas):
    """An SM2 CA certifies an RSA card key (signed SM2-with-SM3); an RSA CA certifies an SM2 card key (signed
    sha256WithRSAEncryption): the CA's signature algorithm, the card's key."""
    _, issuing = sm2_cas
    rsa_card = issuing.issue(profile_for("operator", SETTINGS, "rsa2048"), SUBJECT,
                             public_key=generate_key("rsa2048").public_key())
    assert rsa_card.signature_algorithm_oid.dotted_string == sm2.SM2_WITH_SM3_OID
    assert "Key Encipherment" in openssl("x509", "-in", _pem(tmp_path / "r.pem", rsa_card), "-noout", "-text"
                                         ).stdout.decode()
    assert verify_link(tmp_path, rsa_card, issuing.certificate)

    rsa_ca = CertificateAuthority.init(tmp_path / "rsa", "电子口岸RSA发卡CA", PASSPHRASE, "rsa2048")
    sm2_card = rsa_ca.issue(profile_for("legal", SETTINGS, "sm2"), SUBJECT,
                            public_key=sm2.generate_private_key().public_key())
    text = openssl("x509", "-in", _pem(tmp_path / "s.pem", sm2_card), "-noout", "-text").stdout.decode()
    assert "Signature Algorithm: sha256WithRSAEncryption" in text and "ASN1 OID: SM2" in text
    assert verify_link(tmp_path, sm2_card, rsa_ca.certificate, distid=False)  # an RSA signature needs no ID
    renewed = rsa_ca.renew(sm2_card)
    assert gm.certificate_spki(renewed) == gm.certificate_spki(sm2_card)
    assert verify_link(tmp_path, renewed, rsa_ca.certificate, distid=False)


# ---- CRLs and OCSP ---------------------------------------------------------------------------------------------


def test_crl_lists_held_and_revoked_and_is_signed_sm2_with_sm3(tmp_path, sm2_cas):
    _, issuing = sm2_cas
    registry = MemoryRegistry()
    held, revoked, released = (issuing.issue(profile_for("operator", SETTINGS, "sm2"), SUBJECT, registry=registry,
                                             public_key=sm2.generate_private_key().public_key())
                               for _ in range(3))
    revocation.hold(registry, serial_hex(held.serial_number))
    revocation.revoke(registry, serial_hex(revoked.serial_number), "keyCompromise")
    revocation.hold(registry, serial_hex(released.serial_number))
    revocation.release(registry, serial_hex(released.serial_number))
    crl = build_crl(issuing, registry, crl_number=7)
    der = crl.public_bytes(serialization.Encoding.DER)
    (tmp_path / "crl.der").write_bytes(der)
    text = openssl("crl", "-inform", "DER", "-in", tmp_path / "crl.der", "-noout", "-text").stdout.decode()
    assert "Signature Algorithm: SM2-with-SM3" in text and "X509v3 CRL Number: \n                7" in text
    assert format(held.serial_number, "X") in text and format(revoked.serial_number, "X") in text
    assert format(released.serial_number, "X") not in text
    assert "Certificate Hold" in text and "Key Compromise" in text
    assert "Signature Verified Successfully" in signed_bytes_verify(tmp_path, der, _ca_key_pem(issuing))
    forged = bytearray(der)
    forged[der.index(held.serial_number.to_bytes(16, "big"))] ^= 0x01  # another serial listed
    assert "Signature Verification Failure" in signed_bytes_verify(tmp_path, bytes(forged), _ca_key_pem(issuing))


def _ocsp_request(cert: x509.Certificate, issuer: x509.Certificate, tmp_path: Path) -> bytes:
    """The request as the OpenSSL client builds it (it hashes the SM2 issuer key itself)."""
    openssl("ocsp", "-issuer", _pem(tmp_path / "issuer.pem", issuer), "-cert", _pem(tmp_path / "leaf.pem", cert),
            "-no_nonce", "-reqout", tmp_path / "request.der")
    return (tmp_path / "request.der").read_bytes()


def test_ocsp_answers_good_revoked_and_unknown_signed_by_the_sm2_ca(tmp_path, sm2_cas):
    root, issuing = sm2_cas
    registry = MemoryRegistry()
    responder = OcspResponder(issuing, registry.factory())
    cert = issuing.issue(profile_for("legal", SETTINGS, "sm2"), SUBJECT, registry=registry,
                         public_key=sm2.generate_private_key().public_key())
    stranger = issuing.issue(profile_for("legal", SETTINGS, "sm2"), SUBJECT,
                             public_key=sm2.generate_private_key().public_key())

    def ask(certificate: x509.Certificate) -> tuple[ocsp.OCSPResponse, str]:
        der = responder.respond(_ocsp_request(certificate, issuing.certificate, tmp_path))
        (tmp_path / "response.der").write_bytes(der)
        text = openssl("ocsp", "-respin", tmp_path / "response.der", "-resp_text", "-noverify").stdout.decode()
        # OCSPResponse -> [0] responseBytes -> SEQUENCE -> OCTET STRING (the BasicOCSPResponse)
        listing = openssl("asn1parse", "-inform", "DER", "-in", tmp_path / "response.der").stdout.decode()
        octets = next(line for line in listing.splitlines() if "OCTET STRING" in line).split(":")[0].strip()
        assert "Signature Verified Successfully" in signed_bytes_verify(tmp_path, der, _ca_key_pem(issuing),
                                                                        path=(int(octets),))
        return ocsp.load_der_ocsp_response(der), text

    response, text = ask(cert)
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD and "Cert Status: good" in text
    assert "Signature Algorithm: SM2-with-SM3" in text
    key_hash = hashlib.sha1(gm.key_bits(gm.certificate_spki(issuing.certificate))).digest()
    assert response.responder_key_hash == key_hash == response.issuer_key_hash

    revocation.revoke(registry, serial_hex(cert.serial_number), "superseded")
    response, text = ask(cert)
    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED and "Reason: superseded" in text

    response, _ = ask(stranger)
    assert response.certificate_status == ocsp.OCSPCertStatus.UNKNOWN

    other_issuer = responder.respond(_ocsp_request(cert, root.certificate, tmp_path))
    assert ocsp.load_der_ocsp_response(other_issuer).response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED
    assert hashes.SHA1().name == response.hash_algorithm.name


# ---- the primitives ------------------------------------------------------------------------------------------


def test_the_host_computed_digest_is_what_openssl_checks(tmp_path):
    """e = SM3(Z || M) computed here and signed as it is (the card's half) verifies over M with OpenSSL."""
    key = sm2.generate_private_key()
    message = "eportcard-login|挑战".encode()
    signature = sm2.sign_digest(key, sm2.signing_digest(key.public_key(), message))
    (tmp_path / "m").write_bytes(message)
    (tmp_path / "s").write_bytes(signature)
    (tmp_path / "p.pem").write_bytes(sm2.public_key_pem(key.public_key()))
    ok = openssl("pkeyutl", "-verify", "-pubin", "-inkey", tmp_path / "p.pem", "-rawin", "-digest", "sm3",
                 "-pkeyopt", DISTID, "-in", tmp_path / "m", "-sigfile", tmp_path / "s")
    assert b"Signature Verified Successfully" in ok.stdout
    sm2.verify(key.public_key(), signature, message)
    sm2.verify_digest(key.public_key(), sm2.to_raw(signature), sm2.signing_digest(key.public_key(), message))
    with pytest.raises(ValueError):
        sm2.sign_digest(key, b"\x00" * 31)


def test_raw_and_der_signatures_convert_both_ways_with_fixed_width():
    small = sm2.from_raw((5).to_bytes(32, "big") + (7).to_bytes(32, "big"))
    assert small == bytes.fromhex("3006020105020107")
    assert sm2.to_raw(small) == (5).to_bytes(32, "big") + (7).to_bytes(32, "big")
    key = sm2.generate_private_key()
    der = sm2.sign(key, b"x")
    raw = sm2.to_raw(der)
    assert len(raw) == 64 and sm2.from_raw(raw) == der
    with pytest.raises(InvalidInput) as malformed:
        sm2.to_raw(b"\x30\x03\x02\x01")
    assert malformed.value.field == "signature"
    with pytest.raises(ValueError):
        sm2.from_raw(b"\x01" * 63)


def test_signatures_over_other_data_or_keys_fail():
    key, other = sm2.generate_private_key(), sm2.generate_private_key()
    signature = sm2.sign(key, b"declaration")
    for public_key, data, sig in ((key.public_key(), b"declaratioN", signature),
                                  (other.public_key(), b"declaration", signature),
                                  (key.public_key(), b"declaration", b"\x30\x00")):
        with pytest.raises(Exception) as failed:
            sm2.verify(public_key, sig, data)
        assert type(failed.value).__name__ == "InvalidSignature"


def test_the_walk_through_checks_a_crl_and_an_ocsp_answer_as_written(tmp_path, sm2_cas):
    """docs/cards.md's ``signed_parts`` / ``sm2_check`` and its OCSP extraction, run by bash on real artefacts."""
    _, issuing = sm2_cas
    text = (Path(__file__).resolve().parents[2] / "docs" / "cards.md").read_text(encoding="utf-8")
    functions = re.search(r"(signed_parts\(\) \{.*?\nsm2_check\(\) \{.*?\n\})", text, re.S)
    extraction = re.search(r"\n(at=\$\(openssl asn1parse[^\n]*\nopenssl asn1parse[^\n]*basic\.der)", text)
    assert functions is not None and extraction is not None
    registry = MemoryRegistry()
    cert = issuing.issue(profile_for("legal", SETTINGS, "sm2"), SUBJECT, registry=registry,
                         public_key=sm2.generate_private_key().public_key())
    revocation.revoke(registry, serial_hex(cert.serial_number), "keyCompromise")
    (tmp_path / "crl.der").write_bytes(build_crl(issuing, registry).public_bytes(serialization.Encoding.DER))
    (tmp_path / "ocsp.der").write_bytes(OcspResponder(issuing, registry.factory()).respond(
        _ocsp_request(cert, issuing.certificate, tmp_path)))
    (tmp_path / "ca.pub").write_bytes(_ca_key_pem(issuing))
    script = f"{functions.group(1)}\nsm2_check crl.der ca.pub\n{extraction.group(1)}\nsm2_check basic.der ca.pub\n"
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                         check=False)
    assert run.returncode == 0 and run.stdout.count("Signature Verified Successfully") == 2, run.stdout + run.stderr
    (tmp_path / "crl.der").write_bytes((tmp_path / "crl.der").read_bytes().replace(
        cert.serial_number.to_bytes(16, "big"), (cert.serial_number ^ 1).to_bytes(16, "big")))
    tampered = subprocess.run(["bash", "-uo", "pipefail", "-c", f"{functions.group(1)}\nsm2_check crl.der ca.pub"],
                              cwd=tmp_path, capture_output=True, text=True, check=False)
    assert tampered.returncode != 0 and "Signature Verification Failure" in tampered.stdout
