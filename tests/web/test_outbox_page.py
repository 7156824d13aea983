"""The development SMS outbox page names its columns in the reader's language (core.labels), not in raw
English: the Chinese page shows 短信内容 / 发送时间, the English one Text / Time."""

from __future__ import annotations

import re

import attrs
import pytest
from starlette.testclient import TestClient
from webkit import SYSTEM, enterprise, make_services

from core.labels import label
from core.samples import make_enrol
from core.services import Services
from core.web.app import create_app

AGENT = "13900000011"


@pytest.fixture
def services(store, tmp_path, clock) -> Services:
    return make_services(store, tmp_path, clock)


def _headers(html: str) -> list[str]:
    return re.findall(r"<th>([^<]*)</th>", html)


def _cell_labels(html: str) -> list[str]:
    return re.findall(r'<td[^>]*data-label="([^"]*)"', html)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_outbox_names_its_columns_in_the_readers_language(services: Services, lang: str):
    client, csrf = enterprise(services, 1)
    sample = make_enrol(1)
    app_id = services.applications.create(
        attrs.evolve(sample, id="", agent=attrs.evolve(sample.agent, phone=AGENT)), SYSTEM).id
    assert client.post(f"/api/applications/{app_id}/sms_code", headers=csrf, json={}).status_code == 202
    local = TestClient(create_app(services), base_url="http://testserver", client=("127.0.0.1", 50000))
    page = local.get("/dev/outbox", params={"lang": lang})
    assert page.status_code == 200 and AGENT in page.text
    names = [label(key, lang) for key in ("field.mobile", "outbox.text", "outbox.time")]
    assert _headers(page.text) == ["#", *names]
    assert _cell_labels(page.text) == ["#", *names]  # each cell of the one message, read as a card at 390 px
    if lang == "zh":
        assert names[1:] == ["短信内容", "发送时间"]
        assert not {"Text", "Time"} & set(_headers(page.text) + _cell_labels(page.text))

