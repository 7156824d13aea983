"""SM2 on the card (docs/card-profile.md, "SM2"): GENERATE with algorithm 03, the host computes
e = SM3(Z || M), the card signs e with its SM2 key, and OpenSSL verifies the signature over M with the GM/T 0009
ID. Every status word of the SM2 path, in-process and through pcscd + vpcd (see conftest)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from core.errors import InvalidInput
from core.hardware import profile as p
from core.hardware.apdu import Command
from core.hardware.errors import CardBlocked, CardError, SecurityStatusNotSatisfied, WrongPin
from core.hardware.profile import SW, Ins, KeyAlgorithm, Tag
from core.pki import gm, sm2
from core.pki.ca import CertificateAuthority
from core.pki.profiles import HolderSubject, ProfileSettings, profile_for

SUBJECT = HolderSubject("深圳市某某进出口有限公司", "91440300MA5EXAMPLA", "张三", "4403**********1234")
MESSAGE = "<ds:SignedInfo>报关单 2024 SM2 签名测试</ds:SignedInfo>".encode()


@pytest.fixture(scope="module")
def sm2_ca(tmp_path_factory) -> CertificateAuthority:
    return CertificateAuthority.init(tmp_path_factory.mktemp("ca"), "电子口岸SM2发卡CA", "sm2 card tests passphrase",
                                     "sm2")


def _certificate_maker(ca: CertificateAuthority):
    profile = profile_for("operator", ProfileSettings(base_url="http://127.0.0.1:8000"), "sm2")

    def make(public_key) -> bytes:
        return ca.issue(profile, SUBJECT, public_key=public_key).public_bytes(serialization.Encoding.DER)
    return make


def _raw(card, ins, p1, p2, data=b"", le=None):
    return card.exchange(Command(p.CLA_ISO, ins, p1, p2, data, le=le))


def _openssl_verifies(tmp_path: Path, public_key, signature: bytes, message: bytes) -> bool:
    (tmp_path / "pub.pem").write_bytes(sm2.public_key_pem(public_key))
    (tmp_path / "sig").write_bytes(signature)
    (tmp_path / "msg").write_bytes(message)
    result = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(tmp_path / "pub.pem"),
                             "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678",
                             "-in", str(tmp_path / "msg"), "-sigfile", str(tmp_path / "sig")],
                            capture_output=True, text=True, check=False)
    return result.returncode == 0 and "Signature Verified Successfully" in result.stdout


def test_personalise_an_sm2_card_and_sign_with_it(rig, card, tmp_path, sm2_ca):
    info = card.personalise(rig.admin_key, KeyAlgorithm.SM2, _certificate_maker(sm2_ca), device_no="2200000012345")
    assert info.personalised and info.key_algorithm is KeyAlgorithm.SM2 and info.pin_is_initial
    public_key = card.public_key()
    assert sm2.is_public_key(public_key)
    status = _raw(card, Ins.GET_DATA, Tag.STATUS >> 8, Tag.STATUS & 0xFF, le=256)
    assert status.sw == SW.OK and status.data[4] == 0x03
    cert = x509.load_der_x509_certificate(card.read_certificate())
    assert gm.certificate_spki(cert) == sm2.public_key_der(public_key)

    digest = card.signing_digest(MESSAGE)
    assert digest == sm2.signing_digest(public_key, MESSAGE) and len(digest) == 32
    signature = card.sign(p.INITIAL_PIN, MESSAGE)
    assert signature[0] == 0x30  # DER SEQUENCE {r, s}
    assert _openssl_verifies(tmp_path, public_key, signature, MESSAGE)
    assert not _openssl_verifies(tmp_path, public_key, signature, MESSAGE + b" ")
    sm2.verify_digest(public_key, signature, digest)


def test_the_sm2_signing_status_words(rig, card, sm2_ca):
    card.personalise(rig.admin_key, KeyAlgorithm.SM2, _certificate_maker(sm2_ca))
    e = card.signing_digest(MESSAGE)
    card.select()  # a new session: no PIN verified
    refused = _raw(card, Ins.PERFORM_SECURITY_OPERATION, p.PSO_SIGN_P1, p.PSO_SIGN_P2, e, le=256)
    assert refused.sw == SW.SECURITY_STATUS_NOT_SATISFIED
    with pytest.raises(SecurityStatusNotSatisfied):
        card._call(Command(p.CLA_ISO, Ins.PERFORM_SECURITY_OPERATION, p.PSO_SIGN_P1, p.PSO_SIGN_P2, e, le=256))
    card.verify_pin(p.INITIAL_PIN)
    short = _raw(card, Ins.PERFORM_SECURITY_OPERATION, p.PSO_SIGN_P1, p.PSO_SIGN_P2, e[:31], le=256)
    assert short.sw == SW.WRONG_LENGTH
    wrong_p2 = _raw(card, Ins.PERFORM_SECURITY_OPERATION, p.PSO_SIGN_P1, 0x00, e, le=256)
    assert wrong_p2.sw == SW.INCORRECT_P1P2
    with pytest.raises(InvalidInput) as too_short:  # refused on the host: the card never sees it
        card.sign_digest(p.INITIAL_PIN, e[:31])
    assert too_short.value.field == "digest" and "SM3(Z || M)" in too_short.value.en
    signed = _raw(card, Ins.PERFORM_SECURITY_OPERATION, p.PSO_SIGN_P1, p.PSO_SIGN_P2, e, le=256)
    assert signed.sw == SW.OK and signed.data[0] == 0x30
    for tries_left in (2, 1, 0):
        with pytest.raises(WrongPin) as wrong:
            card.verify_pin("12345678")
        assert wrong.value.tries_left == tries_left
    with pytest.raises(CardBlocked):
        card.sign(p.INITIAL_PIN, MESSAGE)
    blocked = _raw(card, Ins.PERFORM_SECURITY_OPERATION, p.PSO_SIGN_P1, p.PSO_SIGN_P2, e, le=256)
    assert blocked.sw == SW.AUTH_BLOCKED


def test_generate_refuses_an_unknown_algorithm_and_needs_the_admin(rig, card):
    assert _raw(card, Ins.GENERATE_ASYMMETRIC_KEY_PAIR, p.GENERATE_P1, 0x00, b"\x03", le=256).sw == \
        SW.SECURITY_STATUS_NOT_SATISFIED
    card.authenticate_admin(rig.admin_key)
    assert _raw(card, Ins.GENERATE_ASYMMETRIC_KEY_PAIR, p.GENERATE_P1, 0x00, b"\x04", le=256).sw == SW.WRONG_DATA
    made = _raw(card, Ins.GENERATE_ASYMMETRIC_KEY_PAIR, p.GENERATE_P1, 0x00, b"\x03", le=256)
    assert made.sw == SW.OK and sm2.is_sm2_spki(made.data)


def test_a_certificate_for_another_sm2_key_is_refused(rig, card, sm2_ca):
    card.generate_key_pair(rig.admin_key, KeyAlgorithm.SM2)
    stranger = _certificate_maker(sm2_ca)(sm2.generate_private_key().public_key())
    with pytest.raises(CardError) as refused:
        card.write_certificate(rig.admin_key, stranger)
    assert refused.value.sw == SW.WRONG_DATA
    assert card.card_info().certificate_length == 0


def test_the_sm2_key_survives_a_restart(rig, card, tmp_path, sm2_ca):
    card.personalise(rig.admin_key, KeyAlgorithm.SM2, _certificate_maker(sm2_ca))
    before = sm2.public_key_der(card.public_key())
    memory = json.loads(rig.state_path.read_text(encoding="utf-8"))
    assert memory["key_algorithm"] == 3 and memory["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    card = rig.restart()
    assert sm2.public_key_der(card.public_key()) == before
    assert _openssl_verifies(tmp_path, card.public_key(), card.sign(p.INITIAL_PIN, MESSAGE), MESSAGE)
