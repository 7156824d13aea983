"""Cursor pages in the JSON API: ``next`` from one page is ``?after=`` of the next, through the whole list;
page numbers stop at MAX_OFFSET rows; a bad cursor is refused in both languages and changes nothing."""

from __future__ import annotations

import pytest
from webkit import SYSTEM, enterprise, staff, submitted

from core.web.api import MAX_OFFSET


def _walk(client, path: str, per_page: int, **query: str) -> list[str]:
    seen, params = [], {"per_page": str(per_page), **query}
    first = client.get(path, params=params).json()
    assert first["page"] == 1
    body = first
    while True:
        seen += [item["id"] for item in body["items"]]
        assert body["more"] is (body["next"] is not None)
        if body["next"] is None:
            return seen
        body = client.get(path, params={**params, "after": body["next"]}).json()


@pytest.mark.parametrize("per_page", [1, 3, 9, 100])
def test_the_staff_queue_walks_by_cursor_as_by_page_number(services, per_page: int):
    ids = [submitted(services, n) for n in range(1, 10)]
    services.applications.accept(ids[3], SYSTEM)
    client, _ = staff(services, ["reviewer"])
    by_number = [i["id"] for i in client.get("/api/staff/queue", params={"per_page": "100"}).json()["items"]]
    assert sorted(by_number) == sorted(ids)
    assert _walk(client, "/api/staff/queue", per_page) == by_number
    assert _walk(client, "/api/staff/queue", per_page, state="accepted") == [ids[3]]
    number = services.applications.get(ids[5], SYSTEM).acceptance_no
    assert _walk(client, "/api/staff/queue", per_page, q=number) == [ids[5]]


def test_an_enterprise_walks_its_own_list_by_cursor(services):
    client, _ = enterprise(services, 1)
    mine = [submitted(services, 1) for _ in range(1)]
    submitted(services, 2)  # another enterprise's: never on these pages
    assert _walk(client, "/api/applications", 1) == mine


def test_bad_cursors_and_too_deep_page_numbers_are_refused(services):
    submitted(services, 1)
    client, _ = staff(services, ["reviewer"])
    for bad in ("", "not-a-cursor", "W10", "x" * 600, "WyIyMDI2LTAxLTAxIiwiMjAyNi0wMS0wMSIsIiJd"):
        reply = client.get("/api/staff/queue", params={"after": bad})
        error = reply.json()["error"]
        assert reply.status_code == 400 and error["field"] == "after" and error["zh"] and error["en"], bad
    both = client.get("/api/staff/queue", params={"after": "x", "page": "2"})
    assert both.status_code == 400 and both.json()["error"]["field"] == "after"
    deep = client.get("/api/staff/queue", params={"page": str(MAX_OFFSET // 20 + 2), "per_page": "20"})
    assert deep.status_code == 400 and "next" in deep.json()["error"]["en"]
    edge = client.get("/api/staff/queue", params={"page": str(MAX_OFFSET // 20 + 1), "per_page": "20"})
    assert edge.status_code == 200 and edge.json()["items"] == [] and edge.json()["next"] is None
