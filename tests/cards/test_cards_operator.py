"""Operator-card actions authorised by the enterprise's legal card over a server challenge.

Success with the own legal card; refusals (another enterprise's legal card, a forged signature, a
certificate from another CA, a revoked legal card, a reused or expired nonce) each leave every
record unchanged. The pcsc reader holds one card at a time, so cards are swapped like at a desk.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from cardkit import PASSPHRASE, STAFF, enterprise, openssl, write_pem
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from core.errors import Forbidden, TransitionError
from core.hardware.errors import WrongPin
from core.hardware.profile import INITIAL_PIN
from core.model import CardState
from core.pki import revocation
from core.pki.ca import CertificateAuthority
from core.pki.crl import build_crl
from core.pki.profiles import HolderSubject, profile_for
from core.services.card_challenges import CHALLENGE_TTL
from core.services.cards import sign_operator_action


class Desk:
    """Card rigs on one reader: ``use`` takes the other cards out first."""

    def __init__(self, make_rig) -> None:
        self.make_rig = make_rig
        self.rigs: dict[str, object] = {}

    def use(self, name: str):
        for other, rig in self.rigs.items():
            if other != name:
                rig.stop()
        if name not in self.rigs:
            self.rigs[name] = self.make_rig(serial=f"00c0ffee{0x100 + len(self.rigs):08x}")
        rig = self.rigs[name]
        return rig.driver or rig.start()


@pytest.fixture
def world(env, make_rig):
    """Enterprise A (legal + 2 operator cards) and enterprise B (legal card), all made at the counter."""
    desk = Desk(make_rig)
    a = env.produced(21, operators=2)
    b = env.produced(22, operators=0)
    made = {
        "legal_a": env.cards.counter.personalize(a.id, 0, desk.use("legal_a"), STAFF),
        "op1": env.cards.counter.personalize(a.id, 1, desk.use("op1"), STAFF),
        "op2": env.cards.counter.personalize(a.id, 2, desk.use("op2"), STAFF),
        "legal_b": env.cards.counter.personalize(b.id, 0, desk.use("legal_b"), STAFF),
    }
    return desk, a, b, made


def _signed(env, desk, signer: str, uscc: str, action: str, target_id: str, actor):
    challenge = env.cards.grants.challenge(uscc, actor)
    cert_der, signature = sign_operator_action(desk.use(signer), INITIAL_PIN, challenge.nonce, action, target_id)
    return challenge.nonce, cert_der, signature


def _card(env, card_id):
    with env.services.store.transaction(readonly=True) as tx:
        card = tx.cards.get(card_id)
        return card, tx.certificates.get(card.certificate.serial)


def test_freeze_and_unfreeze_with_the_own_legal_card_and_refusals_change_nothing(env, world, tmp_path):
    desk, a, b, made = world
    me, them = enterprise(a), enterprise(b)
    target = made["op1"].id
    uscc = a.enterprise.uscc

    def refused(nonce, cert_der, signature, actor=me, action="freeze"):
        before = env.snapshot(uscc)
        with pytest.raises(Forbidden) as error:
            env.cards.grants.operator_action(target, action, cert_der, signature, nonce, actor)
        assert env.snapshot(uscc) == before
        return error.value

    # Another enterprise's legal card, by that enterprise and on our behalf.
    assert refused(*_signed(env, desk, "legal_b", b.enterprise.uscc, "freeze", target, them), actor=them).field
    nonce_b, cert_b, sig_b = _signed(env, desk, "legal_b", b.enterprise.uscc, "freeze", target, them)
    refused(nonce_b, cert_b, sig_b)
    # A challenge is for one enterprise only.
    with pytest.raises(Forbidden):
        env.cards.grants.challenge(uscc, them)

    nonce, cert_der, signature = _signed(env, desk, "legal_a", uscc, "freeze", target, me)
    # Forged: a flipped signature byte; a signature over another action or card; another CA's certificate.
    forged = bytearray(signature)
    forged[-3] ^= 0x01
    assert refused(nonce, cert_der, bytes(forged)).field == "signature"
    assert refused(nonce, cert_der, signature, action="report_lost").field == "signature"
    rogue = CertificateAuthority.init(tmp_path / "rogue", "电子口岸测试发卡CA", PASSPHRASE, "ec-p256")
    legal_cert = x509.load_der_x509_certificate(cert_der)
    copy = rogue.issue(profile_for("legal", env.cards.counter.profiles),
                       HolderSubject(a.enterprise.name, uscc, a.items[0].holder.name),
                       public_key=legal_cert.public_key())
    assert refused(nonce, copy.public_bytes(serialization.Encoding.DER), signature).field == "certificate"
    assert refused(nonce, b"not a certificate", signature).field == "certificate"

    # The genuine request works once.
    result = env.cards.grants.operator_action(target, "freeze", cert_der, signature, nonce, me)
    assert result.grant is None and result.card.state is CardState.FROZEN
    card, cert = _card(env, target)
    assert card.state is CardState.FROZEN and cert.status == "hold"
    assert refused(nonce, cert_der, signature).field == "nonce"  # reused

    # An expired challenge.
    nonce, cert_der, signature = _signed(env, desk, "legal_a", uscc, "unfreeze", target, me)
    env.clock.now += CHALLENGE_TTL + timedelta(seconds=1)
    assert refused(nonce, cert_der, signature, action="unfreeze").field == "nonce"
    nonce, cert_der, signature = _signed(env, desk, "legal_a", uscc, "unfreeze", target, me)
    assert env.cards.grants.operator_action(target, "unfreeze", cert_der, signature, nonce, me).card.state \
        is CardState.ACTIVE
    assert _card(env, target)[1].status == "good"

    # A legal card whose certificate is revoked authorises nothing.
    with env.services.store.transaction() as tx:
        revocation.revoke(tx.certificates, made["legal_a"].certificate.serial, "keyCompromise")
    assert refused(*_signed(env, desk, "legal_a", uscc, "freeze", target, me)).field == "certificate"


def test_unlock_and_renew_are_released_to_where_the_operator_card_is(env, world):
    desk, a, _b, made = world
    me = enterprise(a)
    uscc = a.enterprise.uscc
    target = made["op1"]
    driver = desk.use("op1")
    for _ in range(3):
        with pytest.raises(WrongPin):
            env.cards.self_service.change_pin(driver, "00000000", "24681357", me)
    assert _card(env, target.id)[0].state is CardState.LOCKED

    nonce, cert_der, signature = _signed(env, desk, "legal_a", uscc, "unlock", target.id, me)
    result = env.cards.grants.operator_action(target.id, "unlock", cert_der, signature, nonce, me)
    assert result.grant is not None and result.card.state is CardState.LOCKED  # nothing happens before the card
    unlocked = env.cards.grants.operator_unlock(desk.use("op1"), result.grant, me)
    assert unlocked.state is CardState.ACTIVE and unlocked.pin_is_initial
    driver = desk.use("op1")
    assert driver.card_info().tries_left == 3
    driver.verify_pin(INITIAL_PIN)
    with pytest.raises(Forbidden):  # a grant is used once
        env.cards.grants.release_unblock(target.id, target.card_no, b"\x00" * 8, result.grant.token, me)

    nonce, cert_der, signature = _signed(env, desk, "legal_a", uscc, "renew", target.id, me)
    grant = env.cards.grants.operator_action(target.id, "renew", cert_der, signature, nonce, me).grant
    with pytest.raises(Exception):  # noqa: B017 - the grant is for op1, not op2's card
        env.cards.grants.operator_renew(desk.use("op2"), grant, me)
    renewed = env.cards.grants.operator_renew(desk.use("op1"), grant, me)
    assert renewed.certificate.serial != target.certificate.serial
    with env.services.store.transaction(readonly=True) as tx:
        assert tx.certificates.get(target.certificate.serial).status == "revoked"


def test_report_lost_then_void_revokes_and_openssl_crl_check_refuses(env, world, tmp_path):
    desk, a, _b, made = world
    me = enterprise(a)
    uscc = a.enterprise.uscc
    target = made["op2"]
    nonce, cert_der, signature = _signed(env, desk, "legal_a", uscc, "void", target.id, me)
    before = env.snapshot(uscc)
    with pytest.raises(TransitionError):  # void only after reporting the loss; nothing changes
        env.cards.grants.operator_action(target.id, "void", cert_der, signature, nonce, me)
    assert env.snapshot(uscc) == before
    for action in ("report_lost", "void"):
        nonce, cert_der, signature = _signed(env, desk, "legal_a", uscc, action, target.id, me)
        env.cards.grants.operator_action(target.id, action, cert_der, signature, nonce, me)
    card, cert = _card(env, target.id)
    assert card.state is CardState.VOIDED and (cert.status, cert.reason) == ("revoked", "keyCompromise")

    with env.services.store.transaction(readonly=True) as tx:
        crl = build_crl(env.ca, tx.certificates, crl_number=1)
    crl_pem = write_pem(tmp_path / "crl.pem", crl)
    voided = write_pem(tmp_path / "voided.pem", x509.load_pem_x509_certificate(cert.pem.encode()))
    legal = desk.use("legal_a").read_certificate()
    legal_pem = write_pem(tmp_path / "legal.pem", x509.load_der_x509_certificate(legal))
    run = openssl("verify", "-crl_check", "-CAfile", env.chain_file(), "-CRLfile", crl_pem, voided, check=False)
    assert run.returncode != 0 and b"certificate revoked" in run.stdout + run.stderr
    assert b": OK" in openssl("verify", "-crl_check", "-CAfile", env.chain_file(), "-CRLfile", crl_pem,
                              legal_pem).stdout
