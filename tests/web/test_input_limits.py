"""Limits on input (issue #9, items 5 and 11): request bodies are refused over their size limit before
they are read (413, bilingual), JSON nests at most 32 deep (400, never a RecursionError), every text
field has a maximum length the API, the portal and /openapi.json share, and an attachment is only
accepted for a material the region defines for the application's business."""

from __future__ import annotations

import select
import socket
from pathlib import Path

import attrs
import pytest
from browserkit import serving
from starlette.testclient import TestClient
from webkit import (
    MAX_UPLOAD,
    PASSWORD,
    PNG,
    SYSTEM,
    csrf_of,
    draft,
    enterprise,
    fill_enrolment,
    make_services,
    post,
    register_and_login,
    registration,
    staff,
    submitted,
)

from core.model import Application, Person, Transition
from core.model.limits import MAX_LENGTH
from core.services import Actor, Services
from core.web.app import create_app
from core.web.limits import MULTIPART_OVERHEAD

BODY_LIMIT = 16 * 1024  # below the tests' upload limit (64 KiB), so the two limits can be told apart


@pytest.fixture
def services(store, tmp_path: Path, clock) -> Services:  # SQLite and PostgreSQL
    made = make_services(store, tmp_path, clock)
    made.settings = attrs.evolve(made.settings, web=attrs.evolve(made.settings.web, max_body_bytes=BODY_LIMIT))
    return made


def snapshot(services: Services, app_id: str):
    with services.store.transaction(readonly=True) as tx:
        return services.applications.get(app_id, SYSTEM), tx.attachments.for_application(app_id)


def stored_blobs(services: Services) -> list[Path]:
    return [p for p in services.settings.blob_dir.rglob("*") if p.is_file()]


def assert_too_large(reply) -> None:
    assert reply.status_code == 413, (reply.status_code, reply.text[:300])
    error = reply.json()["error"]
    assert error["code"] == "too_large" and "过大" in error["zh"] and "too large" in error["en"]


# ---- body size --------------------------------------------------------------------------------------------

def test_a_login_body_over_the_limit_is_refused_before_the_handler_runs(services):
    enterprise(services, 1)  # the account exists: had the handler run, this login would succeed
    with TestClient(create_app(services)) as client:
        body = {"username": "ent1", "password": PASSWORD, "padding": "x" * BODY_LIMIT}
        assert_too_large(client.post("/api/session", json=body))
        assert client.get("/api/session").status_code == 401
        body["padding"] = "x" * (BODY_LIMIT // 2)
        assert client.post("/api/session", json=body).status_code == 200


def test_a_patch_over_the_limit_changes_nothing_with_or_without_content_length(services):
    client, csrf = enterprise(services, 1)
    app_id = draft(services, 1)
    before = snapshot(services, app_id)
    payload = b'{"remarks": "' + b"x" * (4 * BODY_LIMIT) + b'"}'
    declared = client.patch(f"/api/applications/{app_id}", headers=csrf | {"Content-Type": "application/json"},
                            content=payload)
    assert_too_large(declared)

    def chunks():  # no Content-Length: the body is counted as it streams in
        for start in range(0, len(payload), 4096):
            yield payload[start:start + 4096]

    chunked = client.patch(f"/api/applications/{app_id}", headers=csrf | {"Content-Type": "application/json"},
                           content=chunks())
    assert_too_large(chunked)
    assert snapshot(services, app_id) == before


def test_pages_refuse_an_oversized_form_with_a_page_in_the_visitors_language(services):
    with TestClient(create_app(services)) as client:
        form = {"username": "x", "password": "y" * (2 * BODY_LIMIT)}
        page = client.post("/portal/login", data=form)
        assert page.status_code == 413 and "text/html" in page.headers["content-type"]
        assert "请求内容过大" in page.text
        english = client.post("/portal/login?lang=en", data=form)
        assert english.status_code == 413 and "The request is too large" in english.text


def test_uploads_have_their_own_limit_on_the_api_and_the_portal(services):
    """A file over the general body limit but within max_upload_bytes is taken on both upload routes;
    one past max_upload_bytes plus the multipart framing is refused unread and nothing is stored."""
    file = PNG + b"\x00" * (MAX_UPLOAD - len(PNG))
    assert len(file) > BODY_LIMIT
    client, csrf = enterprise(services, 1)
    app_id = draft(services, 1)
    ok = client.post(f"/api/applications/{app_id}/attachments", headers=csrf, data={"material": "licence_photo"},
                     files={"file": ("licence.png", file, "image/png")})
    assert ok.status_code == 201, ok.text
    huge = file + b"\x00" * MULTIPART_OVERHEAD
    before, blobs = snapshot(services, app_id), stored_blobs(services)
    refused = client.post(f"/api/applications/{app_id}/attachments", headers=csrf,
                          data={"material": "licence_photo"}, files={"file": ("big.png", huge, "image/png")})
    assert_too_large(refused)
    assert snapshot(services, app_id) == before and stored_blobs(services) == blobs

    with TestClient(create_app(services)) as portal:
        register_and_login(portal, 2)
        portal_app = fill_enrolment(portal, services)
        step = f"/portal/apps/{portal_app}/step/uploads"
        taken = post(portal, step, {"material": "licence_photo"}, files={"file": ("licence.png", file, "image/png")})
        assert taken.status_code == 303, taken.text
        page = post(portal, step, {"material": "licence_photo"}, files={"file": ("big.png", huge, "image/png")})
        assert page.status_code == 413 and "请求内容过大" in page.text
        assert len(services.applications.get(portal_app, SYSTEM).attachments) == 1


def read_to_close(sock: socket.socket) -> bytes:
    """The whole answer: the server closes the connection after a 413 (with a reset when body bytes it
    never read are still arriving)."""
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except ConnectionResetError:
        pass
    return answer


def test_a_real_server_answers_413_without_reading_the_body(services):
    """Over a socket: a 100 MB Content-Length gets its 413 while the client has sent 1 KB; a chunked body
    gets its 413 once it passes the limit, long before the client has finished sending."""
    with serving(create_app(services)) as base:
        host, port = base.removeprefix("http://").split(":")

        def request(head: str) -> socket.socket:
            sock = socket.create_connection((host, int(port)), timeout=10)
            sock.sendall((head + f"Host: {host}\r\nContent-Type: application/json\r\n\r\n").encode())
            return sock

        declared = request(f"POST /api/session HTTP/1.1\r\nContent-Length: {100 * 1024 * 1024}\r\n")
        declared.sendall(b"{" + b" " * 1023)
        answer = read_to_close(declared)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"too_large" in answer and b"connection: close" in answer.lower()
        declared.close()

        chunked = request("POST /api/session HTTP/1.1\r\nTransfer-Encoding: chunked\r\n")
        chunk = b"%x\r\n%s\r\n" % (64 * 1024, b" " * 64 * 1024)
        sent = 0
        try:
            while sent < 100 * 1024 * 1024 and not select.select([chunked], [], [], 0)[0]:
                chunked.sendall(chunk)
                sent += 64 * 1024
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the server closed the connection after answering
        assert sent < 32 * 1024 * 1024, "the server kept reading"
        answer = read_to_close(chunked)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        chunked.close()


# ---- JSON nesting ------------------------------------------------------------------------------------------

def test_deeply_nested_json_is_a_400_never_a_500(services):
    client, csrf = enterprise(services, 1)
    for depth in (33, 2000):
        deep = '{"business": "enrol", "x": ' + "[" * depth + "]" * depth + "}"
        reply = client.post("/api/applications", headers=csrf | {"Content-Type": "application/json"}, content=deep)
        assert reply.status_code == 400, (depth, reply.status_code, reply.text[:200])
        assert reply.json()["error"]["field"] == "body" and "32" in reply.json()["error"]["en"]
    assert client.get("/api/applications").json()["items"] == []
    unclosed = client.post("/api/session", headers={"Content-Type": "application/json"}, content="[" * 2000)
    assert unclosed.status_code == 400
    fine = '{"business": "enrol", "x": ' + "[" * 31 + "]" * 31 + "}"
    assert client.post("/api/applications", headers=csrf | {"Content-Type": "application/json"},
                       content=fine).status_code == 201


def test_the_card_endpoints_refuse_deep_json_too(services):
    with TestClient(create_app(services)) as client:
        token = csrf_of(client)
        reply = client.post("/portal/card-login", headers={"X-CSRF-Token": token, "Content-Type": "application/json"},
                            content="[" * 2000 + "]" * 2000)
        assert reply.status_code == 400 and reply.json()["error"]["field"] == "body"


# ---- text lengths ------------------------------------------------------------------------------------------

REMARKS = MAX_LENGTH[Application]["remarks"]


def test_the_api_refuses_too_long_text_and_changes_nothing(services):
    client, csrf = enterprise(services, 1)
    created = client.post("/api/applications", headers=csrf, json={"business": "enrol", "remarks": "备" * (REMARKS + 1)})
    assert created.status_code == 400
    error = created.json()["error"]
    assert error["field"] == "remarks" and str(REMARKS) in error["zh"] and str(REMARKS) in error["en"]
    assert client.get("/api/applications").json()["items"] == []
    app_id = client.post("/api/applications", headers=csrf, json={"business": "enrol", "remarks": "备" * REMARKS}
                         ).json()["id"]
    before = snapshot(services, app_id)
    long_remarks = client.patch(f"/api/applications/{app_id}", headers=csrf, json={"remarks": "x" * (REMARKS + 1)})
    assert long_remarks.status_code == 400 and long_remarks.json()["error"]["field"] == "remarks"
    item = before[0].items[0]
    holder = {"name": "名" * (MAX_LENGTH[Person]["name"] + 1), "id_number": item.holder.id_number}
    long_name = client.patch(f"/api/applications/{app_id}", headers=csrf,
                             json={"items": [{"kind": "legal", "holder": holder}]})
    assert long_name.status_code == 400 and long_name.json()["error"]["field"] == "items[1].holder.name"
    assert snapshot(services, app_id) == before


def test_a_staff_note_over_its_length_is_refused(services):
    app_id = submitted(services, 1)
    client, csrf = staff(services, ["reviewer"])
    before = snapshot(services, app_id)
    reply = client.post(f"/api/applications/{app_id}/accept", headers=csrf,
                        json={"note": "n" * (MAX_LENGTH[Transition]["note"] + 1)})
    assert reply.status_code == 400 and reply.json()["error"]["field"] == "note"
    assert snapshot(services, app_id) == before


def test_the_portal_refuses_too_long_remarks_with_a_400(services):
    with TestClient(create_app(services)) as client:
        register_and_login(client, 1)
        app_id = fill_enrolment(client, services)
        me = Actor(id="ent1", kind="enterprise", uscc=registration(1)["uscc"])
        before = services.applications.get(app_id, me)
        page = post(client, f"/portal/apps/{app_id}/step/pickup", {
            "method": "counter", "outlet": "shenzhen_east_hall", "remarks": "备" * (REMARKS + 1), "action": "save"})
        assert page.status_code == 400 and 'data-field="remarks"' in page.text
        assert services.applications.get(app_id, me) == before


def test_the_openapi_document_publishes_the_domains_maximum_lengths(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    edit = schemas["ApplicationEdit"]["properties"]
    assert edit["remarks"]["maxLength"] == REMARKS
    assert edit["pickup"]["properties"]["mail_to"]["properties"]["address"]["maxLength"] == 200
    assert schemas["Person"]["properties"]["name"]["maxLength"] == MAX_LENGTH[Person]["name"]
    document = client.get("/openapi.json").json()
    accept = document["paths"]["/api/applications/{app_id}/accept"]["post"]
    assert accept["requestBody"]["content"]["application/json"]["schema"]["properties"]["note"]["maxLength"] == \
        MAX_LENGTH[Transition]["note"]
    assert "413" in accept["responses"]


# ---- attachment materials --------------------------------------------------------------------------------

def test_only_the_regions_materials_for_the_business_are_accepted(services):
    services.settings = attrs.evolve(services.settings, storage=attrs.evolve(
        services.settings.storage, max_upload_bytes=2 * 1024 * 1024))
    client, csrf = enterprise(services, 1)
    app_id = draft(services, 1)
    before, blobs = snapshot(services, app_id), stored_blobs(services)
    for material in ("no_such_material", "m" * 900_000, "licence_upload"):  # the last is another business's
        reply = client.post(f"/api/applications/{app_id}/attachments", headers=csrf, data={"material": material},
                            files={"file": ("licence.png", PNG, "image/png")})
        assert reply.status_code == 400, (material[:20], reply.status_code, reply.text[:200])
        error = reply.json()["error"]
        assert error["field"] == "material" and "licence_photo" in error["zh"] and "licence_photo" in error["en"]
        assert len(reply.content) < 2000  # the refused value is not echoed
    assert snapshot(services, app_id) == before and stored_blobs(services) == blobs
    ok = client.post(f"/api/applications/{app_id}/attachments", headers=csrf, data={"material": "licence_photo"},
                     files={"file": ("licence.png", PNG, "image/png")})
    assert ok.status_code == 201 and ok.json()["material"] == "licence_photo"


def test_the_portal_upload_refuses_a_material_the_region_does_not_define(services):
    with TestClient(create_app(services)) as client:
        register_and_login(client, 1)
        app_id = fill_enrolment(client, services)
        step = f"/portal/apps/{app_id}/step/uploads"
        assert 'value="other"' not in client.get(step).text
        page = post(client, step, {"material": "other"}, files={"file": ("licence.png", PNG, "image/png")})
        assert page.status_code == 400 and 'data-field="material"' in page.text
        assert services.applications.get(app_id, SYSTEM).attachments == ()
