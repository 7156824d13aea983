"""Card login in the web front: a server nonce, signed by the legal card, verified server-side.

The "browser + agent" side is an in-process virtual card personalised at the counter service (the
same card profile the agent drives). Every refusal is bilingual and changes nothing: not the card
records, not the certificates, not the audit trail and not the nonce.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from starlette.testclient import TestClient
from webkit import PASSWORD, csrf_of

from core import cards as card_rules
from core.hardware.driver import CardDriver
from core.hardware.keys import derive_admin_key
from core.hardware.profile import INITIAL_PIN
from core.hardware.transport import InProcessTransport
from core.hardware.virtual_card import VirtualCard
from core.model import Application, Business
from core.pki import revocation
from core.pki.ca import CertificateAuthority
from core.pki.profiles import HolderSubject, profile_for
from core.samples import make_enrol
from core.services import Actor, Services
from core.services.accounts import create_user
from core.services.card_challenges import CHALLENGE_TTL, card_challenges
from core.services.cards import CardKeys, Cards, login_message
from core.web.app import create_app

MASTER_SECRET = bytes(range(32))
PASSPHRASE = "web card tests passphrase"  # a strong one: ca init refuses weak ones
STAFF = Actor(id="clerk", kind="staff", region="shenzhen", roles=frozenset({"branch_admin"}))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@attrs.define
class World:
    """One enterprise with a legal card and an operator card (in-process virtual cards), and a CA."""

    services: Services
    cards: Cards
    ca: CertificateAuthority
    app: Application
    drivers: dict[str, CardDriver]
    virtual: dict[str, VirtualCard]
    ids: dict[str, str]
    workdir: Path

    @property
    def uscc(self) -> str:
        return self.app.enterprise.uscc

    def card(self, name: str):
        with self.services.store.transaction(readonly=True) as tx:
            return tx.cards.get(self.ids[name])

    def snapshot(self) -> tuple:
        """Everything a refusal must leave as it was."""
        with self.services.store.transaction(readonly=True) as tx:
            cards = tuple(tx.cards.for_enterprise(self.uscc))
            certs = tuple(r for c in cards for r in tx.certificates.for_card(c.id))
            trail = len(tx.audit.all(limit=100000))
            nonces = tuple(tuple(r) for r in tx.connection.execute(select(card_challenges)
                                                                   .order_by(card_challenges.c.nonce)))
        return cards, certs, trail, nonces


def produced(services: Services, n: int, operators: int = 1) -> Application:
    app = make_enrol(n, "shenzhen", operators=operators)
    me = Actor(id="admin", kind="enterprise", uscc=app.enterprise.uscc)
    svc = services.applications
    made = svc.create(attrs.evolve(app, id=""), me)
    made = svc.submit(made.id, me)
    made = svc.accept(made.id, STAFF)
    return svc.start_production(made.id, STAFF)


def personalise_virtual(cards: Cards, app: Application, index: int, path: Path, serial: str,
                        device_no: str) -> tuple[VirtualCard, CardDriver, str]:
    card = VirtualCard.create(path, admin_key=derive_admin_key(MASTER_SECRET, serial), serial=serial,
                              device_no="", retry_limit=3)
    driver = CardDriver(InProcessTransport(card)).connect()
    made = cards.counter.personalize(app.id, index, driver, STAFF, device_no=device_no)
    return card, driver, made.id


def make_world(services: Services, tmp_path: Path, n: int = 31) -> World:
    ca = CertificateAuthority.init(tmp_path / "ca", "电子口岸测试发卡CA", PASSPHRASE, "ec-p256")
    services = attrs.evolve(services, card_keys=CardKeys(ca, MASTER_SECRET))  # this world's own CA
    cards = services.cards
    app = produced(services, n)
    drivers, virtual, ids = {}, {}, {}
    for name, index, serial, device in (("legal", 0, f"00c0ffee{n:08x}", f"{n:02d}00000000001"),
                                        ("operator", 1, f"00c0ffef{n:08x}", f"{n:02d}00000000002")):
        virtual[name], drivers[name], ids[name] = personalise_virtual(cards, app, index, tmp_path / f"{name}.json",
                                                                      serial, device)
    return World(services, cards, ca, app, drivers, virtual, ids, tmp_path)


@pytest.fixture
def world(services: Services, tmp_path: Path) -> World:
    return make_world(services, tmp_path)


@pytest.fixture
def card_client(world: World):
    with TestClient(create_app(world.services), base_url="http://testserver") as c:
        yield c


def api(client: TestClient, path: str, body: dict | None = None, token: str | None = None):
    headers = {"x-csrf-token": token if token is not None else csrf_of(client, "/portal/card-login")}
    return client.post(path, json=body or {}, headers=headers)


def sign_login(client: TestClient, driver: CardDriver, pin: str = INITIAL_PIN) -> dict:
    """What the page does with the agent: get a nonce, have the card sign the challenge text."""
    challenge = api(client, "/portal/card-login/challenge").json()
    assert challenge["challenge"] == login_message(challenge["nonce"])
    signature = driver.sign(pin, challenge["challenge"].encode("utf-8"))
    return {"nonce": challenge["nonce"], "signature": b64(signature),
            "certificate": b64(driver.read_certificate())}


def card_session_of(client: TestClient) -> str | None:
    """'yes' / 'no' as the card page says, or None when not logged in (redirected to the login)."""
    page = client.get("/portal/cards", follow_redirects=False)
    if page.status_code != 200:
        return None
    return "yes" if 'data-card-session="yes"' in page.text else "no"


def refused(world: World, client: TestClient, body: dict, field: str, status: int = 403) -> dict:
    before = world.snapshot()
    reply = api(client, "/portal/card-login", body)
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert error["zh"] and error["en"] and error["field"] == field, error
    assert world.snapshot() == before
    assert card_session_of(client) is None
    return error


# ---- success ----------------------------------------------------------------------------------------------------

def test_the_legal_card_logs_in_the_enterprise_administrator_with_a_card_session(world, card_client):
    create_user(world.services, "ent31", PASSWORD, "enterprise", uscc=world.uscc, region="shenzhen",
                display_name="管理员")
    page = card_client.get("/portal/card-login")
    assert page.status_code == 200 and 'src="/static/cards.js"' in page.text
    assert "ws://127.0.0.1:61232" in page.headers["content-security-policy"]
    assert "<script>" not in page.text  # no inline script: the CSP forbids it

    body = sign_login(card_client, world.drivers["legal"])
    reply = api(card_client, "/portal/card-login", {**body, "next": "/portal"})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"ok": True, "redirect": "/portal"}
    assert card_session_of(card_client) == "yes"
    assert "ent31" in card_client.get("/portal").text  # the administrator's account
    with world.services.store.transaction(readonly=True) as tx:
        logins = [e for e in tx.audit.all(limit=100000) if e.action == "card_login"]
    assert [e.entity_id for e in logins] == [world.ids["legal"]]


def test_an_enterprise_without_a_web_account_gets_a_card_identity(world, card_client):
    reply = api(card_client, "/portal/card-login", sign_login(card_client, world.drivers["legal"]))
    assert reply.status_code == 200 and reply.json()["redirect"] == "/portal/cards"
    legal = world.card("legal")
    assert f"card-{legal.device_no}" in card_client.get("/portal").text
    assert card_session_of(card_client) == "yes"


# ---- refusals ---------------------------------------------------------------------------------------------------

def test_a_forged_signature_another_ca_or_a_wrong_pin_is_refused_and_the_nonce_stays_usable(world, card_client):
    driver = world.drivers["legal"]
    body = sign_login(card_client, driver)
    forged = bytearray(base64.b64decode(body["signature"]))
    forged[-3] ^= 0x01
    refused(world, card_client, {**body, "signature": b64(bytes(forged))}, "signature")
    # A signature over another nonce's text (or an operator-action message) does not log in either.
    other = driver.sign(INITIAL_PIN, f"eportcard-operator-action|{body['nonce']}|freeze|x".encode())
    refused(world, card_client, {**body, "signature": b64(other)}, "signature")
    # The same subject and key, certified by another CA.
    rogue = CertificateAuthority.init(world.workdir / "rogue", "电子口岸测试发卡CA", PASSPHRASE, "ec-p256")
    cert = x509.load_der_x509_certificate(base64.b64decode(body["certificate"]))
    copy = rogue.issue(profile_for("legal", world.cards.counter.profiles),
                       HolderSubject(world.app.enterprise.name, world.uscc, world.app.items[0].holder.name),
                       public_key=cert.public_key())
    refused(world, card_client, {**body, "certificate": b64(copy.public_bytes(serialization.Encoding.DER))},
            "certificate")
    refused(world, card_client, {**body, "certificate": b64(b"not a certificate")}, "certificate")
    # The operator card is ours and active, but it is not the legal card.
    op = world.drivers["operator"]
    op_body = {**body, "signature": b64(op.sign(INITIAL_PIN, login_message(body["nonce"]).encode())),
               "certificate": b64(op.read_certificate())}
    refused(world, card_client, op_body, "certificate")
    refused(world, card_client, {**body, "signature": "***"}, "signature", status=400)
    # None of that used the nonce up: the genuine request still works, once.
    assert api(card_client, "/portal/card-login", body).status_code == 200
    card_client.cookies.clear()
    refused(world, card_client, body, "nonce")


def test_a_revoked_or_held_certificate_is_refused(world, card_client):
    serial = world.card("legal").certificate.serial
    with world.services.store.transaction() as tx:
        revocation.hold(tx.certificates, serial)
    refused(world, card_client, sign_login(card_client, world.drivers["legal"]), "certificate")
    with world.services.store.transaction() as tx:
        revocation.release(tx.certificates, serial)
        revocation.revoke(tx.certificates, serial, "key_compromise")
    refused(world, card_client, sign_login(card_client, world.drivers["legal"]), "certificate")


def test_a_locked_frozen_or_expired_legal_card_record_is_refused(world, card_client):
    legal = world.card("legal")
    for action in ("lock", "freeze"):
        with world.services.store.transaction() as tx:
            moved, _e, _ = card_rules.transition(tx.cards.get(legal.id), action, "test", world.services.clock())
            tx.cards.update(moved)
        body = sign_login(card_client, world.drivers["legal"])  # the certificate itself stays good
        refused(world, card_client, body, "card")
        with world.services.store.transaction() as tx:
            back = "unlock" if action == "lock" else "unfreeze"
            moved, _e, _ = card_rules.transition(tx.cards.get(legal.id), back, "test", world.services.clock())
            tx.cards.update(moved)
    body = sign_login(card_client, world.drivers["legal"])
    world.services.clock.now = legal.certificate.not_after + timedelta(minutes=1)
    refused(world, card_client, body, "card")


def test_a_reused_or_expired_nonce_is_refused(world, card_client):
    driver = world.drivers["legal"]
    body = sign_login(card_client, driver)
    assert api(card_client, "/portal/card-login", body).status_code == 200
    card_client.cookies.clear()
    refused(world, card_client, body, "nonce")
    late = sign_login(card_client, driver)
    world.services.clock.now += CHALLENGE_TTL + timedelta(seconds=1)
    refused(world, card_client, late, "nonce")
    made_up = driver.sign(INITIAL_PIN, login_message("made-up").encode())
    refused(world, card_client, {**late, "nonce": "made-up", "signature": b64(made_up)}, "nonce")


def test_card_login_needs_the_csrf_token_and_a_configured_ca(world, card_client, services):
    body = sign_login(card_client, world.drivers["legal"])
    before = world.snapshot()
    reply = api(card_client, "/portal/card-login", body, token="wrong")
    assert reply.status_code == 403 and reply.json()["error"]["field"] == "csrf_token"
    assert world.snapshot() == before
    with TestClient(create_app(services), base_url="http://testserver") as plain:
        page = plain.get("/portal/card-login")
        assert page.status_code == 200 and "未配置发卡CA" in page.text
        reply = api(plain, "/portal/card-login/challenge")
        assert reply.status_code == 403 and reply.json()["error"]["en"]


# ---- what each session may apply for ----------------------------------------------------------------------------

def test_may_apply_a_password_session_what_the_region_takes_without_the_legal_card(world):
    # 001_56e603108c85a312.txt 2.3: a password login may apply for part of the businesses, a legal-card
    # login for all; the part is the region's to say (a business whose every channel needs the legal card).
    # Shenzhen offers each business on its web portal without the card, so a password login may apply for
    # all of them (tests/services/test_series_and_password_logins.py refuses one on a card-only region).
    offers = world.services.rulebook.offers("shenzhen")
    assert {Business.RENEW, Business.ENROL} <= {o.business for o in offers}
    apps = world.services.applications
    holder = Actor(id="a", kind="enterprise", uscc=world.uscc, region="shenzhen")  # its legal card is made
    newcomer = attrs.evolve(holder, uscc=make_enrol(77).enterprise.uscc)  # no card yet
    for offer in offers:
        business = offer.business
        if business is Business.ENROL:  # the enterprise already holds its one legal card
            assert apps.may_apply(holder, business, card_login=True) is not None
            assert apps.may_apply(newcomer, business, card_login=False) is None
            continue
        assert not all(c.requires_legal_card for c in offer.channels), business
        assert apps.may_apply(holder, business, card_login=True) is None, business
        assert apps.may_apply(holder, business, card_login=False) is None, business
        assert apps.may_apply(newcomer, business, card_login=False) is not None, business  # no legal card yet


def test_the_new_application_page_follows_the_session(world, card_client):
    create_user(world.services, "ent31", PASSWORD, "enterprise", uscc=world.uscc, region="shenzhen",
                display_name="管理员")
    token = csrf_of(card_client)
    card_client.post("/portal/login", data={"csrf_token": token, "username": "ent31", "password": PASSWORD})
    assert card_session_of(card_client) == "no"

    def start(business: str):
        return card_client.post("/portal/apps/new", data={"csrf_token": csrf_of(card_client, "/portal"),
                                                          "business": business}, follow_redirects=False)

    assert start("add_card").status_code == 303  # Shenzhen takes it on the web without the legal card
    assert start("enrol").status_code != 303  # the enterprise holds its legal card: no second enrolment
    assert api(card_client, "/portal/card-login", sign_login(card_client, world.drivers["legal"])).status_code == 200
    assert card_session_of(card_client) != "no"
    allowed = start("add_card")
    assert allowed.status_code == 303, allowed.text
