"""docs/api.md, /openapi.json and the server say the same thing (issue #9, items 12 and 13).

docs/api.md is the contract: its status table (code -> status), its endpoint table (method, path,
status), the schema's promises (an integer ``version`` may be written ``7.0``; ``mail_to`` needs all
three fields), a deleted draft being gone, and the role checked before anything else is read.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from webkit import PNG, SYSTEM, draft, enterprise, staff, submitted

from core import errors
from core.web.api import API_ROUTES
from core.web.app import status_for
from core.web.openapi import openapi_path

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _table_rows(heading: str) -> list[list[str]]:
    """The cells of the first table after ``heading`` in docs/api.md."""
    text = API_MD.read_text(encoding="utf-8").split(heading, 1)[1]
    rows = []
    for line in text.splitlines():
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:
            break
    return [r for r in rows[1:] if not set(r[0]) <= set("-: ")]  # no header, no rule


def _error_classes(code: str) -> list[type[errors.EportError]]:
    found, todo = [], [errors.EportError]
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__dict__.get("code") == code:
            found.append(cls)
    return found


def _instance(cls: type[errors.EportError]) -> errors.EportError:
    if issubclass(cls, errors.Problems):
        return cls([errors.InvalidInput("问题", "problem", field="x")])
    return cls("中文", "English")


def test_every_documented_error_code_answers_its_documented_status():
    """Submission problems answered 400 where the table says 422."""
    checked = 0
    for status, codes, *_ in _table_rows("## Errors"):
        for code in re.findall(r"`([a-z_]+)`", codes):
            for cls in _error_classes(code):
                assert status_for(_instance(cls)) == int(status), (code, cls.__name__)
                checked += 1
    assert checked >= 7  # invalid, forbidden, csrf, not_found, conflict, illegal_transition, problems, ...


def test_the_endpoint_table_lists_every_route_with_its_status():
    documented = {(m, p.strip("`"), int(s)) for m, p, _who, _body, s, *_ in _table_rows("## Endpoints")}
    served = {(r.method, openapi_path(r.path), r.status) for r in API_ROUTES}
    assert documented == served


# ---- the submission: 422 with the list of problems --------------------------------------------------------

def test_a_submission_with_problems_is_422_problems_as_documented(services):
    app_id = draft(services, 1)
    client, csrf = enterprise(services, 1)
    current = client.get(f"/api/applications/{app_id}").json()
    items = current["items"]
    items[0]["holder"]["id_number"] = "123"
    assert client.patch(f"/api/applications/{app_id}", headers=csrf, json={"items": items}).status_code == 200
    reply = client.post(f"/api/applications/{app_id}/submit", headers=csrf,
                        json={"sms_code": "123456", "declaration": True})
    assert reply.status_code == 422, reply.text
    error = reply.json()["error"]
    assert error["code"] == "problems" and error["zh"] and error["en"]
    assert any(p["field"] == "items[1].holder.id_number" for p in error["problems"])


# ---- what the schema allows, the server takes -------------------------------------------------------------

def test_a_version_written_as_an_integer_valued_float_is_the_integer(services):
    """The schema says integer; JSON Schema counts 4341.0 as one, so the server must too."""
    app_id = draft(services, 1)
    client, csrf = enterprise(services, 1)
    version = client.get(f"/api/applications/{app_id}").json()["version"]
    stale = client.patch(f"/api/applications/{app_id}", headers=csrf, json={"version": 4341.0, "remarks": "x"})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "conflict", stale.text
    done = client.patch(f"/api/applications/{app_id}", headers=csrf,
                        json={"version": float(version), "remarks": "备注"})
    assert done.status_code == 200 and done.json()["remarks"] == "备注", done.text
    for wrong in (1.5, "1", True, -1.0):
        refused = client.patch(f"/api/applications/{app_id}", headers=csrf, json={"version": wrong})
        assert refused.status_code == 400 and refused.json()["error"]["field"] == "version", wrong


def test_mail_to_needs_all_three_fields_in_the_schema_as_on_the_server(services, client):
    schema = client.get("/openapi.json").json()["components"]["schemas"]["ApplicationEdit"]
    mail_to = schema["properties"]["pickup"]["properties"]["mail_to"]
    assert sorted(mail_to["required"]) == ["address", "phone", "recipient"]
    app_id = draft(services, 1)
    api, csrf = enterprise(services, 1)
    refused = api.patch(f"/api/applications/{app_id}", headers=csrf, json={"pickup": {
        "method": "mail", "mail_to": {"phone": "13800000000", "address": "深圳市福田区某路1号"}}})
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "pickup", refused.text
    taken = api.patch(f"/api/applications/{app_id}", headers=csrf, json={"pickup": {
        "method": "mail", "mail_to": {"recipient": "张三", "phone": "13800000000", "address": "深圳市福田区某路1号"}}})
    assert taken.status_code == 200, taken.text


@pytest.mark.parametrize("body, field", [
    ({"items": [{"kind": "legal", "holder": {"name": "孙伟", "id_number": []}}]}, "items"),
    ({"items": [{"kind": "legal", "holder": {"name": "孙伟", "id_number": "440304199001010111"},
                 "confirmed": []}]}, "items"),
    ({"items": [{"kind": "legal", "holder": {"name": "孙伟", "id_number": "440304199001010111",
                                             "id_type": "bogus"}}]}, "items"),
    ({"items": ""}, "items"),
    ({"pickup": {"outlet": False}}, "pickup"),
])
def test_nothing_is_coerced_as_docs_api_md_says(services, body, field):
    """schemathesis found that a list became the string "[]", [] became false and "" no items."""
    app_id = draft(services, 1)
    client, csrf = enterprise(services, 1)
    before = client.get(f"/api/applications/{app_id}").json()
    reply = client.patch(f"/api/applications/{app_id}", headers=csrf, json=body)
    assert reply.status_code == 400 and reply.json()["error"]["field"] == field, reply.text
    created = client.post("/api/applications", headers=csrf, json={"business": "enrol", **body})
    assert created.status_code == 400, created.text
    assert client.get(f"/api/applications/{app_id}").json() == before


def test_an_unknown_api_path_is_a_json_error_in_both_languages(services):
    client, _csrf = enterprise(services, 1)
    for method, path in (("GET", "/api/nothing-here"), ("POST", "/api/applications/x/items/-1/made")):
        reply = client.request(method, path)
        assert reply.status_code == 404 and reply.headers["content-type"] == "application/json", reply.text
        assert reply.json()["error"]["code"] == "not_found" and reply.json()["error"]["zh"]
    wrong_method = client.request("PUT", "/api/regions")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"
    assert client.get("/no-such-page").status_code == 404  # pages keep Starlette's answer


# ---- a deleted draft is gone --------------------------------------------------------------------------------

def test_a_deleted_draft_and_its_attachments_answer_404(services):
    app_id = draft(services, 1)
    services.applications.attach(app_id, "business_licence", "licence.png", PNG, SYSTEM)
    client, csrf = enterprise(services, 1)
    assert client.get(f"/api/applications/{app_id}/attachments").status_code == 200
    assert client.request("DELETE", f"/api/applications/{app_id}", headers=csrf, json={}).status_code == 204
    for suffix in ("", "/attachments", "/deadlines"):
        reply = client.get(f"/api/applications/{app_id}{suffix}")
        assert reply.status_code == 404 and reply.json()["error"]["code"] == "not_found", (suffix, reply.text)
    other, _ = enterprise(services, 2)  # another enterprise learns nothing new: the same 403 as ever
    assert other.get(f"/api/applications/{app_id}/attachments").status_code == 403


# ---- the role first (item 13) --------------------------------------------------------------------------------

@pytest.mark.parametrize("roles, action, body", [
    (["reviewer"], "ship", {"version": "seven"}),
    (["reviewer"], "hand_over", {}),
    (["reviewer"], "items/0/made", {"version": "x"}),
    (["card_maker"], "reject", {"reasons": ["no_such_reason"]}),
    (["counter_clerk"], "start_production", {"version": -1, "note": 5}),
])
def test_a_role_that_may_not_act_gets_403_before_its_input_is_checked(services, roles, action, body):
    app_id = submitted(services, 1)
    client, csrf = staff(services, roles)
    reply = client.post(f"/api/applications/{app_id}/{action}", headers=csrf, json=body)
    assert reply.status_code == 403 and reply.json()["error"]["field"] == "roles", reply.text


def test_staff_get_403_for_enterprise_actions_whatever_the_body(services):
    app_id = draft(services, 1)
    client, csrf = staff(services, ["branch_admin"])
    for method, suffix, body in (("PATCH", "", {"version": "x", "items": "nonsense"}),
                                 ("DELETE", "", {"version": "x"}),
                                 ("POST", "/submit", {"declaration": False}),
                                 ("POST", "/withdraw", {"note": 5})):
        reply = client.request(method, f"/api/applications/{app_id}{suffix}", headers=csrf, json=body)
        assert reply.status_code == 403, (method, suffix, reply.text)
    upload = staff(services, ["card_maker"])
    reply = upload[0].post(f"/api/applications/{app_id}/attachments", headers=upload[1], content=b"not multipart")
    assert reply.status_code == 403 and reply.json()["error"]["field"] == "roles", reply.text
