"""Operator-card renewal from the card page: the legal card grants ``renew``, the operator card's own
challenge is answered with a cryptogram and a new certificate for its SAME key (registered on hold),
``eport-card_Renew`` writes it with the operator card's PIN, and the confirmation puts it in force.

The agent's own handlers over in-process virtual cards play "browser + agent" (as in test_card_page).
Every refusal is bilingual and leaves cards, certificates, audit trail and nonces (the grant too) as
they were.
"""

# ruff: noqa: F811  (pytest fixtures imported from test_card_login are redefined as arguments)
from __future__ import annotations

import base64

import pytest
from cryptography import x509
from test_card_login import STAFF, World, api, b64, card_client, make_world, world  # noqa: F401
from test_card_page import act, agent, card_login
from webkit import csrf_of

from core.errors import RuleViolation
from core.hardware.errors import CardBlocked, WrongPin
from core.hardware.profile import INITIAL_PIN
from core.services import Actor
from core.services.cards import sign_operator_action

OPERATOR_PIN = "13572468"


def granted(world: World, client, card_id: str) -> str:
    reply = act(world, client, card_id, "renew")
    assert reply.status_code == 200, reply.text
    grant = reply.json()["grant"]
    assert grant["action"] == "renew" and grant["cardId"] == card_id
    return grant["token"]


def release(world: World, client, card_id: str, grant: str, *, key_of: str = "operator"):
    challenge = agent(world, "operator", "eport-card_GetChallenge")[0]
    public_key = agent(world, key_of, "eport-card_GetChallenge")[0]["publicKey"] if key_of != "operator" \
        else challenge["publicKey"]
    token = csrf_of(client, "/portal/cards")
    return api(client, f"/portal/cards/{card_id}/renewal",
               {"grant": grant, "serial": challenge["serial"], "challenge": challenge["challenge"],
                "publicKey": public_key}, token=token)


def refused(world: World, reply, status: int, field: str, before: tuple) -> None:
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert error["zh"] and error["en"] and error["field"] == field, error
    assert world.snapshot() == before


def test_the_page_offers_renewal_of_an_active_operator_card(world, card_client):
    card_login(world, card_client)
    page = card_client.get("/portal/cards").text
    op = world.card("operator")
    row = page.split(f'data-card-id="{op.id}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-action="renew"' in row
    assert 'id="renew-step" hidden' in page and 'id="operator-pin"' in page


def test_an_operator_card_is_renewed_with_its_own_key_and_pin(world, card_client):
    card_login(world, card_client)
    op = world.card("operator")
    old_serial = op.certificate.serial
    agent(world, "operator", "cus-sec_SpcChangePIN", {"oldPin": INITIAL_PIN, "newPin": OPERATOR_PIN})
    grant = granted(world, card_client, op.id)

    released = release(world, card_client, op.id, grant)
    assert released.status_code == 200, released.text
    new_der = base64.b64decode(released.json()["certificate"])
    new_cert = x509.load_der_x509_certificate(new_der)
    new_serial = format(new_cert.serial_number, "x")
    old_key = world.drivers["operator"].public_key()
    assert new_cert.public_key() == old_key  # the SAME card key
    with world.services.store.transaction(readonly=True) as tx:
        assert tx.certificates.get(new_serial).status == "hold"  # not in force before the card has it
        assert tx.certificates.get(old_serial).status == "good"
        assert [e.action for e in tx.audit.for_entity("card", op.id)][-1] == "release_operator_renewal"
    assert world.card("operator").certificate.serial == old_serial

    # The agent's Renew checks the OPERATOR card's PIN: a wrong one costs a try and writes nothing,
    # and the released cryptogram still answers the card's challenge for the retry with the right PIN.
    renew_args = {"cryptogram": released.json()["cryptogram"], "certificate": released.json()["certificate"]}
    before_wrong = world.snapshot()
    with pytest.raises(WrongPin) as wrong:
        agent(world, "operator", "eport-card_Renew", {"passwd": "99990000", **renew_args})
    assert wrong.value.tries_left == 2
    assert agent(world, "operator", "eport-card_Status")[0]["certNo"] == old_serial
    assert world.snapshot() == before_wrong

    status = agent(world, "operator", "eport-card_Renew", {"passwd": OPERATOR_PIN, **renew_args})[0]
    assert status["certNo"] == new_serial and status["pinIsInitial"] is True and status["triesLeft"] == 3
    assert agent(world, "operator", "cus-sec_SpcVerifyPIN", {"passwd": INITIAL_PIN}) == []

    token = csrf_of(card_client, "/portal/cards")
    bogus = api(card_client, f"/portal/cards/{op.id}/renewal/confirm",
                {"certificate": b64(world.drivers["legal"].read_certificate())}, token=token)
    assert bogus.status_code == 400 and bogus.json()["error"]["field"] == "certificate"
    confirmed = api(card_client, f"/portal/cards/{op.id}/renewal/confirm", {"certificate": b64(new_der)},
                    token=token)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["card"]["certNo"] == new_serial
    renewed = world.card("operator")
    assert renewed.certificate.serial == new_serial and renewed.pin_is_initial and renewed.state.value == "active"
    assert renewed.history[-1].action == "renew"
    with world.services.store.transaction(readonly=True) as tx:
        assert tx.certificates.get(new_serial).status == "good"
        old = tx.certificates.get(old_serial)
    assert old.status == "revoked" and old.reason == "superseded"
    again = api(card_client, f"/portal/cards/{op.id}/renewal/confirm", {"certificate": b64(new_der)},
                token=token)
    assert again.status_code == 400


def test_a_used_grant_is_refused_and_changes_nothing(world, card_client):
    card_login(world, card_client)
    op = world.card("operator")
    grant = granted(world, card_client, op.id)
    assert release(world, card_client, op.id, grant).status_code == 200
    before = world.snapshot()
    refused(world, release(world, card_client, op.id, grant), 403, "nonce", before)
    token = csrf_of(card_client, "/portal/cards")
    challenge = agent(world, "operator", "eport-card_GetChallenge")[0]
    missing = api(card_client, f"/portal/cards/{op.id}/renewal",
                  {"serial": challenge["serial"], "challenge": challenge["challenge"],
                   "publicKey": challenge["publicKey"]}, token=token)
    refused(world, missing, 400, "grant", before)


def test_another_enterprises_grant_is_refused(world, card_client, tmp_path):
    card_login(world, card_client)
    other = make_world(world.services, tmp_path / "other", n=32)
    other_op = other.card("operator")
    them = Actor(id="admin32", kind="enterprise", uscc=other.uscc)
    nonce = other.cards.grants.challenge(other.uscc, them).nonce
    cert_der, signature = sign_operator_action(other.drivers["legal"], INITIAL_PIN, nonce, "renew", other_op.id)
    their_grant = other.cards.grants.operator_action(other_op.id, "renew", cert_der, signature, nonce, them).grant
    assert their_grant is not None

    before = world.snapshot()
    refused(world, release(world, card_client, world.ids["operator"], their_grant.token), 403, "nonce", before)
    # Their own card from our session: as if unknown.
    refused(world, release(world, card_client, other_op.id, their_grant.token), 403, "card", before)


def test_a_frozen_or_locked_operator_card_is_refused(world, card_client):
    card_login(world, card_client)
    op = world.card("operator")
    grant = granted(world, card_client, op.id)
    assert act(world, card_client, op.id, "freeze").status_code == 200
    before = world.snapshot()
    refused(world, release(world, card_client, op.id, grant), 409, "state", before)
    refused(world, act(world, card_client, op.id, "renew"), 409, "state", before[:3] + world.snapshot()[3:])
    assert act(world, card_client, op.id, "unfreeze").status_code == 200

    # Locked by wrong PINs (recorded by the PIN-change service): the grant from before is refused.
    grant = granted(world, card_client, op.id)
    driver = world.drivers["operator"]
    for _ in range(3):
        with pytest.raises((WrongPin, CardBlocked)):
            world.cards.self_service.change_pin(driver, "11112222", OPERATOR_PIN, STAFF)
    assert world.card("operator").state.value == "locked"
    before = world.snapshot()
    refused(world, release(world, card_client, op.id, grant), 409, "state", before)


def test_a_public_key_that_is_not_the_cards_is_refused_and_the_grant_survives(world, card_client):
    card_login(world, card_client)
    op = world.card("operator")
    grant = granted(world, card_client, op.id)
    before = world.snapshot()
    refused(world, release(world, card_client, op.id, grant, key_of="legal"), 400, "public_key", before)
    assert release(world, card_client, op.id, grant).status_code == 200  # the refusal did not use it up


def test_the_legal_card_is_not_renewed_through_the_operator_path(world, card_client):
    """The card's kind picks the path: a grant sent with the legal card does not open its window."""
    card_login(world, card_client)
    legal = world.card("legal")
    before = world.snapshot()
    with pytest.raises(RuleViolation) as refusal:  # ten years to go: outside the legal card's window
        world.cards.renewals.release(legal.id, legal.card_no, b"\0" * 8, b"", Actor(
            id="admin", kind="enterprise", uscc=world.uscc), grant_token="no-grant")
    assert refusal.value.field == "card" and refusal.value.zh and refusal.value.en
    assert world.snapshot() == before
