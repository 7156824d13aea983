"""Renewal: legal-card self-service inside the 0-180-day window only, not when locked or expired;
counter renewal of an expired certificate. The old certificate is revoked as superseded and the PIN
(card and record) returns to 88888888."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cardkit import NEW_PIN, STAFF, enterprise, openssl, write_pem

from core.errors import Forbidden, RuleViolation
from core.hardware.errors import WrongPin
from core.hardware.profile import INITIAL_PIN
from core.model import CardState
from core.pki.ca import serial_hex


def _made_legal_card(env, make_rig, n: int):
    app = env.produced(n, operators=1)
    rig = make_rig(serial=f"00c0ffee{n:08x}")
    driver = rig.start()
    card = env.cards.counter.personalize(app.id, 0, driver, STAFF)
    env.cards.self_service.change_pin(driver, INITIAL_PIN, NEW_PIN, enterprise(app))
    return app, driver, card


def test_self_renewal_only_inside_the_window(env, make_rig, tmp_path):
    app, driver, card = _made_legal_card(env, make_rig, 11)
    me = enterprise(app)
    expiry = card.certificate.not_after

    env.clock.now = expiry - timedelta(days=181)
    before = env.snapshot(app.enterprise.uscc)
    with pytest.raises(RuleViolation) as early:
        env.cards.self_service.renew(driver, NEW_PIN, me)
    assert "180" in early.value.en
    assert env.snapshot(app.enterprise.uscc) == before

    env.clock.now = expiry - timedelta(days=100)
    with pytest.raises(WrongPin):  # the holder's PIN is checked; a wrong one changes nothing recorded
        env.cards.self_service.renew(driver, "11112222", me)
    assert env.snapshot(app.enterprise.uscc) == before

    renewed = env.cards.self_service.renew(driver, NEW_PIN, me)
    assert renewed.state is CardState.ACTIVE and renewed.pin_is_initial
    assert renewed.certificate.serial != card.certificate.serial
    # The CA stamps real time (the test clock only moves the service), so the new certificate runs a
    # full validity period from the moment it was issued.
    assert renewed.certificate.not_before >= card.certificate.not_before
    assert renewed.certificate.not_after >= expiry
    assert [e.action for e in renewed.history][-1] == "renew"
    with env.services.store.transaction(readonly=True) as tx:
        old = tx.certificates.get(card.certificate.serial)
        new = tx.certificates.get(renewed.certificate.serial)
    assert (old.status, old.reason) == ("revoked", "superseded") and new.status == "good"

    reading = env.cards.counter.read(driver)
    assert serial_hex(reading.certificate.serial_number) == renewed.certificate.serial
    assert reading.info.pin_is_initial and reading.info.tries_left == 3
    driver.verify_pin(INITIAL_PIN)
    assert reading.certificate.public_key() == driver.public_key()  # same card key
    pem = write_pem(tmp_path / "renewed.pem", reading.certificate)
    assert b": OK" in openssl("verify", "-CAfile", env.chain_file(), pem).stdout


def test_self_renewal_refused_for_operator_cards_and_other_enterprises(env, make_rig):
    app = env.produced(12, operators=1)
    driver = make_rig(serial="00c0ffee0000000c").start()
    operator = env.cards.counter.personalize(app.id, 1, driver, STAFF)
    stranger = enterprise(env.produced(13, operators=0))
    env.clock.now = operator.certificate.not_after - timedelta(days=10)
    before = env.snapshot(app.enterprise.uscc)
    with pytest.raises(RuleViolation) as refused:
        env.cards.self_service.renew(driver, INITIAL_PIN, enterprise(app))
    assert "legal card only" in refused.value.en
    with pytest.raises(Forbidden):
        env.cards.self_service.renew(driver, INITIAL_PIN, stranger)
    assert env.snapshot(app.enterprise.uscc) == before


def test_renewal_refused_when_locked_or_expired_and_counter_renews_expired(env, make_rig, tmp_path):
    app, driver, card = _made_legal_card(env, make_rig, 14)
    me = enterprise(app)
    expiry = card.certificate.not_after
    env.clock.now = expiry - timedelta(days=30)
    for _ in range(3):
        with pytest.raises(WrongPin):
            env.cards.self_service.change_pin(driver, "00000000", "24681357", me)
    before = env.snapshot(app.enterprise.uscc)
    with pytest.raises(RuleViolation) as locked:
        env.cards.self_service.renew(driver, NEW_PIN, me)
    assert "locked" in locked.value.en and env.snapshot(app.enterprise.uscc) == before

    env.cards.counter.unlock(driver, STAFF)
    env.clock.now = expiry + timedelta(days=1)
    before = env.snapshot(app.enterprise.uscc)
    with pytest.raises(RuleViolation) as expired:
        env.cards.self_service.renew(driver, INITIAL_PIN, me)
    assert "expired" in expired.value.en and env.snapshot(app.enterprise.uscc) == before

    # The counter renews an expired certificate (the holder brought the card).
    renewed = env.cards.counter.renew(driver, STAFF)
    assert renewed.state is CardState.ACTIVE and renewed.certificate.serial != card.certificate.serial
    pem = write_pem(tmp_path / "renewed.pem", env.cards.counter.read(driver).certificate)
    assert b": OK" in openssl("verify", "-CAfile", env.chain_file(), pem).stdout
