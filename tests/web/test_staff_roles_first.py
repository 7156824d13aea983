"""The staff console checks the role before anything else (issue #9, item 13).

A reviewer pressing "personalise with the reader" got 422 "no reader" (the reader was opened first)
instead of 403; a card maker's request for an application not in production also reached the reader.
The reader is replaced by a recorder here: the role, branch, state and item are checked without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from starlette.testclient import TestClient
from test_card_login import MASTER_SECRET, PASSPHRASE, produced
from test_staff_personalise import staff_login
from webkit import CSRF_RE, SYSTEM

from core.hardware.errors import NoReader
from core.pki.ca import CertificateAuthority
from core.samples import make_enrol
from core.services import Services
from core.services.cards import CardKeys
from core.services.cards import counter as counter_service
from core.web.app import create_app


@pytest.fixture
def readers_opened(monkeypatch) -> list[tuple]:
    """Every attempt to use the reader; each answers as if no reader were connected."""
    opened: list[tuple] = []

    def no_reader(*args):
        opened.append(args)
        raise NoReader()

    monkeypatch.setattr(counter_service, "open_reader", no_reader)
    return opened


@pytest.fixture
def console(services: Services, tmp_path: Path) -> Iterator:
    ca = CertificateAuthority.init(tmp_path / "ca", "电子口岸测试发卡CA", PASSPHRASE, "ec-p256")
    services = attrs.evolve(services, card_keys=CardKeys(ca, MASTER_SECRET))
    with TestClient(create_app(services), base_url="http://testserver") as client:
        def login(roles: list[str]) -> None:
            staff_login(client, services, roles)

        def personalise(app_id: str, item: int = 0):
            page = client.get(f"/staff/apps/{app_id}").text
            version = services.applications.get(app_id, SYSTEM).version
            return client.post(f"/staff/apps/{app_id}/personalize", follow_redirects=False, data={
                "csrf_token": CSRF_RE.search(page).group(1), "item": str(item), "version": str(version),
                "reader": "Some Reader 00 00"})

        yield login, personalise


def test_a_reviewer_posting_personalize_gets_403_and_the_reader_is_not_touched(services, console, readers_opened):
    login, personalise = console
    app = produced(services, 61)
    login(["reviewer"])
    refused = personalise(app.id)
    assert refused.status_code == 403, refused.text
    assert "您的角色不能办理此项操作" in refused.text and "no reader" not in refused.text
    assert readers_opened == []
    assert services.applications.get(app.id, SYSTEM) == app


@pytest.mark.parametrize("setup, item, status", [("submitted", 0, 409), ("produced", 7, 400)])
def test_a_card_maker_is_refused_for_the_application_before_the_reader(services, console, readers_opened,
                                                                      setup, item, status):
    login, personalise = console
    app = produced(services, 62) if setup == "produced" else \
        services.applications.submit(services.applications.create(make_enrol(63), SYSTEM).id, SYSTEM)
    login(["card_maker"])
    refused = personalise(app.id, item)
    assert refused.status_code == status, refused.text
    assert readers_opened == []


def test_a_card_maker_with_everything_right_reaches_the_reader(services, console, readers_opened):
    login, personalise = console
    app = produced(services, 64)
    login(["card_maker"])
    answered = personalise(app.id)
    assert answered.status_code == 422 and "找不到读卡器" in answered.text  # the recorder's answer
    assert len(readers_opened) == 1
