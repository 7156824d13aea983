"""``/openapi.json`` matches the API's routes in both directions, and schemathesis, driven by that
document against the in-process ASGI app with a logged-in enterprise or staff session, gets only answers
the document describes (status, content type, body schema) and never a 5xx."""

from __future__ import annotations

import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.routing import Route
from starlette.testclient import TestClient
from webkit import PASSWORD, PNG

from core.samples import make_enrol
from core.services import Actor
from core.services.accounts import create_user
from core.web.api import API_ROUTES
from core.web.app import SESSION_COOKIE, create_app
from core.web.openapi import openapi_path

SYSTEM = Actor.system("test")


def api_routes_of(app) -> set[tuple[str, str]]:
    found = set()
    for route in app.routes:
        if isinstance(route, Route) and route.path.startswith("/api/"):
            found |= {(openapi_path(route.path), m.lower()) for m in (route.methods or ()) if m != "HEAD"}
    return found


def test_the_document_and_the_routes_match_both_ways(client):
    document = client.get("/openapi.json").json()
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    served = api_routes_of(client.app)
    assert served, "no API routes"
    assert documented - served == set(), "documented but not served"
    assert served - documented == set(), "served but not documented"
    assert len(documented) == len(API_ROUTES)


def test_every_operation_says_who_may_call_it_and_how_it_fails(client):
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    ids = set()
    for path, item in document["paths"].items():
        for method, op in item.items():
            assert op["summary"] and op["description"].startswith("Who may call it:"), (path, method)
            assert {"400", "401", "403", "404", "409", "422"} <= set(op["responses"]), (path, method)
            ids.add(op["operationId"])
            declared = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert declared == set(part[1:-1] for part in path.split("/") if part.startswith("{")), path
            if method in ("post", "patch", "delete") and op["operationId"] != "login":
                assert {"session": [], "csrf": []} in op["security"], (path, method)
    assert len(ids) == len(API_ROUTES)  # operation ids are unique


def test_schemathesis_loads_the_document(client):
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    assert len(list(schema.get_all_operations())) == len(API_ROUTES)


# ---- the property test -------------------------------------------------------------------------------------
# Every response must be one the document describes: a documented status, a documented content type,
# a body that matches the response schema; an invalid request (negative examples) must be refused
# with a 4xx. The generated ids rarely exist, so two of every three requests use the ids of the
# draft (with an attachment) and the submitted application made here, and the answers are real.

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection]
EXAMPLES = 50  # per operation and session kind: about a minute for the whole document


@pytest.fixture(params=["enterprise", "staff"])
def session_kind(request) -> str:
    return str(request.param)


@pytest.fixture
def api_app(services, session_kind):
    """The app with data to find (a draft with an attachment, a submitted application) and a session."""
    draft = services.applications.create(make_enrol(1), SYSTEM)
    attachment = services.applications.attach(draft.id, "business_licence", "licence.png", PNG, SYSTEM)
    sent = services.applications.submit(services.applications.create(make_enrol(2), SYSTEM).id, SYSTEM)
    if session_kind == "enterprise":
        create_user(services, "ent-api", PASSWORD, "enterprise", uscc=draft.enterprise.uscc, region="shenzhen")
    else:
        create_user(services, "staff-api", PASSWORD, "staff", region="shenzhen", roles=["branch_admin"])
    app = create_app(services)
    app.state.test_user = "ent-api" if session_kind == "enterprise" else "staff-api"
    app.state.test_addresses = itertools.count(1)
    log_in(app)
    app.state.test_ids = itertools.cycle([None, {"app_id": draft.id, "att_id": attachment.id},
                                          {"app_id": sent.id, "att_id": attachment.id}])
    return app


def log_in(app) -> None:
    """A fresh session for the requests that follow (a generated logout ends the one before), each
    from an address of its own: the generated logins with made-up passwords are throttled per address."""
    address = f"192.0.2.{next(app.state.test_addresses)}"
    with TestClient(app, client=(address, 50000)) as client:
        reply = client.post("/api/session", json={"username": app.state.test_user, "password": PASSWORD})
        assert reply.status_code == 200, reply.text
        app.state.test_auth = {"headers": {"X-CSRF-Token": reply.json()["csrf_token"]},
                               "cookies": {SESSION_COOKIE: client.cookies[SESSION_COOKIE]}}


@pytest.fixture
def api_schema(api_app):
    loaded = schemathesis.openapi.from_asgi("/openapi.json", api_app)
    loaded.config.generation.update(with_security_parameters=False)  # the test sends the session itself
    return loaded


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_answer_is_one_the_document_describes(case, api_app):
    real = next(api_app.state.test_ids)
    if real and case.path_parameters:
        case.path_parameters.update({k: v for k, v in real.items() if k in case.path_parameters})
    auth = api_app.state.test_auth
    response = case.call(headers=auth["headers"], cookies=auth["cookies"])
    case.validate_response(response, checks=CHECKS, headers=auth["headers"])
    if case.method == "DELETE" and case.operation.path.startswith("/api/session"):
        log_in(api_app)
    ctype = response.headers.get("content-type") or [""]  # schemathesis keeps every value of a header
    if response.status_code >= 400 and ctype[0].startswith("application/json"):
        error = response.json()["error"]
        assert error["zh"] and error["en"], error
