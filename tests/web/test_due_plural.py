"""The due-date page counts in English as people do: 1 working day, 3 working days; Chinese unchanged."""

from __future__ import annotations

import re

import attrs
from starlette.testclient import TestClient

from core.plugins import get_plugin_manager
from core.rulebook import Rulebook
from core.web.app import create_app


def test_one_working_day_is_singular_and_more_are_plural(services):
    # Xiamen enrolment: review status after 1 working day, cards mailed 3 working days after approval.
    xiamen = attrs.evolve(services, rulebook=Rulebook(get_plugin_manager(enabled=["xiamen"])))
    with TestClient(create_app(xiamen), base_url="http://testserver") as client:
        en = client.get("/due?region=xiamen&business=enrol&start=2026-09-30&lang=en")
        zh = client.get("/due?region=xiamen&business=enrol&start=2026-09-30&lang=zh")
    assert en.status_code == zh.status_code == 200
    assert re.findall(r"<td>(\d+ working days?)</td>", en.text) == ["1 working day", "3 working days"]
    assert re.findall(r"<td>(\d+ 个工作日)</td>", zh.text) == ["1 个工作日", "3 个工作日"]
