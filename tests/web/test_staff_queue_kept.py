"""The HTML staff queue is kept as rendered while no application changes (issue #16 row 5): a second view
renders nothing, a change anywhere (this process or another engine) shows at the next view, and each
session, language, query and day has its own page (a clerk never sees another's CSRF token)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from webkit import CSRF_RE, PASSWORD, make_services

from core.samples import make_enrol
from core.services import Actor, Services
from core.services.accounts import create_user
from core.store.testing import other_store
from core.web import staff
from core.web.app import create_app

SYSTEM = Actor.system("test")


def _login(app, name: str) -> TestClient:
    client = TestClient(app, base_url="http://testserver")
    token = CSRF_RE.search(client.get("/staff/login").text).group(1)
    done = client.post("/staff/login", data={"csrf_token": token, "username": name, "password": PASSWORD},
                       follow_redirects=False)
    assert done.status_code == 303, done.text
    return client


@pytest.fixture
def counted(monkeypatch) -> list[str]:
    renders: list[str] = []
    real = staff._queue_page

    def counting(request, user):
        renders.append(str(request.url))
        return real(request, user)

    monkeypatch.setattr(staff, "_queue_page", counting)
    return renders


def _ids(page: str) -> list[str]:
    return re.findall(r'data-app-id="([^"]+)"', page)


def test_the_queue_page_is_kept_until_an_application_changes(store, tmp_path: Path, clock, counted):
    services = make_services(store, tmp_path, clock)
    first = services.applications.submit(services.applications.create(make_enrol(1), SYSTEM).id, SYSTEM).id
    create_user(services, "clerk-a", PASSWORD, "staff", region="shenzhen", roles=["reviewer"])
    create_user(services, "clerk-b", PASSWORD, "staff", region="shenzhen", roles=["reviewer"])
    app = create_app(services)
    a, b = _login(app, "clerk-a"), _login(app, "clerk-b")
    if store.dialect == "postgresql":
        assert store.changes.wait_listening(30)  # type: ignore[attr-defined]

    seen = a.get("/staff")
    assert seen.status_code == 200 and _ids(seen.text) == [first]
    assert seen.headers["content-type"].startswith("text/html")
    again = a.get("/staff")
    assert again.text == seen.text and len(counted) == 1  # served as kept: nothing rendered
    assert "x-frame-options" in {k.lower() for k in again.headers}  # the security headers all the same

    other = b.get("/staff")  # another session: its own page, with its own CSRF token
    assert len(counted) == 2 and CSRF_RE.search(other.text).group(1) != CSRF_RE.search(seen.text).group(1)
    assert a.get("/staff?lang=en").text != seen.text and len(counted) == 3  # each language its own
    a.get("/staff?q=WSZ")
    assert len(counted) == 4

    with other_store(store, tmp_path / "other") as elsewhere:  # a change committed by another engine
        second = make_enrol(2)
        other_services = Services(settings=services.settings, store=elsewhere, rulebook=services.rulebook,
                                  calendar=services.calendar, clock=clock)
        added = other_services.applications.submit(other_services.applications.create(second, SYSTEM).id,
                                                   SYSTEM).id
    wait_until = time.monotonic() + 30  # another engine's change arrives by notification (PostgreSQL)
    while sorted(_ids(a.get("/staff").text)) != sorted([first, added]):
        assert time.monotonic() < wait_until, "the kept page never showed the change"


def test_an_error_page_is_never_kept(services, counted):
    create_user(services, "clerk-c", PASSWORD, "staff", region="shenzhen", roles=["reviewer"])
    client = _login(create_app(services), "clerk-c")
    assert client.get("/staff?state=bogus").status_code == 400
    assert client.get("/staff?state=bogus").status_code == 400
    assert len(counted) == 2


def test_the_console_pages_forward_by_cursor(services):
    """The queue page's "next" link carries the cursor of its last row: walking it gives the whole queue
    in order, as the page numbers do, and going back is by page number; a bad cursor is a 400 page."""
    from core.web.render import PAGE_SIZE

    ids = [services.applications.submit(services.applications.create(make_enrol(n), SYSTEM).id, SYSTEM).id
           for n in range(1, 2 * PAGE_SIZE + 4)]
    create_user(services, "clerk-d", PASSWORD, "staff", region="shenzhen", roles=["reviewer"])
    client = _login(create_app(services), "clerk-d")
    by_number = [i for n in (1, 2, 3) for i in _ids(client.get(f"/staff?queue=open&page={n}").text)]
    assert sorted(by_number) == sorted(ids)
    walked, url = [], "/staff?queue=open"
    while url:
        page = client.get(url).text
        walked += _ids(page)
        found = re.search(r'<a rel="next" href="([^"]+)"', page)
        url = found.group(1).replace("&amp;", "&") if found else ""
        if url:
            assert "after=" in url
    assert walked == by_number
    back = re.search(r'<a rel="prev" href="([^"]+)"', client.get(url or "/staff?queue=open&page=3").text)
    assert back and "after=" not in back.group(1)
    assert client.get("/staff?after=not-a-cursor").status_code == 400
