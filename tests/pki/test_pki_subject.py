"""The card certificate's subject: serialNumber is a PrintableString (RFC 5280 Appendix A.1, X520SerialNumber)
that still tells two holders of one name apart; bad masked IDs are refused; renewing a certificate issued
before the fix writes its subject correctly."""

from __future__ import annotations

import sqlite3

import attrs
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID
from pki_artefacts import legacy_certificate
from pki_helpers import PASSPHRASE, SETTINGS, SUBJECT, openssl

from core.ca_cli import ca
from core.errors import InvalidInput
from core.model import CardKind
from core.pki.ca import CertificateAuthority
from core.pki.profiles import profile_for, renewal_subject, subject_serial_number
from core.pki.registry import MemoryRegistry
from core.pki.signer import generate_key
from core.privacy import mask_id


def _serial_number(name: x509.Name) -> x509.NameAttribute:
    (attribute,) = name.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    return attribute


def test_serial_number_is_a_printable_string_with_dashes_for_masked_characters():
    attribute = _serial_number(SUBJECT.x509_name(CardKind.LEGAL))
    assert attribute._type == _ASN1Type.PrintableString
    assert attribute.value == "4403----------1234"
    # DER tag 0x13 is UNIVERSAL 19, PrintableString (ITU-T X.680 Table 1); then the length, 18
    der = SUBJECT.x509_name(CardKind.LEGAL).public_bytes()
    assert b"\x13\x124403----------1234" in der


def test_two_holders_of_one_name_are_told_apart():
    first = attrs.evolve(SUBJECT, holder_id_masked=mask_id("440902199001011234"))
    second = attrs.evolve(SUBJECT, holder_id_masked=mask_id("440305198502025678"))
    assert first.holder_name == second.holder_name
    assert first.x509_name(CardKind.OPERATOR) != second.x509_name(CardKind.OPERATOR)
    assert _serial_number(first.x509_name(CardKind.OPERATOR)).value == "440902--------1234"


def test_no_masked_id_no_serial_number():
    name = attrs.evolve(SUBJECT, holder_id_masked="").x509_name(CardKind.LEGAL)
    assert name.get_attributes_for_oid(NameOID.SERIAL_NUMBER) == []


@pytest.mark.parametrize("masked, written", [
    (mask_id("H12345678"), "H1-----78"),
    (mask_id("A123456(7)"), "A1------7)"),
    (mask_id("A123456（7）"), "A1------7)"),   # full-width brackets as typed on a Chinese keyboard
    ("4409 02** **** **12 34", "440902--------1234"),
])
def test_other_documents_and_typing_habits_are_accepted(masked, written):
    assert subject_serial_number(masked) == written


@pytest.mark.parametrize("masked, why", [
    ("440902199001011234", "masked"),         # a full identity number never goes into a certificate
    ("4409-2********1234", "symbols"),        # '-' means "masked" in the certificate, so not in the input
    ("张三**1234", "symbols"),                 # not a PrintableString character
    ("4402********1234'", "symbols"),
    ("1" * 60 + "*****", "64"),               # RFC 5280 Appendix A.1: ub-serial-number 64
])
def test_bad_masked_ids_are_refused_before_anything_is_issued(masked, why):
    with pytest.raises(InvalidInput) as caught:
        attrs.evolve(SUBJECT, holder_id_masked=masked)
    assert caught.value.field == "holder_id_masked"
    assert why in caught.value.en and caught.value.zh


def test_renewal_rewrites_a_subject_issued_before_the_fix(cas, algorithm):
    _, issuing = cas
    registry = MemoryRegistry()
    old = legacy_certificate(issuing, algorithm, registry)
    assert _serial_number(old.subject)._type == _ASN1Type.UTF8String
    renewed = issuing.renew(old, registry=registry)
    attribute = _serial_number(renewed.subject)
    assert (attribute._type, attribute.value) == (_ASN1Type.PrintableString, "4403----------1234")
    others = [(a.oid, a.value, a._type) for a in renewed.subject if a.oid != NameOID.SERIAL_NUMBER]
    assert others == [(a.oid, a.value, a._type) for a in old.subject if a.oid != NameOID.SERIAL_NUMBER]
    fresh = issuing.issue(profile_for(CardKind.LEGAL, SETTINGS, algorithm), SUBJECT,
                          public_key=generate_key(algorithm).public_key())
    assert renewed.subject.public_bytes() == fresh.subject.public_bytes()


def test_renewal_leaves_a_correct_subject_alone():
    name = SUBJECT.x509_name(CardKind.LEGAL)
    assert renewal_subject(name).public_bytes() == name.public_bytes()


def test_a_legacy_serial_number_that_cannot_be_printable_stops_renewal_with_a_clear_error():
    legacy = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "张三"),
                        x509.NameAttribute(NameOID.SERIAL_NUMBER, "张三的证件", _ASN1Type.UTF8String)])
    with pytest.raises(InvalidInput) as caught:
        renewal_subject(legacy)
    assert caught.value.field == "certificate"
    assert "PrintableString" in caught.value.en and "签发新证书" in caught.value.zh


def _issue(tmp_path, holder_id: str):
    database = tmp_path / "eportcard.db"
    base = ["--config", str(tmp_path / "absent.toml"), "--db", f"sqlite:///{database}"]
    return CliRunner().invoke(ca, ["issue", *base, "--dir", str(tmp_path / "ca"), "--csr", str(tmp_path / "card.csr"),
                                   "--kind", "operator", "--enterprise", "厦门某某报关有限公司",
                                   "--uscc", "91440300MA5EXAMPLA", "--holder", "王五", "--holder-id", holder_id,
                                   "--out", str(tmp_path / "leaf.pem")],
                              env={"EPORTCARD_CA_PASSPHRASE": PASSPHRASE})


def test_eportcard_ca_issue_writes_the_masked_id_and_refuses_an_unmasked_one(tmp_path):
    CertificateAuthority.init(tmp_path / "ca", "测试CA", PASSPHRASE, "ec-p256")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", tmp_path / "card.key", "-subj", "/CN=card", "-out", tmp_path / "card.csr")

    refused = _issue(tmp_path, "350203199204040044")
    assert refused.exit_code != 0 and "Traceback" not in refused.output
    assert "打码" in refused.output and "masked" in refused.output
    assert not (tmp_path / "leaf.pem").exists()
    with sqlite3.connect(tmp_path / "eportcard.db") as db:  # nothing issued, nothing recorded
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "certificates" not in tables or db.execute("SELECT count(*) FROM certificates").fetchone() == (0,)

    issued = _issue(tmp_path, mask_id("350203199204040044"))
    assert issued.exit_code == 0, issued.output
    attribute = _serial_number(x509.load_pem_x509_certificate((tmp_path / "leaf.pem").read_bytes()).subject)
    assert (attribute._type, attribute.value) == (_ASN1Type.PrintableString, "350203--------0044")
