"""``/openapi.json``: the OpenAPI 3.1 document, generated from ``core.web.api.API_ROUTES`` alone."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from core.model import (
    Application,
    AppState,
    Business,
    CardRequest,
    IdType,
    MailAddress,
    Person,
    PickupChoice,
    RejectionReason,
)
from core.model.limits import max_length

if TYPE_CHECKING:
    from core.web.api import ApiRoute

_PARAM = re.compile(r"{([a-z_]+)(?::([a-z]+))?}")

_TEXT = {"type": "string"}
_ZH_EN = {"type": "object", "properties": {"zh": _TEXT, "en": _TEXT}}


def limited(cls: type, name: str) -> dict[str, Any]:
    """A string field with the domain's maximum length (``core.model.limits``)."""
    return {"type": "string", "maxLength": max_length(cls, name)}



SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "zh", "en"], "properties": {
            "code": _TEXT, "field": {"type": ["string", "null"]}, "zh": _TEXT, "en": _TEXT,
            "problems": {"type": "array", "items": {"type": "object"}}}}}},
    "Session": {"type": "object", "required": ["user", "csrf_token"], "properties": {
        "csrf_token": _TEXT, "user": {"type": "object", "properties": {
            "username": _TEXT, "kind": {"type": "string", "enum": ["enterprise", "staff"]}, "uscc": _TEXT,
            "region": _TEXT, "roles": {"type": "array", "items": _TEXT}, "display_name": _TEXT}}}},
    "Region": {"type": "object", "required": ["code", "name"], "properties": {
        "code": _TEXT, "name": _ZH_EN, "centre": _ZH_EN, "hotlines": {"type": "array", "items": _TEXT},
        "businesses": {"type": "array", "items": {"$ref": "#/components/schemas/Business"}}}},
    "Business": {"type": "string", "enum": [b.value for b in Business]},
    "AppState": {"type": "string", "enum": [s.value for s in AppState]},
    "RejectionReason": {"type": "string", "enum": [r.value for r in RejectionReason]},
    "DeadlineCalc": {"type": "object", "properties": {
        "region": _TEXT, "business": _TEXT, "start": {"type": "string", "format": "date"},
        "deadlines": {"type": "array", "items": {"type": "object", "properties": {
            "code": _TEXT, "zh": _TEXT, "en": _TEXT,
            "due": {"type": ["string", "null"], "format": "date",
                    "description": "null when it counts from a region step, whose day cannot be foreseen"}}}}}},
    "Progress": {"type": "object", "required": ["acceptance_no", "state", "history"], "properties": {
        "acceptance_no": _TEXT, "state": {"$ref": "#/components/schemas/AppState"}, "business": _TEXT,
        "region": _TEXT, "due": {"type": ["string", "null"]}, "delivery": {"type": ["string", "null"]},
        "tracking_no": _TEXT, "history": {"type": "array", "items": {"type": "object"}}}},
    "ApplicationSummary": {"type": "object", "required": ["id", "state", "version"], "properties": {
        "id": _TEXT, "acceptance_no": _TEXT, "business": _TEXT, "region": _TEXT,
        "state": {"$ref": "#/components/schemas/AppState"}, "version": {"type": "integer"},
        "due": {"type": ["string", "null"]}, "overdue": {"type": "boolean"},
        "enterprise": {"type": "object", "properties": {"uscc": _TEXT, "name": _TEXT}},
        "agent": {"type": ["object", "null"]}, "holders": {"type": "array", "items": {"type": "object"}},
        "submitted_at": {"type": ["string", "null"]}}},
    "ApplicationPage": {"type": "object", "required": ["items", "page", "more", "next"], "properties": {
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/ApplicationSummary"}},
        "page": {"type": "integer"}, "more": {"type": "boolean"},
        "next": {"type": ["string", "null"], "description": "the cursor of the page after this one (?after=); "
                 "null on the last page and on pages asked for by number beyond the first"}}},
    "Application": {"type": "object", "required": ["id", "state", "version", "enterprise"],
                    "description": "The application as stored (see core.model.Application).",
                    "properties": {"id": _TEXT, "state": {"$ref": "#/components/schemas/AppState"},
                                   "version": {"type": "integer"}, "enterprise": {"type": "object"},
                                   "items": {"type": "array", "items": {"type": "object"}}}},
    "ApplicationDetail": {"allOf": [{"$ref": "#/components/schemas/Application"}, {"type": "object", "properties": {
        "overdue": {"type": "boolean"}, "actions": {"type": "array", "items": _TEXT},
        "deadlines": {"type": "array", "items": {"$ref": "#/components/schemas/Due"}}}}]},
    "Person": {"type": "object", "required": ["name", "id_number"], "properties": {
        "name": limited(Person, "name"), "id_number": limited(Person, "id_number"),
        "id_type": {"type": "string", "enum": [t.value for t in IdType]},
        "phone": limited(Person, "phone"), "nationality": limited(Person, "nationality"),
        "id_valid_from": {"type": ["string", "null"], "format": "date"},
        "id_valid_to": {"type": ["string", "null"], "format": "date"}}},
    "CardRequest": {"type": "object", "required": ["kind", "holder"], "properties": {
        "kind": {"type": "string", "enum": ["legal", "operator", "declarant"]},
        "holder": {"$ref": "#/components/schemas/Person"},
        "medium": {"type": "string", "enum": ["ic_card", "usb_key", "shared_shield"]},
        "device_no": limited(CardRequest, "device_no"), "declarant_no": limited(CardRequest, "declarant_no"),
        "confirmed": {"type": "boolean"}}},
    "ApplicationEdit": {"type": "object", "properties": {
        "version": {"type": ["integer", "null"], "minimum": 0},
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/CardRequest"}},
        "agent": {"oneOf": [{"$ref": "#/components/schemas/Person"}, {"type": "null"}]},
        "pickup": {"type": "object", "properties": {
            "method": {"type": "string", "enum": ["counter", "mail"]}, "outlet": limited(PickupChoice, "outlet"),
            "mail_to": {"type": ["object", "null"], "required": ["recipient", "phone", "address"], "properties": {
                "recipient": limited(MailAddress, "recipient"), "phone": limited(MailAddress, "phone"),
                "address": limited(MailAddress, "address")}}}},
        "remarks": limited(Application, "remarks"), "making_centre": limited(Application, "making_centre")}},
    "ApplicationCreate": {"allOf": [{"$ref": "#/components/schemas/ApplicationEdit"}, {
        "type": "object", "required": ["business"], "properties": {
            "business": {"$ref": "#/components/schemas/Business"}}}]},
    "Attachment": {"type": "object", "required": ["id", "filename"], "properties": {
        "id": _TEXT, "filename": _TEXT, "media_type": _TEXT, "size": {"type": "integer"}, "material": _TEXT,
        "uploaded_at": _TEXT, "application_id": _TEXT}},
    "Due": {"type": "object", "properties": {
        "code": _TEXT, "zh": _TEXT, "en": _TEXT, "due": {"type": "string", "format": "date"},
        "projected": {"type": "boolean"}}},
    "SmsSent": {"type": "object", "properties": {"sent_to": _TEXT}},
    "AuditEntry": {"type": "object", "properties": {
        "seq": {"type": "integer"}, "at": _TEXT, "actor": _TEXT, "action": _TEXT, "payload": {"type": "object"},
        "hash": _TEXT}},
}

_ERRORS = {
    "400": "invalid input or malformed body", "401": "not logged in", "403": "forbidden (or CSRF check failed)",
    "404": "not found", "409": "conflict: stale version or illegal transition",
    "413": "the request body is over its size limit (not read, nothing changed)",
    "422": "problems (several validation problems) or a business rule refused the request",
}
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def openapi_path(path: str) -> str:
    """Starlette's ``{index:int}`` becomes OpenAPI's ``{index}``."""
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def _operation(route: ApiRoute) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "integer", "minimum": 0} if kind == "int" else {"type": "string"}}
        for name, kind in _PARAM.findall(route.path)]
    params += [{"name": q.name, "in": "query", "required": q.required, "schema": q.schema,
                **({"description": q.description} if q.description else {})} for q in route.query]
    ok: dict[str, Any] = {"description": "success"}
    if route.raw_response:
        ok["content"] = {route.raw_response: {"schema": {"type": "string", "format": "binary"}}}
    elif route.status != 204:
        ok["content"] = {"application/json": {"schema": route.response}}
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    operation: dict[str, Any] = {
        "operationId": route.operation_id, "summary": route.summary,
        "description": f"Who may call it: {route.who}.",
        "tags": [route.path.split("/")[2]],
        "parameters": params,
        "responses": {str(route.status): ok, **{code: {"description": text, **error} for code, text in _ERRORS.items()}},
    }
    if route.body is not None:
        operation["requestBody"] = {"required": route.body_type != "application/json" or bool(
            route.body.get("required")), "content": {route.body_type: {"schema": route.body}}}
    if route.who != "public":
        # Unsafe methods also need the session's CSRF token in X-CSRF-Token (from /api/session).
        operation["security"] = [{"session": [], "csrf": []} if route.method in UNSAFE else {"session": []}]
    return operation


def openapi_document(routes: Iterable[ApiRoute]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(openapi_path(route.path), {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "eportcard API", "version": "1",
                 "description": "E-Port card issuance (电子口岸制发卡): public queries, the enterprise portal and "
                                "the staff console as JSON. Log in with POST /api/session; send the CSRF token "
                                "in X-CSRF-Token on every unsafe request. Errors are "
                                '{"error": {"code", "field", "zh", "en"}}.'},
        "paths": paths,
        "components": {"schemas": SCHEMAS, "securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "eportcard_session"},
            "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"}}},
    }


__all__ = ["SCHEMAS", "openapi_document", "openapi_path"]
