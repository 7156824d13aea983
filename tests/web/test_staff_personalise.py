"""Counter personalisation from the staff production page, through the REAL pcscd + vpcd reader.

A card maker opens an application in production, puts a blank virtual card in the reader and presses
"personalise with the reader": the key is made on the card, the certificate written and read back,
the item is made and a card record appears. With no card in the reader (or the wrong card) the
typed hardware error is shown bilingually and nothing changes. Without pcscd or vpcd this FAILS.
"""

# ruff: noqa: F811  (the pcscd fixture is imported and redefined as an argument)
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from starlette.testclient import TestClient
from test_card_login import MASTER_SECRET, PASSPHRASE, produced
from webkit import CSRF_RE, PASSWORD

from core.config import CardSettings
from core.hardware.testing import FIRST_SLOT, CardRig, pcscd  # noqa: F401  (pcscd: the reader fixture)
from core.model import Application
from core.pki.ca import CertificateAuthority
from core.services import Actor, Services
from core.services.accounts import create_user
from core.services.cards import CardKeys, Cards
from core.web.app import create_app

SYSTEM = Actor.system("test")


@attrs.define
class Counter:
    services: Services
    cards: Cards
    client: TestClient
    app: Application

    def page(self) -> str:
        return self.client.get(f"/staff/apps/{self.app.id}").text

    def personalise(self, item: int, reader: str):
        page = self.page()
        data = {"csrf_token": CSRF_RE.search(page).group(1), "item": str(item), "reader": reader,
                "version": str(self.services.applications.get(self.app.id, SYSTEM).version)}
        return self.client.post(f"/staff/apps/{self.app.id}/personalize", data=data, follow_redirects=False)

    def snapshot(self) -> tuple:
        with self.services.store.transaction(readonly=True) as tx:
            cards = tuple(tx.cards.for_enterprise(self.app.enterprise.uscc))
            trail = len(tx.audit.all(limit=100000))
        return self.services.applications.get(self.app.id, SYSTEM), cards, trail


def staff_login(client: TestClient, services: Services, roles: list[str]) -> None:
    name = "maker-" + "-".join(roles)
    create_user(services, name, PASSWORD, "staff", region="shenzhen", roles=roles)
    token = CSRF_RE.search(client.get("/staff/login").text).group(1)
    done = client.post("/staff/login", data={"csrf_token": token, "username": name, "password": PASSWORD},
                       follow_redirects=False)
    assert done.status_code == 303, done.text


@pytest.fixture
def counter(services: Services, tmp_path: Path) -> Iterator[Counter]:
    ca = CertificateAuthority.init(tmp_path / "ca", "电子口岸测试发卡CA", PASSPHRASE, "ec-p256")
    services = attrs.evolve(services, card_keys=CardKeys(ca, MASTER_SECRET))
    app = produced(services, 51)
    with TestClient(create_app(services), base_url="http://testserver") as client:
        staff_login(client, services, ["card_maker"])
        yield Counter(services, services.cards, client, app)


@pytest.fixture
def blank_card(pcscd, tmp_path: Path) -> Iterator[CardRig]:
    rig = CardRig("pcsc", tmp_path / "blank.json", serial="00c0ffee00000051", slot=FIRST_SLOT)
    try:
        yield rig
    finally:
        rig.stop()


def error_text(html: str) -> str:
    return " ".join(re.findall(r'class="error[^"]*"[^>]*>(.*?)<', html, re.S)) or html


def test_a_card_maker_personalises_an_item_with_the_reader(counter: Counter, blank_card: CardRig):
    page = counter.page()
    assert 'id="personalise"' in page and 'id="personalise-0"' in page and 'id="personalise-1"' in page
    assert FIRST_SLOT.name in page  # offered in the reader list
    assert 'id="action-make"' in page  # "mark made" stays

    blank_card.insert()
    done = counter.personalise(0, FIRST_SLOT.name)
    assert done.status_code == 303, error_text(done.text)
    shown = counter.client.get(done.headers["location"]).text
    assert f'<dd id="made-serial">{blank_card.serial}</dd>' in shown

    app = counter.services.applications.get(counter.app.id, SYSTEM)
    assert app.items[0].made and not app.items[1].made
    with counter.services.store.transaction(readonly=True) as tx:
        made = [c for c in tx.cards.for_enterprise(app.enterprise.uscc) if c.card_no == blank_card.serial]
        assert len(made) == 1
        card = made[0]
        assert card.application_id == app.id and card.kind is app.items[0].kind and card.state.value == "active"
        assert tx.certificates.get(card.certificate.serial).status == "good"
    assert f'<dd id="made-certificate">{card.certificate.serial}</dd>' in shown
    assert 'id="personalise-0"' not in shown and 'id="personalise-1"' in shown
    # The card itself has the certificate: read back through the reader.
    reading = counter.cards.counter.read(blank_card.connect())
    assert reading.record is not None and reading.record.id == card.id

    # The same card for the next item: it is in use, so it is refused before it is touched.
    before = counter.snapshot()
    refused = counter.personalise(1, FIRST_SLOT.name)
    assert refused.status_code == 422
    assert "这张卡仍在使用中" in refused.text and 'id="personalise-1"' in refused.text
    assert counter.snapshot() == before


def test_without_a_card_in_the_reader_the_error_is_shown_and_nothing_changes(counter: Counter,
                                                                               blank_card: CardRig):
    before = counter.snapshot()
    refused = counter.personalise(0, FIRST_SLOT.name)  # the reader is there, the card is not
    assert refused.status_code == 422
    assert "卡片已被拔出或读卡器无响应" in refused.text  # the typed hardware error (CardRemoved)
    assert 'id="action-make"' in refused.text and 'id="personalise-0"' in refused.text
    assert counter.snapshot() == before

    missing = counter.personalise(0, "No Such Reader 00 00")
    assert missing.status_code == 422 and "找不到读卡器No Such Reader 00 00" in missing.text  # NoReader
    counter.client.get(f"/staff/apps/{counter.app.id}?lang=en")  # the session switches to English
    english = counter.personalise(0, FIRST_SLOT.name)
    assert english.status_code == 422 and "the card was removed or the reader stopped answering" in english.text
    assert "Personalise with the reader" in english.text
    assert counter.snapshot() == before


def test_the_configured_reader_is_the_default(counter: Counter, blank_card: CardRig):
    counter.services.settings = attrs.evolve(counter.services.settings,
                                             card=CardSettings(reader=FIRST_SLOT.name))
    assert f'value="{FIRST_SLOT.name}"' in counter.page()
    blank_card.insert()
    done = counter.personalise(0, "")
    assert done.status_code == 303, error_text(done.text)
    assert counter.services.applications.get(counter.app.id, SYSTEM).items[0].made


def test_without_a_card_service_the_page_says_so_and_keeps_mark_made(services: Services):
    from core.config import PkiSettings

    # No CA on disk for this deployment: no card service, whatever the environment holds.
    services.settings = attrs.evolve(services.settings, pki=PkiSettings(ca_dir="no-ca-here"))
    app = produced(services, 52)
    with TestClient(create_app(services), base_url="http://testserver") as client:
        staff_login(client, services, ["card_maker"])
        page = client.get(f"/staff/apps/{app.id}").text
        assert 'id="personalise-off"' in page and "eportcard counter personalize" in page
        assert 'id="personalise"' not in page and 'id="action-make"' in page
        token = CSRF_RE.search(page).group(1)
        refused = client.post(f"/staff/apps/{app.id}/personalize", data={"csrf_token": token, "item": "0"})
        assert refused.status_code == 403 and "eportcard counter personalize" in refused.text
        assert not services.applications.get(app.id, SYSTEM).items[0].made
