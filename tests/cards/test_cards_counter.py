"""The newcomer story on real parts: personalise at the counter, openssl accepts the certificate,
PIN change (88888888 refused), card signatures, lock by wrong PINs, counter unlock, OCSP, pull-out.

Every test runs with the in-process virtual card and through pcscd + vpcd, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json

import pytest
from cardkit import NEW_PIN, STAFF, enterprise, openssl, write_pem
from cryptography.x509 import ocsp

from core.errors import ConflictError, Forbidden, RuleViolation, TransitionError
from core.hardware.errors import CardBlocked, CardRemoved, WrongPin
from core.hardware.profile import INITIAL_PIN, Ins
from core.model import CardKind, CardState
from core.pki.ca import serial_hex
from core.pki.ocsp import OcspResponder
from core.pki.registry import store_registry_factory

DEVICE_NO = "4403123456789"


def test_personalise_change_pin_sign_lock_unlock(env, make_rig, tmp_path):
    app = env.produced(1, operators=1)
    me = enterprise(app)
    rig = make_rig(serial="00c0ffee00000001")
    driver = rig.start()

    card = env.cards.counter.personalize(app.id, 0, driver, STAFF, device_no=DEVICE_NO)
    assert (card.state, card.kind, card.card_no, card.device_no) == (
        CardState.ACTIVE, CardKind.LEGAL, rig.serial, DEVICE_NO)
    assert card.pin_is_initial and card.holder == app.items[0].holder
    with env.services.store.transaction(readonly=True) as tx:
        assert [i.made for i in tx.applications.get(app.id).items] == [True, False]
        record = tx.certificates.get(card.certificate.serial)
        assert record is not None and record.status == "good" and record.card_id == card.id
        payloads = json.dumps([e.payload for e in tx.audit.all(limit=10000)], ensure_ascii=False)
    assert INITIAL_PIN not in payloads and NEW_PIN not in payloads

    # What is on the card: the certificate openssl accepts against the chain, device number, PIN state.
    reading = env.cards.counter.read(driver)
    assert reading.record == card and reading.certificate_status == "good"
    assert (reading.info.serial, reading.info.device_no, reading.info.tries_left) == (rig.serial, DEVICE_NO, 3)
    assert serial_hex(reading.certificate.serial_number) == card.certificate.serial
    assert app.enterprise.uscc in reading.certificate.subject.rfc4514_string()
    cert_pem = write_pem(tmp_path / "card.pem", reading.certificate)
    assert b": OK" in openssl("verify", "-CAfile", env.chain_file(), cert_pem).stdout

    # The same item cannot be made twice.
    with pytest.raises(RuleViolation):
        env.cards.counter.personalize(app.id, 0, driver, STAFF)

    # PIN change: 88888888 refused (record untouched), then a real change clears the initial flag.
    before = env.snapshot(app.enterprise.uscc)
    with pytest.raises(RuleViolation) as refused:
        env.cards.self_service.change_pin(driver, INITIAL_PIN, INITIAL_PIN, me)
    assert refused.value.field == "new_pin" and "88888888" in refused.value.en
    assert env.snapshot(app.enterprise.uscc) == before and driver.card_info().pin_is_initial
    changed = env.cards.self_service.change_pin(driver, INITIAL_PIN, NEW_PIN, me)
    assert not changed.pin_is_initial and changed.state is CardState.ACTIVE

    # The card signs; openssl verifies the signature with the certificate's key.
    data = "报关单 0001 / declaration 0001".encode()
    (tmp_path / "data.bin").write_bytes(data)
    (tmp_path / "sig.bin").write_bytes(driver.sign(NEW_PIN, data))
    openssl("x509", "-in", cert_pem, "-pubkey", "-noout", "-out", tmp_path / "pub.pem")
    assert b"Verified OK" in openssl("dgst", "-sha256", "-verify", tmp_path / "pub.pem", "-signature",
                                     tmp_path / "sig.bin", tmp_path / "data.bin").stdout
    (tmp_path / "sig.bin").write_bytes(driver.sign(NEW_PIN, data + b"!"))
    assert openssl("dgst", "-sha256", "-verify", tmp_path / "pub.pem", "-signature", tmp_path / "sig.bin",
                   tmp_path / "data.bin", check=False).returncode != 0

    # Wrong PINs: tries left are reported, the record stays active until the card blocks itself.
    for left in (2, 1):
        with pytest.raises(WrongPin) as wrong:
            env.cards.self_service.change_pin(driver, "00000000", "24681357", me)
        assert wrong.value.tries_left == left
        assert env.cards.counter.read(driver).record.state is CardState.ACTIVE
    with pytest.raises(WrongPin):
        env.cards.self_service.change_pin(driver, "00000000", "24681357", me)
    locked = env.cards.counter.read(driver)
    assert locked.record.state is CardState.LOCKED and locked.info.blocked
    with pytest.raises(CardBlocked):
        env.cards.self_service.change_pin(driver, NEW_PIN, "24681357", me)

    # An enterprise cannot unlock at the counter; the counter can: PIN back to 88888888, record active.
    with pytest.raises(Forbidden):
        env.cards.counter.unlock(driver, me)
    unlocked = env.cards.counter.unlock(driver, STAFF)
    assert unlocked.state is CardState.ACTIVE and unlocked.pin_is_initial
    info = driver.card_info()
    assert info.tries_left == 3 and info.pin_is_initial
    driver.verify_pin(INITIAL_PIN)
    assert [e.action for e in unlocked.history] == ["issue", "change_pin", "lock", "unlock"]
    assert env.services.store.audit_verify().ok


def test_ocsp_answer_for_the_card_certificate_is_accepted_by_openssl(env, make_rig, tmp_path):
    app = env.produced(2, operators=0)
    driver = make_rig(serial="00c0ffee00000002").start()
    env.cards.counter.personalize(app.id, 0, driver, STAFF)
    cert = env.cards.counter.read(driver).certificate
    cert_pem = write_pem(tmp_path / "card.pem", cert)
    ca_pem = write_pem(tmp_path / "ca.pem", env.ca.certificate)
    openssl("ocsp", "-issuer", ca_pem, "-cert", cert_pem, "-reqout", tmp_path / "req.der", "-no_nonce")
    responder = OcspResponder(env.ca, store_registry_factory(env.services.store))
    answer = responder.respond((tmp_path / "req.der").read_bytes())
    assert ocsp.load_der_ocsp_response(answer).certificate_status is ocsp.OCSPCertStatus.GOOD
    (tmp_path / "resp.der").write_bytes(answer)
    run = openssl("ocsp", "-respin", tmp_path / "resp.der", "-issuer", ca_pem, "-cert", cert_pem,
                  "-CAfile", env.chain_file())
    said = run.stdout + run.stderr
    assert f"{cert_pem}: good".encode() in said and b"Response verify OK" in said


def test_card_pulled_out_mid_write_puts_nothing_in_force(env, make_rig):
    """The records come first (core/services/cards/recovery.py): the card ``blank``, its certificate on hold,
    valid for no one; the item stays to be made. Put back in, the card is made from the start and the
    record of the attempt given up (replaced, its certificate revoked), audited."""
    app = env.produced(3, operators=0)
    rig = make_rig(serial="00c0ffee00000003")
    driver = rig.start(pull_out_on=(Ins.UPDATE_BINARY, 2))  # during the certificate write
    with pytest.raises(CardRemoved):
        env.cards.counter.personalize(app.id, 0, driver, STAFF)
    (attempt,), (held,), _trail = env.snapshot(app.enterprise.uscc)
    assert attempt.state is CardState.BLANK and attempt.card_no == rig.serial and held.status == "hold"
    with env.services.store.transaction(readonly=True) as tx:
        assert not tx.applications.get(app.id).items[0].made
    # Put back in, the same card is made from the start.
    card = env.cards.counter.personalize(app.id, 0, rig.restart(), STAFF)
    assert card.state is CardState.ACTIVE and card.card_no == rig.serial and card.id != attempt.id
    with env.services.store.transaction(readonly=True) as tx:
        assert tx.cards.get(attempt.id).state is CardState.REPLACED
        assert tx.certificates.get(held.serial).status == "revoked"
        assert [e.action for e in tx.audit.for_entity("card", attempt.id)] == ["personalize_started",
                                                                               "reconcile_abandon"]


def test_personalise_refuses_an_application_not_in_production(env, make_rig):
    app = env.produced(4, operators=0)
    env.services.applications.complete(env.services.applications.mark_made(app.id, 0, STAFF).id, STAFF)
    driver = make_rig(serial="00c0ffee00000004").start()
    before = env.snapshot(app.enterprise.uscc)
    with pytest.raises(TransitionError):
        env.cards.counter.personalize(app.id, 0, driver, STAFF)
    assert env.snapshot(app.enterprise.uscc) == before and not driver.card_info().personalised




def test_personalise_refuses_a_stale_version_before_the_card_is_touched(env, make_rig):
    """The version the maker saw is checked by the service, before the key is made on the card (the page
    used to check it itself, then call the service: check-then-act)."""
    app = env.produced(5, operators=0)
    driver = make_rig(serial="00c0ffee00000005").start()
    before = env.snapshot(app.enterprise.uscc)
    with pytest.raises(ConflictError) as stale:
        env.cards.counter.personalize(app.id, 0, driver, STAFF, expected_version=app.version - 1)
    assert stale.value.field == "version" and stale.value.zh and stale.value.en
    assert env.snapshot(app.enterprise.uscc) == before and not driver.card_info().personalised
    card = env.cards.counter.personalize(app.id, 0, driver, STAFF, expected_version=app.version)
    assert card.state is CardState.ACTIVE
