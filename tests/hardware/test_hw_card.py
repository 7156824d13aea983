"""The card profile end to end: PIN rules, admin unlock, keys, certificate, signature, removal.

Each test runs twice (see conftest): in-process and through pcscd + vpcd.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from core.hardware import profile as p
from core.hardware.apdu import Command
from core.hardware.errors import (
    AdminAuthFailed,
    CardBlocked,
    CardRemoved,
    NotPersonalised,
    PinRefused,
    SecurityStatusNotSatisfied,
    WrongPin,
)
from core.hardware.keys import derive_admin_key
from core.hardware.profile import SW, Ins, KeyAlgorithm

from .conftest import MASTER_SECRET

NEW_PIN = "13572468"


def test_cited_card_rules():
    from tests.conftest import assert_cited

    assert_cited("000_acc9b246733ddaa2.txt", "密码连续三次输错，系统将自动锁卡")
    assert_cited("000_acc9b246733ddaa2.txt", "电子口岸卡 初始密码（8个8）")
    assert_cited("000_acc9b246733ddaa2.txt", "解锁/延期成功后密码会恢复为默认的8个8")
    assert p.DEFAULT_RETRY_LIMIT == 3 and p.INITIAL_PIN == "8" * 8


def _raw(card, ins, p1, p2, data=b"", le=None, cla=p.CLA_ISO):
    return card.exchange(Command(cla, ins, p1, p2, data, le=le))


def make_certificate(public_key, *, cn="eportcard test operator", units=(), days=3650) -> bytes:
    """A certificate for the card's key, issued by a throwaway self-signed test CA."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "eportcard test CA")])
    now = dt.datetime.now(dt.UTC)
    subject = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    subject += [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit) for unit in units]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name(subject))
            .issuer_name(ca).public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=days))
            .sign(ca_key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def test_blank_card_reports_initial_pin_and_retry_limit(rig, card):
    info = card.card_info()
    assert info.serial == rig.serial
    assert info.pin_is_initial and not info.personalised and not info.blocked
    assert info.tries_left == info.retry_limit == 3
    assert info.key_algorithm is KeyAlgorithm.NONE and info.device_no == ""
    card.verify_pin(p.INITIAL_PIN)


def test_change_pin_clears_initial_flag(card):
    card.change_pin(p.INITIAL_PIN, NEW_PIN)
    assert not card.card_info().pin_is_initial
    card.verify_pin(NEW_PIN)
    with pytest.raises(WrongPin) as wrong:
        card.verify_pin(p.INITIAL_PIN)
    assert wrong.value.tries_left == 2 and wrong.value.field == "pin"
    assert "2" in wrong.value.zh and "2 tries" in wrong.value.en


def test_wrong_pins_count_down_then_block(card):
    sws = [_raw(card, Ins.VERIFY, 0, p.PIN_REFERENCE, p.pin_block("00000000")).sw for _ in range(4)]
    assert sws == [0x63C2, 0x63C1, 0x63C0, SW.AUTH_BLOCKED]
    assert card.card_info().blocked
    assert card.pin_tries_left() == 0
    with pytest.raises(CardBlocked):
        card.verify_pin(p.INITIAL_PIN)  # even the right PIN
    with pytest.raises(CardBlocked):
        card.change_pin(p.INITIAL_PIN, NEW_PIN)


def test_typed_errors_carry_tries_left(card):
    tries = []
    for _ in range(3):
        with pytest.raises(WrongPin) as wrong:
            card.verify_pin("11112222")
        tries.append(wrong.value.tries_left)
    assert tries == [2, 1, 0]
    with pytest.raises(CardBlocked) as blocked:
        card.verify_pin("11112222")
    assert blocked.value.zh and blocked.value.en and blocked.value.field == "pin"


def test_right_pin_resets_the_counter(card):
    with pytest.raises(WrongPin):
        card.verify_pin("11112222")
    card.verify_pin(p.INITIAL_PIN)
    assert card.pin_tries_left() == 3


def test_unlock_needs_the_derived_admin_key(rig, card):
    card.change_pin(p.INITIAL_PIN, NEW_PIN)
    for _ in range(3):
        with pytest.raises(WrongPin):
            card.verify_pin("00000000")
    other_branch_key = derive_admin_key(b"another branch master secret!!!!", rig.serial)
    with pytest.raises(AdminAuthFailed):
        card.reset_retry_counter(other_branch_key)
    assert card.card_info().blocked
    # Without EXTERNAL AUTHENTICATE the card refuses outright.
    assert _raw(card, Ins.RESET_RETRY_COUNTER, p.RESET_TO_INITIAL_P1, p.PIN_REFERENCE).sw == \
        SW.SECURITY_STATUS_NOT_SATISFIED

    card.reset_retry_counter(derive_admin_key(MASTER_SECRET, rig.serial))
    info = card.card_info()
    assert info.tries_left == 3 and info.pin_is_initial and not info.blocked
    card.verify_pin(p.INITIAL_PIN)  # unlock puts the PIN back to 88888888
    with pytest.raises(WrongPin):
        card.verify_pin(NEW_PIN)


def test_initial_pin_refused_as_new_pin(card):
    card.change_pin(p.INITIAL_PIN, NEW_PIN)
    with pytest.raises(PinRefused) as refused:
        card.change_pin(NEW_PIN, p.INITIAL_PIN)
    assert refused.value.field == "new_pin" and "88888888" in refused.value.en
    # The card enforces it too, for clients that are not ours, and it costs no try.
    data = p.pin_block(NEW_PIN) + p.pin_block(p.INITIAL_PIN)
    assert _raw(card, Ins.CHANGE_REFERENCE_DATA, 0, p.PIN_REFERENCE, data).sw == SW.PIN_INITIAL_REFUSED
    info = card.card_info()
    assert info.tries_left == 3 and not info.pin_is_initial
    card.verify_pin(NEW_PIN)


@pytest.mark.parametrize("bad", ["12345", "1234567890123456789", "abcdefgh", "１２３４５６", "1234 678"])
def test_malformed_pin_refused_and_nothing_changes(card, bad):
    with pytest.raises(PinRefused):
        card.change_pin(p.INITIAL_PIN, bad)
    with pytest.raises(PinRefused):
        card.verify_pin(bad)
    info = card.card_info()
    assert info.tries_left == 3 and info.pin_is_initial
    card.verify_pin(p.INITIAL_PIN)


def test_admin_operations_need_admin_authentication(card):
    assert _raw(card, Ins.GENERATE_ASYMMETRIC_KEY_PAIR, p.GENERATE_P1, 0, bytes([KeyAlgorithm.ECDSA_P256]),
                le=256).sw == SW.SECURITY_STATUS_NOT_SATISFIED
    assert _raw(card, Ins.UPDATE_BINARY, 0, 0, b"\x30\x00").sw == SW.SECURITY_STATUS_NOT_SATISFIED
    assert _raw(card, Ins.PUT_DATA, 0x01, 0x02, b"1234567890123").sw == SW.SECURITY_STATUS_NOT_SATISFIED
    # A challenge answers once only: replaying a cryptogram fails.
    assert _raw(card, Ins.EXTERNAL_AUTHENTICATE, 0, p.ADMIN_KEY_REFERENCE, bytes(16)).sw == \
        SW.CONDITIONS_NOT_SATISFIED


def test_unpersonalised_card_cannot_sign_or_give_a_certificate(card):
    with pytest.raises(NotPersonalised):
        card.sign(p.INITIAL_PIN, b"data")
    with pytest.raises(NotPersonalised):
        card.read_certificate()


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.RSA_2048, KeyAlgorithm.ECDSA_P256])
def test_personalise_sign_and_verify_with_openssl(rig, card, tmp_path, algorithm):
    info = card.personalise(rig.admin_key, algorithm, make_certificate, device_no="2200000012345")
    assert info.personalised and info.key_algorithm is algorithm and info.device_no == "2200000012345"
    assert info.pin_is_initial  # card making ends with the PIN at 88888888
    der = card.read_certificate()
    cert = x509.load_der_x509_certificate(der)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert cert.public_key().public_bytes(serialization.Encoding.DER, spki) == \
        card.public_key().public_bytes(serialization.Encoding.DER, spki)

    message = "报关单 2024 签名测试".encode()
    with pytest.raises(SecurityStatusNotSatisfied):  # PSO without VERIFY in this session
        card.select()
        card._call(Command(p.CLA_ISO, Ins.PERFORM_SECURITY_OPERATION, p.PSO_SIGN_P1, p.PSO_SIGN_P2,
                           bytes(32), le=256))
    signature = card.sign(p.INITIAL_PIN, message)

    (tmp_path / "msg").write_bytes(message)
    (tmp_path / "sig").write_bytes(signature)
    (tmp_path / "pub.pem").write_bytes(cert.public_key().public_bytes(serialization.Encoding.PEM, spki))
    verify = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"),
                             "-signature", str(tmp_path / "sig"), str(tmp_path / "msg")],
                            capture_output=True, text=True, check=False)
    assert verify.returncode == 0 and "Verified OK" in verify.stdout, verify.stderr
    (tmp_path / "msg").write_bytes(message + b"!")
    tampered = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"),
                               "-signature", str(tmp_path / "sig"), str(tmp_path / "msg")],
                              capture_output=True, check=False)
    assert tampered.returncode != 0
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(signature, message, ec.ECDSA(hashes.SHA256()))


def test_certificate_for_another_key_is_refused(rig, card):
    card.generate_key_pair(rig.admin_key, KeyAlgorithm.ECDSA_P256)
    stranger = make_certificate(ec.generate_private_key(ec.SECP256R1()).public_key())
    with pytest.raises(Exception) as refused:
        card.write_certificate(rig.admin_key, stranger)
    assert getattr(refused.value, "sw", None) == SW.WRONG_DATA
    assert card.card_info().certificate_length == 0


@pytest.mark.parametrize("had_certificate", [True, False])
def test_card_pulled_out_mid_write_keeps_old_certificate_or_none(rig, card, had_certificate):
    public_key = card.generate_key_pair(rig.admin_key, KeyAlgorithm.RSA_2048)
    old = make_certificate(public_key, cn="old") if had_certificate else b""
    if old:
        card.write_certificate(rig.admin_key, old)
    new = make_certificate(public_key, cn="new", units=["x" * 60] * 4)
    assert len(new) > 2 * p.CHUNK  # at least three UPDATE BINARY chunks

    card = rig.restart(pull_out_on=(Ins.UPDATE_BINARY, 2))
    with pytest.raises(CardRemoved) as removed:
        card.write_certificate(rig.admin_key, new)
    assert removed.value.zh and removed.value.en

    memory = json.loads(rig.state_path.read_text(encoding="utf-8"))  # the file is whole JSON
    card = rig.restart()
    if had_certificate:
        assert card.read_certificate() == old
        assert memory["certificate"]
    else:
        assert card.card_info().certificate_length == 0 and memory["certificate"] == ""
        with pytest.raises(NotPersonalised):
            card.read_certificate()
    card.write_certificate(rig.admin_key, new)  # a second attempt succeeds
    assert card.read_certificate() == new


def test_state_persists_across_restart(rig, card):
    card.change_pin(p.INITIAL_PIN, NEW_PIN)
    with pytest.raises(WrongPin):
        card.verify_pin("99990000")
    card.set_device_no(rig.admin_key, "2200000054321")
    card = rig.restart()
    info = card.card_info()
    assert (info.tries_left, info.pin_is_initial, info.device_no) == (2, False, "2200000054321")
    with pytest.raises(SecurityStatusNotSatisfied):  # verification does not survive power-off
        card._call(Command(p.CLA_ISO, Ins.PUT_DATA, 0x01, 0x02, b"2200000054321"))
    card.verify_pin(NEW_PIN)


def test_pin_is_never_stored_in_clear(rig, card):
    card.change_pin(p.INITIAL_PIN, NEW_PIN)
    text = rig.state_path.read_text(encoding="utf-8")
    assert NEW_PIN not in text and NEW_PIN.encode().hex() not in text
    assert p.INITIAL_PIN not in text


def test_unknown_commands_get_iso_status_words(card):
    assert _raw(card, 0x10, 0, 0).sw == SW.INS_NOT_SUPPORTED
    assert _raw(card, Ins.GET_DATA, 0x7F, 0x7F, le=256).sw == SW.INCORRECT_P1P2
    assert _raw(card, Ins.SELECT, 0x04, 0x00, b"\xa0\x00\x00\x00\x03").sw == SW.FILE_NOT_FOUND
    # After selecting another application, the E-Port commands are refused until re-selected.
    assert _raw(card, Ins.GET_DATA, 0x01, 0x01, le=256).sw == SW.CONDITIONS_NOT_SATISFIED
    card.select()
    assert card.serial()
