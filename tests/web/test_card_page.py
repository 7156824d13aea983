"""The card management page and its JSON actions, with the agent's own method handlers over in-process
virtual cards as the "browser + agent" side: list, freeze / unfreeze / report loss / void, unlock of a
card locked by wrong PINs (grant -> card challenge -> released cryptogram -> ApplyUnblock), legal-card
renewal (release on hold -> eport-card_Renew -> confirm), the PKI endpoints, and refusals."""

# ruff: noqa: F811  (pytest fixtures imported from test_card_login are redefined as arguments)
from __future__ import annotations

import base64
import re
import subprocess
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from test_card_login import World, api, b64, card_client, make_world, sign_login, world  # noqa: F401
from webkit import PASSWORD, csrf_of

from core.agent.methods import METHODS
from core.agent.server import VirtualSlot
from core.hardware.errors import CardBlocked, WrongPin
from core.hardware.profile import INITIAL_PIN
from core.services.accounts import create_user
from core.services.cards import sign_operator_action

_SLOTS: dict[int, VirtualSlot] = {}


def agent(world: World, name: str, method: str, args: dict | None = None) -> list:
    """The agent's handler for ``method`` on that card (what cards.js reaches over the WebSocket).

    One agent slot per card, kept between calls: a new connection would SELECT again and so drop the
    card's pending challenge, as pulling the card out does.
    """
    card = world.virtual[name]
    slot = _SLOTS.get(id(card))
    if slot is None or slot.card is not card:
        slot = _SLOTS[id(card)] = VirtualSlot(card)
    return METHODS[method](slot, args or {})


def card_login(world: World, client) -> None:
    assert api(client, "/portal/card-login", sign_login(client, world.drivers["legal"])).status_code == 200


def act(world: World, client, card_id: str, action: str):
    """What the page does for an operator-card action: a nonce, the legal card's signature, the post."""
    token = csrf_of(client, "/portal/cards")
    nonce = api(client, "/portal/cards/challenge", token=token).json()["nonce"]
    cert_der, signature = sign_operator_action(world.drivers["legal"], INITIAL_PIN, nonce, action, card_id)
    return api(client, f"/portal/cards/{card_id}/action",
               {"action": action, "nonce": nonce, "signature": b64(signature), "certificate": b64(cert_der)},
               token=token)


def state_cell(page: str, card_id: str) -> str:
    match = re.search(rf'data-card-id="{card_id}".*?class="state" data-state="([a-z_]+)"', page, re.S)
    assert match, page
    return match.group(1)


def test_a_password_session_sees_the_list_read_only(world, card_client):
    create_user(world.services, "ent31", PASSWORD, "enterprise", uscc=world.uscc, region="shenzhen",
                display_name="管理员")
    card_client.post("/portal/login", data={"csrf_token": csrf_of(card_client), "username": "ent31",
                                            "password": PASSWORD})
    page = card_client.get("/portal/cards")
    assert page.status_code == 200
    assert 'id="read-only"' in page.text and "card-action" not in page.text
    legal, op = world.card("legal"), world.card("operator")
    for card in (legal, op):
        assert state_cell(page.text, card.id) == "active"
        assert card.device_no in page.text and card.certificate.not_after.date().isoformat() in page.text
    assert op.holder.id_number not in page.text  # masked
    assert "延期成功后 IC 卡密码将自动恢复为初始密码 88888888" in page.text
    before = world.snapshot()
    token = csrf_of(card_client, "/portal/cards")
    refused = api(card_client, f"/portal/cards/{op.id}/action", {"action": "freeze"}, token=token)
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "session"
    assert api(card_client, "/portal/cards/challenge", token=token).status_code == 403
    assert world.snapshot() == before


def test_freeze_unfreeze_report_loss_and_void_from_a_card_session(world, card_client):
    card_login(world, card_client)
    op = world.card("operator")
    page = card_client.get("/portal/cards").text
    assert 'data-action="freeze"' in page and 'data-action="unlock"' in page
    assert 'id="renewal-window" data-open="no"' in page  # ten years to go

    frozen = act(world, card_client, op.id, "freeze")
    assert frozen.status_code == 200, frozen.text
    assert frozen.json()["card"]["state"] == "frozen" and frozen.json()["grant"] is None
    assert state_cell(card_client.get("/portal/cards").text, op.id) == "frozen"
    with world.services.store.transaction(readonly=True) as tx:
        assert tx.certificates.get(op.certificate.serial).status == "hold"
    # Not allowed from frozen: the state machine answers, nothing changes.
    before = world.snapshot()
    refused = act(world, card_client, op.id, "report_lost")
    assert refused.status_code == 409 and refused.json()["error"]["zh"]
    assert world.snapshot()[:3] == before[:3]  # (the fresh nonce itself is new, unused)

    assert act(world, card_client, op.id, "unfreeze").json()["card"]["state"] == "active"
    assert act(world, card_client, op.id, "report_lost").json()["card"]["state"] == "reported_lost"
    assert act(world, card_client, op.id, "void").json()["card"]["state"] == "voided"
    with world.services.store.transaction(readonly=True) as tx:
        record = tx.certificates.get(op.certificate.serial)
    assert record.status == "revoked" and record.reason == "keyCompromise"
    crl = x509.load_der_x509_crl(card_client.get("/pki/crl.der").content)
    assert crl.is_signature_valid(world.ca.certificate.public_key())
    assert crl.get_revoked_certificate_by_serial_number(int(op.certificate.serial, 16)) is not None


def test_the_legal_card_and_other_enterprises_cards_are_not_actionable(world, card_client, tmp_path):
    card_login(world, card_client)
    other = make_world(world.services, tmp_path / "other", n=32)
    before = world.snapshot()
    for card_id in (other.ids["operator"], "no-such-card"):
        refused = act(world, card_client, card_id, "freeze")
        assert refused.status_code == 403 and refused.json()["error"]["field"] == "card"
    refused = act(world, card_client, world.ids["legal"], "freeze")
    assert refused.status_code == 403
    refused = act(world, card_client, world.ids["operator"], "cancel")
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "action"
    assert world.snapshot()[:3] == before[:3]


def test_unlock_an_operator_card_locked_by_wrong_pins(world, card_client):
    card_login(world, card_client)
    op = world.card("operator")
    for _ in range(3):
        with pytest.raises((WrongPin, CardBlocked)):
            world.drivers["operator"].verify_pin("11112222")
    assert agent(world, "operator", "eport-card_Status")[0]["blocked"] is True

    granted = act(world, card_client, op.id, "unlock")
    assert granted.status_code == 200, granted.text
    grant = granted.json()["grant"]
    assert grant["cardId"] == op.id and grant["serial"] == op.card_no

    token = csrf_of(card_client, "/portal/cards")
    # The legal card in the reader instead of the operator card: refused, the grant stays usable.
    legal_challenge = agent(world, "legal", "eport-card_GetChallenge")[0]
    wrong = api(card_client, f"/portal/cards/{op.id}/unblock",
                {"grant": grant["token"], "serial": legal_challenge["serial"],
                 "challenge": legal_challenge["challenge"]}, token=token)
    assert wrong.status_code == 400 and wrong.json()["error"]["field"] == "serial"

    challenge = agent(world, "operator", "eport-card_GetChallenge")[0]
    released = api(card_client, f"/portal/cards/{op.id}/unblock",
                   {"grant": grant["token"], "serial": challenge["serial"], "challenge": challenge["challenge"]},
                   token=token)
    assert released.status_code == 200, released.text
    status = agent(world, "operator", "eport-card_ApplyUnblock", {"cryptogram": released.json()["cryptogram"]})[0]
    assert status["blocked"] is False and status["pinIsInitial"] is True
    assert agent(world, "operator", "cus-sec_SpcVerifyPIN", {"passwd": INITIAL_PIN}) == []
    assert world.card("operator").pin_is_initial is True
    # The grant was single use.
    again = api(card_client, f"/portal/cards/{op.id}/unblock",
                {"grant": grant["token"], "serial": challenge["serial"], "challenge": challenge["challenge"]},
                token=token)
    assert again.status_code == 403 and again.json()["error"]["field"] == "nonce"


def renewal(world: World, client, token: str, public_key: str | None = None):
    legal = world.card("legal")
    challenge = agent(world, "legal", "eport-card_GetChallenge")[0]
    reply = api(client, f"/portal/cards/{legal.id}/renewal",
                {"serial": challenge["serial"], "challenge": challenge["challenge"],
                 "publicKey": public_key or challenge["publicKey"]}, token=token)
    return reply


def test_legal_card_renewal_is_released_on_hold_and_recorded_only_once_confirmed(world, card_client, tmp_path):
    card_login(world, card_client)
    token = csrf_of(card_client, "/portal/cards")
    legal = world.card("legal")
    old_serial = legal.certificate.serial

    # Outside the 0-180-day window: refused, nothing changes.
    before = world.snapshot()
    outside = renewal(world, card_client, token)
    assert outside.status_code == 422 and "180" in outside.json()["error"]["en"]
    assert world.snapshot() == before

    world.services.clock.now = legal.certificate.not_after - timedelta(days=100)
    page = card_client.get("/portal/cards").text
    assert 'id="renewal-window" data-open="yes"' in page and 'id="renew-legal"' in page
    # Another card's key: refused.
    op_key = agent(world, "operator", "eport-card_GetChallenge")[0]["publicKey"]
    assert renewal(world, card_client, token, public_key=op_key).status_code == 400

    released = renewal(world, card_client, token)
    assert released.status_code == 200, released.text
    new_der = base64.b64decode(released.json()["certificate"])
    new_cert = x509.load_der_x509_certificate(new_der)
    new_serial = format(new_cert.serial_number, "x")
    with world.services.store.transaction(readonly=True) as tx:
        assert tx.certificates.get(new_serial).status == "hold"  # not in force before the card has it
        assert tx.certificates.get(old_serial).status == "good"
    assert world.card("legal").certificate.serial == old_serial

    status = agent(world, "legal", "eport-card_Renew", {"passwd": INITIAL_PIN, "certificate": released.json()[
        "certificate"], "cryptogram": released.json()["cryptogram"]})[0]
    assert status["certNo"] == new_serial and status["pinIsInitial"] is True

    # Confirming something else is refused; the real confirmation records the renewal.
    bogus = api(card_client, f"/portal/cards/{legal.id}/renewal/confirm",
                {"certificate": b64(world.ca.certificate.public_bytes(serialization.Encoding.DER))}, token=token)
    assert bogus.status_code == 400
    confirmed = api(card_client, f"/portal/cards/{legal.id}/renewal/confirm", {"certificate": b64(new_der)},
                    token=token)
    assert confirmed.status_code == 200, confirmed.text
    renewed = world.card("legal")
    assert renewed.certificate.serial == new_serial and renewed.pin_is_initial
    assert renewed.history[-1].action == "renew"
    with world.services.store.transaction(readonly=True) as tx:
        assert tx.certificates.get(new_serial).status == "good"
        old = tx.certificates.get(old_serial)
    assert old.status == "revoked" and old.reason == "superseded"
    again = api(card_client, f"/portal/cards/{legal.id}/renewal/confirm", {"certificate": b64(new_der)},
                token=token)
    assert again.status_code == 400

    # The renewed card logs in; openssl checks the chain and the CRL lists the superseded one.
    world.drivers["legal"] = world.drivers["legal"].connect()
    card_client.cookies.clear()
    assert api(card_client, "/portal/card-login", sign_login(card_client, world.drivers["legal"])).status_code == 200
    ca_pem = tmp_path / "ca.pem"
    ca_pem.write_bytes(world.ca.chain_pem())
    cert_pem = tmp_path / "new.pem"
    cert_pem.write_bytes(new_cert.public_bytes(serialization.Encoding.PEM))
    crl_pem = tmp_path / "crl.pem"
    crl = x509.load_der_x509_crl(card_client.get("/pki/crl.der").content)
    crl_pem.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    ok = subprocess.run(["openssl", "verify", "-crl_check", "-CAfile", str(ca_pem), "-CRLfile", str(crl_pem),
                         str(cert_pem)], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert crl.get_revoked_certificate_by_serial_number(int(old_serial, 16)) is not None


def test_the_ocsp_responder_answers_at_the_url_the_certificate_carries(world, card_client):
    from urllib.parse import urlsplit

    from cryptography.hazmat.primitives import hashes
    from cryptography.x509 import ocsp
    from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID

    legal = world.card("legal")
    with world.services.store.transaction(readonly=True) as tx:
        cert = x509.load_pem_x509_certificate(tx.certificates.get(legal.certificate.serial).pem.encode())
    aia = cert.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS).value
    url = next(d.access_location.value for d in aia if d.access_method == AuthorityInformationAccessOID.OCSP)
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, world.ca.certificate, hashes.SHA1()).build()
    # OCSP clients (openssl among them) do not follow redirects: the exact path must answer.
    reply = card_client.post(urlsplit(url).path, content=request.public_bytes(serialization.Encoding.DER),
                             headers={"content-type": "application/ocsp-request"}, follow_redirects=False)
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/ocsp-response"
    answer = ocsp.load_der_ocsp_response(reply.content)
    assert answer.certificate_status is ocsp.OCSPCertStatus.GOOD


def test_without_a_card_ca_the_page_lists_and_the_actions_explain(world, services):
    from starlette.testclient import TestClient

    from core.web.app import create_app

    create_user(services, "ent31", PASSWORD, "enterprise", uscc=world.uscc, region="shenzhen", display_name="x")
    with TestClient(create_app(services), base_url="http://testserver") as plain:
        plain.post("/portal/login", data={"csrf_token": csrf_of(plain), "username": "ent31", "password": PASSWORD})
        assert state_cell(plain.get("/portal/cards").text, world.ids["operator"]) == "active"
        assert plain.get("/pki/crl.der").status_code == 404



def test_the_card_endpoints_and_page_call_the_services_off_the_event_loop(world, card_client, monkeypatch):
    """The services block (database, signatures): the JSON endpoints and the page run in the thread pool,
    so one card login does not stall every other request on the worker."""
    import asyncio

    from core.services.cards import Cards
    from core.services.cards.grants import Grants

    where: list[str] = []

    def recording(method):
        def run(*args, **kwargs):
            try:
                asyncio.get_running_loop()
                where.append(f"{method.__name__}: event loop")
            except RuntimeError:
                where.append(f"{method.__name__}: worker thread")
            return method(*args, **kwargs)
        return run

    monkeypatch.setattr(Grants, "login_challenge", recording(Grants.login_challenge))
    monkeypatch.setattr(Cards, "overview", recording(Cards.overview))
    card_login(world, card_client)
    assert card_client.get("/portal/cards").status_code == 200
    assert where == ["login_challenge: worker thread", "overview: worker thread"]
