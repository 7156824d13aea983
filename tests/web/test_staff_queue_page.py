"""The HTML staff queue reads list-row summaries: each row shows what the whole application says."""

from __future__ import annotations

import re
from datetime import timedelta
from html import escape

from starlette.testclient import TestClient
from webkit import CSRF_RE, PASSWORD

from core.labels import label
from core.privacy import mask_id
from core.samples import make_enrol
from core.services import Actor, Services
from core.services.accounts import create_user
from core.web.app import create_app

SYSTEM = Actor.system("test")


def _staff_client(services: Services) -> TestClient:
    create_user(services, "queue-reader", PASSWORD, "staff", region="shenzhen", roles=["branch_admin"])
    client = TestClient(create_app(services), base_url="http://testserver")
    token = CSRF_RE.search(client.get("/staff/login").text).group(1)
    done = client.post("/staff/login", data={"csrf_token": token, "username": "queue-reader", "password": PASSWORD},
                       follow_redirects=False)
    assert done.status_code == 303
    return client


def test_each_queue_row_shows_the_applications_own_values(services: Services, clock):
    ids = []
    for n in (1, 2, 3):
        app = services.applications.create(make_enrol(n, "shenzhen"), SYSTEM)
        ids.append(services.applications.submit(app.id, SYSTEM).id)
        clock.now += timedelta(days=2)
    services.applications.accept(ids[1], SYSTEM)
    clock.now += timedelta(days=40)  # some are overdue by now
    client = _staff_client(services)
    page = client.get("/staff").text
    staff = Actor(id="q", kind="staff", region="shenzhen", roles=("branch_admin",))
    expected = services.applications.queue(staff)  # the whole aggregates, as the page used to read them
    assert [r.application.id for r in expected] == re.findall(r'data-app-id="([^"]+)"', page)
    assert any(r.overdue for r in expected)
    for row in expected:
        a = row.application
        html = re.search(rf'<tr data-app-id="{a.id}"[^>]*>(.*?)</tr>', page, re.S)
        assert html is not None
        cells = html.group(0)
        assert ("overdue-row" in cells) == row.overdue
        for value in (a.due.isoformat(), a.acceptance_no, a.enterprise.name, a.enterprise.uscc,
                      label(a.business), label(a.state), a.agent.name,
                      mask_id(a.agent.id_number)):
            assert escape(value) in cells, (a.id, value)
        assert a.agent.id_number not in cells
