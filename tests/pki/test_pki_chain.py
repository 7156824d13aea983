"""Chain, CRL and extensions checked by the openssl CLI, for RSA-2048 and ECDSA P-256."""

from __future__ import annotations

from cryptography import x509
from pki_helpers import PASSPHRASE, SETTINGS, SUBJECT, openssl, write_pem

from core.model import CardKind
from core.pki import revocation
from core.pki.ca import serial_hex
from core.pki.crl import build_crl
from core.pki.profiles import profile_for
from core.pki.signer import generate_key


def _issue(cas, registry, algorithm, kind=CardKind.LEGAL):
    _, issuing = cas
    holder_key = generate_key(algorithm)
    cert = issuing.issue(profile_for(kind, SETTINGS, algorithm), SUBJECT, public_key=holder_key.public_key(),
                         registry=registry, card_id="card-1")
    return cert, holder_key


def _verify(tmp_path, cas, cert, crl=None):
    root, issuing = cas
    args = ["verify", "-CAfile", write_pem(tmp_path / "root.pem", root.certificate),
            "-untrusted", write_pem(tmp_path / "issuing.pem", issuing.certificate)]
    if crl is not None:
        args += ["-crl_check", "-CRLfile", write_pem(tmp_path / "crl.pem", crl)]
    return openssl(*args, write_pem(tmp_path / "leaf.pem", cert), check=False)


def test_chain_root_issuing_leaf_verifies(tmp_path, cas, registry, algorithm):
    cert, _ = _issue(cas, registry, algorithm)
    result = _verify(tmp_path, cas, cert)
    assert result.returncode == 0, result.stderr
    assert b"leaf.pem: OK" in result.stdout


def test_leaf_does_not_verify_against_another_root(tmp_path, cas, registry, algorithm):
    from core.pki.ca import CertificateAuthority
    stranger = CertificateAuthority.init(tmp_path / "stranger", "别的根CA", PASSPHRASE, algorithm)
    cert, _ = _issue(cas, registry, algorithm)
    result = _verify(tmp_path, (stranger, cas[1]), cert)
    assert result.returncode != 0


def test_crl_check_before_and_after_revocation(tmp_path, cas, registry, algorithm):
    _, issuing = cas
    cert, _ = _issue(cas, registry, algorithm)
    other, _ = _issue(cas, registry, algorithm)
    revocation.revoke(registry, serial_hex(other.serial_number), "key_compromise")
    before = _verify(tmp_path, cas, cert, build_crl(issuing, registry))
    assert before.returncode == 0, before.stdout + before.stderr

    revocation.revoke(registry, serial_hex(cert.serial_number), "cessationOfOperation")
    crl = build_crl(issuing, registry)
    after = _verify(tmp_path, cas, cert, crl)
    assert after.returncode != 0
    assert b"certificate revoked" in after.stdout + after.stderr
    text = openssl("crl", "-in", tmp_path / "crl.pem", "-noout", "-text").stdout.decode()
    assert "Cessation Of Operation" in text and "Key Compromise" in text
    assert format(cert.serial_number, "X") in text.replace(":", "").upper()


def test_hold_and_release_round_trip(tmp_path, cas, registry, algorithm):
    _, issuing = cas
    cert, _ = _issue(cas, registry, algorithm)
    serial = serial_hex(cert.serial_number)
    revocation.apply_card_action(registry, serial, "report_lost")
    held = _verify(tmp_path, cas, cert, build_crl(issuing, registry))
    assert held.returncode != 0
    crl_text = openssl("crl", "-in", tmp_path / "crl.pem", "-noout", "-text").stdout.decode()
    assert "Certificate Hold" in crl_text

    revocation.apply_card_action(registry, serial, "found")
    released = _verify(tmp_path, cas, cert, build_crl(issuing, registry))
    assert released.returncode == 0, released.stdout + released.stderr


def test_crl_number_increases_and_crl_is_signed_by_issuing_ca(tmp_path, cas, registry):
    _, issuing = cas
    first, second = build_crl(issuing, registry), build_crl(issuing, registry)
    numbers = [c.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number for c in (first, second)]
    assert numbers[1] > numbers[0]
    write_pem(tmp_path / "crl.pem", second)
    write_pem(tmp_path / "issuing.pem", issuing.certificate)
    result = openssl("crl", "-in", tmp_path / "crl.pem", "-CAfile", tmp_path / "issuing.pem", "-noout")
    assert b"verify OK" in result.stdout + result.stderr


def test_extensions_as_openssl_reads_them(tmp_path, cas, registry, algorithm):
    cert, _ = _issue(cas, registry, algorithm, CardKind.OPERATOR)
    text = openssl("x509", "-in", write_pem(tmp_path / "leaf.pem", cert), "-noout", "-text",
                   "-nameopt", "utf8,sep_comma_plus_space").stdout.decode()
    assert "CA:FALSE" in text
    third = "Key Encipherment" if algorithm == "rsa2048" else "Key Agreement"
    assert f"Digital Signature, Non Repudiation, {third}" in text
    assert "TLS Web Client Authentication, E-mail Protection" in text
    assert "Code Signing" not in text
    assert f"URI:{SETTINGS.crl_url}" in text
    assert f"OCSP - URI:{SETTINGS.ocsp_url}" in text
    assert "O=深圳市某某进出口有限公司" in text.replace(" = ", "=")
    assert "CN=张三" in text.replace(" = ", "=")
    assert "OU=operator" in text.replace(" = ", "=")
    assert "organizationIdentifier=91440300MA5EXAMPLA" in text.replace(" = ", "=")
    key_line = "rsaEncryption" if algorithm == "rsa2048" else "id-ecPublicKey"
    assert key_line in text
    years = cert.not_valid_after_utc.year - cert.not_valid_before_utc.year
    assert years == SETTINGS.validity_years


def test_chinese_subject_is_utf8string(cas, registry, algorithm):
    from cryptography.x509.name import _ASN1Type
    from cryptography.x509.oid import NameOID
    cert, _ = _issue(cas, registry, algorithm)
    for oid in (NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME):
        attribute = cert.subject.get_attributes_for_oid(oid)[0]
        assert attribute._type == _ASN1Type.UTF8String
    assert "深圳市某某进出口有限公司".encode() in cert.tbs_certificate_bytes
