"""Issuing from a CSR or a card-made public key, renewal, and the bad input that must be refused."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from pki_helpers import PASSPHRASE, SETTINGS, SUBJECT, openssl, write_pem

from core.errors import InvalidInput
from core.model import CardKind
from core.pki.ca import KEY_FILE, CertificateAuthority, serial_hex
from core.pki.profiles import HolderSubject, ProfileSettings, profile_for
from core.pki.signer import FileSigner, generate_key, sign_data


def _csr(key, common_name="ignored"):
    return (x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .sign(key, hashes.SHA256()))


def _tampered(csr: x509.CertificateSigningRequest) -> x509.CertificateSigningRequest:
    der = bytearray(csr.public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01  # the last byte belongs to the signature
    return x509.load_der_x509_csr(bytes(der))


def test_issue_from_csr_uses_reviewed_subject_not_the_csr_one(cas, registry, algorithm):
    _, issuing = cas
    key = generate_key(algorithm)
    cert = issuing.issue(profile_for("legal", SETTINGS, algorithm), SUBJECT, csr=_csr(key, "冒名者"),
                         registry=registry, card_id="c-9")
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "张三"
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert cert.public_key().public_bytes(*spki) == key.public_key().public_bytes(*spki)
    record = registry.get(serial_hex(cert.serial_number))
    assert record is not None and record.status == "good" and record.card_id == "c-9"
    assert record.kind == CardKind.LEGAL and record.enterprise_uscc == SUBJECT.uscc
    assert x509.load_pem_x509_certificate(record.pem.encode()) == cert


def test_csr_with_bad_signature_is_refused_and_nothing_recorded(cas, registry, algorithm):
    _, issuing = cas
    bad = _tampered(_csr(generate_key(algorithm)))
    with pytest.raises(InvalidInput) as caught:
        issuing.issue(profile_for("legal", SETTINGS, algorithm), SUBJECT, csr=bad, registry=registry)
    assert caught.value.field == "csr"
    assert "签名无效" in caught.value.zh and "signature is invalid" in caught.value.en
    assert list(registry.revoked()) == [] and registry._records == {}


def test_exactly_one_of_public_key_and_csr(cas, algorithm):
    _, issuing = cas
    key = generate_key(algorithm)
    profile = profile_for("legal", SETTINGS, algorithm)
    with pytest.raises(InvalidInput):
        issuing.issue(profile, SUBJECT)
    with pytest.raises(InvalidInput):
        issuing.issue(profile, SUBJECT, public_key=key.public_key(), csr=_csr(key))


def test_key_must_fit_the_profile_algorithm(cas, algorithm):
    _, issuing = cas
    other = "ec-p256" if algorithm == "rsa2048" else "rsa2048"
    with pytest.raises(InvalidInput) as caught:
        issuing.issue(profile_for("operator", SETTINGS, algorithm), SUBJECT,
                      public_key=generate_key(other).public_key())
    assert caught.value.field == "public_key"


def test_serials_are_random_128_bit_lowercase_hex(cas, registry, algorithm):
    _, issuing = cas
    key = generate_key(algorithm)
    serials = {issuing.issue(profile_for("declarant", SETTINGS, algorithm), SUBJECT,
                             public_key=key.public_key()).serial_number for _ in range(5)}
    assert len(serials) == 5
    for serial in serials:
        assert serial.bit_length() == 128
        assert serial_hex(serial) == serial_hex(serial).lower() and len(serial_hex(serial)) == 32


def test_renew_new_serial_same_subject_new_validity(cas, registry, algorithm):
    _, issuing = cas
    key = generate_key(algorithm)
    old = issuing.issue(profile_for("legal", SETTINGS, algorithm), SUBJECT, public_key=key.public_key(),
                        not_before=datetime.now(UTC) - timedelta(days=400), registry=registry, card_id="c-1")
    new_key = generate_key(algorithm)
    new = issuing.renew(old, public_key=new_key.public_key(), registry=registry)
    assert new.serial_number != old.serial_number
    assert new.subject == old.subject
    assert new.not_valid_before_utc > old.not_valid_before_utc
    assert new.not_valid_after_utc > old.not_valid_after_utc
    assert [e.oid for e in new.extensions] == [e.oid for e in old.extensions]
    assert new.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value == \
        x509.SubjectKeyIdentifier.from_public_key(new_key.public_key())
    assert registry.get(serial_hex(new.serial_number)).card_id == "c-1"


def test_renew_refuses_a_certificate_from_another_ca(tmp_path, cas, algorithm):
    _, issuing = cas
    stranger = CertificateAuthority.init(tmp_path / "x", "电子口岸测试发卡CA", PASSPHRASE, algorithm)
    foreign = stranger.issue(profile_for("legal", SETTINGS, algorithm), SUBJECT,
                             public_key=generate_key(algorithm).public_key())
    with pytest.raises(InvalidInput):  # same issuer name, different key: the signature gives it away
        issuing.renew(foreign)


def test_leaf_never_outlives_its_ca(tmp_path, algorithm):
    ca = CertificateAuthority.init(tmp_path / "short", "短期CA", PASSPHRASE, algorithm, validity_years=2)
    cert = ca.issue(profile_for("legal", SETTINGS, algorithm), SUBJECT,
                    public_key=generate_key(algorithm).public_key())
    assert cert.not_valid_after_utc == ca.certificate.not_valid_after_utc


def test_validity_is_a_deployment_setting(cas, algorithm):
    _, issuing = cas
    settings = ProfileSettings(base_url="https://ca.example.cn", validity_years=5)
    cert = issuing.issue(profile_for("legal", settings, algorithm), SUBJECT,
                         public_key=generate_key(algorithm).public_key())
    assert cert.not_valid_after_utc.year - cert.not_valid_before_utc.year == 5


@pytest.mark.parametrize("field, kwargs", [
    ("uscc", {"uscc": "91440300MA5EXAMPLB"}),
    ("enterprise_name", {"enterprise_name": "  "}),
    ("holder_name", {"holder_name": ""}),
])
def test_bad_holder_subject(field, kwargs):
    values = {"enterprise_name": "某公司", "uscc": "91440300MA5EXAMPLA", "holder_name": "李四"} | kwargs
    with pytest.raises(InvalidInput) as caught:
        HolderSubject(**values)
    assert caught.value.field == field and caught.value.zh and caught.value.en


def test_unknown_kind_and_algorithm_are_refused():
    with pytest.raises(InvalidInput) as caught:
        profile_for("customs_broker", SETTINGS)
    assert caught.value.field == "kind"
    with pytest.raises(InvalidInput) as caught:
        profile_for("legal", SETTINGS, "ed25519")
    assert caught.value.field == "algorithm"


def test_card_signature_verifies_with_openssl_dgst(tmp_path, cas, algorithm):
    """What a card signs (here: a software key standing in for it) verifies with the issued certificate."""
    _, issuing = cas
    card_key = generate_key(algorithm)
    cert = issuing.issue(profile_for("operator", SETTINGS, algorithm), SUBJECT,
                         public_key=card_key.public_key())
    data = "报关单 5300 2024 0000 1234 合计 12345.67 元".encode()
    (tmp_path / "data").write_bytes(data)
    (tmp_path / "sig").write_bytes(sign_data(card_key, data))
    pub = openssl("x509", "-in", write_pem(tmp_path / "cert.pem", cert), "-noout", "-pubkey").stdout
    (tmp_path / "pub.pem").write_bytes(pub)
    ok = openssl("dgst", "-sha256", "-verify", tmp_path / "pub.pem", "-signature", tmp_path / "sig",
                 tmp_path / "data")
    assert b"Verified OK" in ok.stdout
    (tmp_path / "data").write_bytes(data + b"0")
    bad = openssl("dgst", "-sha256", "-verify", tmp_path / "pub.pem", "-signature", tmp_path / "sig",
                  tmp_path / "data", check=False)
    assert bad.returncode != 0 and b"Verification failure" in bad.stdout + bad.stderr


# --- the CA key file -------------------------------------------------------------------------------

def test_key_file_is_owner_only_and_encrypted(tmp_path, algorithm):
    path = tmp_path / KEY_FILE
    old_umask = os.umask(0)  # even a permissive umask must not widen the mode
    try:
        FileSigner.create(path, PASSPHRASE, algorithm)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    pem = path.read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError):  # needs a password
        serialization.load_pem_private_key(pem, None)
    assert openssl("pkey", "-in", path, "-passin", "pass:wrong", "-noout", check=False).returncode != 0
    openssl("pkey", "-in", path, "-passin", f"pass:{PASSPHRASE}", "-noout")


def test_wrong_passphrase_gives_a_clear_error(cas):
    _, issuing = cas
    with pytest.raises(InvalidInput) as caught:
        CertificateAuthority.load(issuing.directory, "not the passphrase")
    assert caught.value.field == "passphrase"
    assert "口令" in caught.value.zh and "passphrase" in caught.value.en


def test_load_round_trip_and_no_overwrite(cas):
    root, issuing = cas
    loaded = CertificateAuthority.load(issuing.directory, PASSPHRASE)
    assert loaded.certificate == issuing.certificate and loaded.chain == (root.certificate,)
    assert loaded.root_certificate == root.certificate
    before = (issuing.directory / KEY_FILE).read_bytes()
    with pytest.raises(InvalidInput):
        CertificateAuthority.init(issuing.directory, "again", PASSPHRASE)
    assert (issuing.directory / KEY_FILE).read_bytes() == before
