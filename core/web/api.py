"""The JSON API under ``/api/``: public queries, the enterprise portal's actions and the staff console's.

One table, :data:`API_ROUTES`, declares every endpoint (method, path, summary, who may call it, the
request and reply schemas); the Starlette routes *and* ``/openapi.json`` are both built from it, so
they cannot drift. Authorisation is the services' own (``Actor`` / ``authorise``); the API adds the
session login, the ``X-CSRF-Token`` header on unsafe methods and JSON errors
``{"error": {"code", "field", "zh", "en"}}`` (rendered by the app's EportError handler).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from functools import lru_cache
from typing import Any

from attrs import frozen
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core.calendar import in_calendar
from core.convert import describe_errors, lists_only, make_json_converter, parse_json
from core.deadlines import is_overdue
from core.errors import Forbidden, InvalidInput
from core.guide import build_guide, deadline, guide_json
from core.guide.build import parse_business, resolve_region
from core.model import (
    Application,
    AppState,
    Attachment,
    AttachmentRef,
    CardRequest,
    Person,
    PickupChoice,
    Transition,
)
from core.privacy import mask_id, scrub
from core.services import Actor, require_role, sms
from core.services.applications import ApplicationProgress, ApplicationSummary, AuditEntry
from core.web.auth import LoginRequired, SessionUser, current_user, login, logout, remembered_user
from core.web.handlers import blocking, kept_first, posted_body, posted_form
from core.web.openapi import limited
from core.web.render import MAX_PAGE, web
from core.web.security import check_csrf, client_address, csrf_token

Endpoint = Callable[[Request], Awaitable[Response]]
_converter = lists_only(make_json_converter())


def _strict(kind: type) -> Callable[[Any, Any], Any]:
    def hook(value: Any, type_: Any) -> Any:
        # JSON clients get what they send checked, not coerced (5 is not a name, [] is not false).
        if not isinstance(value, kind):
            raise ValueError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value if type_ is kind else type_(value)  # a StrEnum field still checks its values
    return hook


# Registered on the class: the JSON converter's own str / bool hooks (which coerce: [] became "[]")
# come before any predicate hook. A StrEnum is a str, so it reaches the str hook too, typed.
_converter.register_structure_hook(str, _strict(str))
_converter.register_structure_hook(bool, _strict(bool))
MAX_PER_PAGE = 100
MAX_OFFSET = 10_000  # rows before a page that a page number may skip; ?after= goes anywhere
VISIBLE_STATES = [s for s in AppState if s is not AppState.DELETED]


@frozen
class QueryParam:
    name: str
    schema: dict[str, Any]
    required: bool = False
    description: str = ""


@frozen
class ApiRoute:
    """One endpoint: the route and its OpenAPI operation come from this record."""

    method: str
    path: str
    endpoint: Endpoint
    operation_id: str
    summary: str
    who: str  # "public" | "enterprise" | "staff" | "enterprise, staff" | "logged in"
    response: dict[str, Any]
    body: dict[str, Any] | None = None
    body_type: str = "application/json"
    query: tuple[QueryParam, ...] = ()
    status: int = 200
    raw_response: str = ""  # media type of a non-JSON reply (attachment download)


# ---- request helpers ------------------------------------------------------------------------------------

def _user(request: Request) -> SessionUser:
    user = current_user(request)
    if user is None:
        raise LoginRequired("api")
    return user


def _json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object; anything else is a 400 (never a 500)."""
    raw = posted_body(request)
    if not raw.strip():
        return {}
    try:
        data = parse_json(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("请求体不是有效的 JSON。", "The request body is not valid JSON.", field="body") from None
    if not isinstance(data, dict):
        raise InvalidInput("请求体须为 JSON 对象。", "The request body must be a JSON object.", field="body")
    return data


def _unsafe(request: Request, action: str = "") -> tuple[SessionUser, dict[str, Any]]:
    """Logged in, CSRF header checked, the role allowed ``action`` (if named), body parsed: the start of
    every JSON state change. The role comes before the body: a caller who may not act gets 403 whatever
    the body holds."""
    user = _user(request)
    check_csrf(request)
    if action:
        require_role(user.actor(), action)
    return user, _json_body(request)


def _str(body: Mapping[str, Any], key: str, default: str = "", *, required: bool = False) -> str:
    value = body.get(key, None)
    if value is None:
        if required:
            raise InvalidInput(f"缺少字段 {key}。", f"The field {key} is required.", field=key)
        return default
    if not isinstance(value, str):
        raise InvalidInput(f"字段 {key} 须为字符串。", f"The field {key} must be a string.", field=key)
    return value.strip()


def _version(body: Mapping[str, Any]) -> int | None:
    value = body.get("version")
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():  # 7.0 is the integer 7 in JSON Schema, as in the schema
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput("version 须为非负整数（申请单的当前版本）。",
                           "version must be a non-negative integer (the application's current version).",
                           field="version")
    return value


def _str_list(body: Mapping[str, Any], key: str) -> list[str]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"字段 {key} 须为字符串数组。", f"The field {key} must be an array of strings.", field=key)
    return value


def _query_int(request: Request, key: str, default: int, lowest: int = 1, highest: int | None = None) -> int:
    raw = request.query_params.get(key)
    if raw is None:  # absent; an empty value is not an integer, as the schema says
        return default
    if not raw.isdigit() or int(raw) < lowest or (highest is not None and int(raw) > highest):
        top = f"–{highest}" if highest is not None else " or more"
        raise InvalidInput(f"参数 {key} 须为 {lowest}{top} 的整数。",
                           f"The parameter {key} must be an integer {lowest}{top}.", field=key)
    return int(raw)


def _query_state(request: Request) -> str:
    """The ``state`` filter: absent ("") means every state; present, it must name one (empty does not)."""
    raw = request.query_params.get("state")
    if raw is None:
        return ""
    if raw not in AppState._value2member_map_:
        raise InvalidInput(f"未知的状态：{raw}", f"unknown state {raw!r}", field="state")
    return raw


def _structure(body: Mapping[str, Any], key: str, cls: Any) -> Any:
    try:
        return _converter.structure(body[key], cls)
    except Exception as exc:  # cattrs raises many kinds; each is bad input here
        detail = "; ".join(describe_errors(exc))[:300]
        raise InvalidInput(f"字段 {key} 的内容不正确：{detail}", f"The field {key} is malformed: {detail}",
                           field=key) from None


EDIT_FIELDS: dict[str, Any] = {"items": tuple[CardRequest, ...], "agent": Person | None, "pickup": PickupChoice,
                               "remarks": str, "making_centre": str}


def _changes(body: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _str(body, key) if cls is str else _structure(body, key, cls)
            for key, cls in EDIT_FIELDS.items() if key in body}


# ---- reply helpers -----------------------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    return json.loads(json.dumps(_converter.unstructure(value), ensure_ascii=False, default=str))


def application_summary(app: Application, today: date) -> dict[str, Any]:
    """A list row: no identity number in clear."""
    return {
        "id": app.id, "acceptance_no": app.acceptance_no, "business": app.business.value, "region": app.region,
        "state": app.state.value, "version": app.version, "due": app.due.isoformat() if app.due else None,
        "overdue": is_overdue(app, today),
        "enterprise": {"uscc": app.enterprise.uscc, "name": app.enterprise.name},
        "agent": {"name": app.agent.name, "id_number": mask_id(app.agent.id_number)} if app.agent else None,
        "holders": [{"kind": i.kind.value, "name": i.holder.name, "id_number": mask_id(i.holder.id_number)}
                    for i in app.items],
        "submitted_at": app.submitted_at.isoformat() if app.submitted_at else None,
    }


def summary_json(row: ApplicationSummary, today: date) -> dict[str, Any]:
    """:func:`application_summary` from a list-row summary: the same keys and values."""
    return {
        "id": row.id, "acceptance_no": row.acceptance_no, "business": row.business.value, "region": row.region,
        "state": row.state.value, "version": row.version, "due": row.due.isoformat() if row.due else None,
        "overdue": is_overdue(row, today),
        "enterprise": {"uscc": row.enterprise_uscc, "name": row.enterprise_name},
        "agent": {"name": row.agent.name, "id_number": mask_id(row.agent.id_number)} if row.agent else None,
        "holders": [{"kind": h.kind.value, "name": h.name, "id_number": mask_id(h.id_number)} for h in row.holders],
        "submitted_at": row.submitted_at.isoformat() if row.submitted_at else None,
    }


def application_json(app: Application, reveal: bool) -> dict[str, Any]:
    """The whole application; identity numbers and phones masked unless ``reveal`` (its own enterprise)."""
    data = _plain(app)
    return data if reveal else scrub(data)


def _attachment_json(att: Attachment) -> dict[str, Any]:
    return {"id": att.id, "filename": att.filename, "media_type": att.media_type, "size": att.size,
            "material": att.material, "uploaded_at": att.uploaded_at.isoformat(),
            "application_id": att.application_id}


def _audit_json(entry: AuditEntry) -> dict[str, Any]:
    return {"seq": entry.seq, "at": entry.at.isoformat(), "actor": entry.actor, "action": entry.action,
            "payload": scrub(entry.payload), "hash": entry.hash}


def _user_json(user: SessionUser) -> dict[str, Any]:
    return {"username": user.username, "kind": user.kind, "uscc": user.uscc, "region": user.region,
            "roles": list(user.roles), "display_name": user.display_name}


def _detail(request: Request, app: Application, actor: Actor) -> JSONResponse:
    services = web(request).services
    reveal = actor.kind == "enterprise" and actor.uscc == app.enterprise.uscc
    body = application_json(app, reveal) | {
        "overdue": is_overdue(app, services.today()),
        "actions": services.applications.available_actions(app, actor) if actor.kind == "staff" else [],
        "deadlines": [{"code": d.code, "zh": d.name_zh, "en": d.name_en, "due": d.due.isoformat(),
                       "projected": d.projected} for d in services.applications.deadlines(app)]}
    return JSONResponse(body)


# ---- session -------------------------------------------------------------------------------------------------

@blocking
def session_login(request: Request) -> Response:
    # JSON only: a cross-site HTML form cannot send it, so a login cannot be forced on a browser.
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise InvalidInput("请以 application/json 提交。", "Send the body as application/json.", field="body")
    body = _json_body(request)
    state = web(request)
    address = client_address(request)
    user = state.services.accounts.authenticate(_str(body, "username", required=True),
                                                _str(body, "password", required=True), address)
    login(request, user, "password")
    session_user = current_user(request)
    assert session_user is not None
    return JSONResponse({"user": _user_json(session_user), "csrf_token": csrf_token(request)})


@blocking
def session_get(request: Request) -> Response:
    user = _user(request)
    return JSONResponse({"user": _user_json(user), "csrf_token": csrf_token(request)})


@blocking
def session_logout(request: Request) -> Response:
    _user(request)
    check_csrf(request)
    logout(request)
    return Response(status_code=204)


@blocking
def sessions_logout(request: Request) -> Response:
    _user(request)
    check_csrf(request)
    logout(request, everywhere=True)
    return Response(status_code=204)


# ---- public ---------------------------------------------------------------------------------------------------

@blocking
def regions(request: Request) -> Response:
    rulebook = web(request).services.rulebook
    return JSONResponse([
        {"code": r.code, "name": {"zh": r.name.zh, "en": r.name.en}, "centre": {"zh": r.centre.zh, "en": r.centre.en},
         "hotlines": list(r.hotlines), "businesses": [o.business.value for o in rulebook.offers(r.code)]}
        for r in sorted(rulebook.regions().values(), key=lambda r: r.code)])


@blocking
def guide(request: Request) -> Response:
    services = web(request).services
    region = resolve_region(services.rulebook, request.path_params["region"])
    business = parse_business(services.rulebook, region.code, request.path_params["business"])
    return JSONResponse(guide_json(build_guide(services.rulebook, services.calendar, region.code, business,
                                               services.today())))


@blocking
def deadlines_calc(request: Request) -> Response:
    services = web(request).services
    query = request.query_params
    region = resolve_region(services.rulebook, query.get("region", ""))
    business = parse_business(services.rulebook, region.code, query.get("business", ""))
    raw = query.get("start") or services.today().isoformat()
    try:
        start = date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput("日期格式应为 YYYY-MM-DD。", "Enter the date as YYYY-MM-DD.", field="start") from None
    in_calendar(start, "start")
    try:
        rows = deadline(services.rulebook, services.calendar, region.code, business, start)
    except (OverflowError, ValueError, KeyError):
        raise InvalidInput("无法计算该日期的办结时限（日历范围之外）。",
                           "No due date can be computed for that start date (outside the calendar).",
                           field="start") from None
    return JSONResponse({"region": region.code, "business": business.value, "start": start.isoformat(),
                         "deadlines": [{"code": d.code, "zh": d.name.zh, "en": d.name.en,
                                        "due": due.isoformat() if due else None}  # None: after a region step
                                       for d, due in rows]})


def _progress_key(request: Request) -> tuple[str, str, str]:
    query = request.query_params
    return "progress", query.get("acceptance_no", ""), query.get("uscc", "")


@kept_first(lambda request: web(request).replies.kept(_progress_key(request)))
def progress(request: Request) -> Response:
    """Acceptance number + USCC -> state and history; nothing personal."""
    services = web(request).services
    key = _progress_key(request)
    return web(request).replies.response(key, lambda: progress_json(services.applications.progress_record(*key[1:])))


def progress_json(app: ApplicationProgress) -> dict[str, Any]:
    return {
        "acceptance_no": app.acceptance_no, "state": app.state.value, "business": app.business.value,
        "region": app.region, "due": app.due.isoformat() if app.due else None,
        "delivery": app.delivery.value if app.delivery else None, "tracking_no": app.tracking_no,
        "history": [{"action": h.action, "from": h.from_state.value, "to": h.to_state.value, "at": h.at.isoformat(),
                     "reasons": [r.value for r in h.reasons]} for h in app.history]}


# ---- applications (enterprise and staff) ------------------------------------------------------------------------

def _paging(request: Request) -> tuple[int, int, str | None]:
    """(page, per_page, after): ``after`` (a cursor from ``next``) or a page number, not both; page numbers
    reach the first MAX_OFFSET rows (an OFFSET reads every row before the page), cursors reach any."""
    per_page = _query_int(request, "per_page", 20, highest=MAX_PER_PAGE)
    after = request.query_params.get("after")
    if after is not None:
        if not after:  # as every query value: leave it out for the first page
            raise InvalidInput("after 不能为空：第一页不带 after。", "after cannot be empty: leave it out for the "
                               "first page.", field="after")
        if "page" in request.query_params:
            raise InvalidInput("page 与 after 只能给一个。", "Give page or after, not both.", field="after")
        return 1, per_page, after
    page = _query_int(request, "page", 1, highest=MAX_PAGE)
    if (page - 1) * per_page > MAX_OFFSET:
        raise InvalidInput(f"页码只能翻到前 {MAX_OFFSET} 条；更深处请用上一页返回的 next（?after=）继续。",
                           f"Page numbers reach the first {MAX_OFFSET} rows; go further with the next cursor "
                           "(?after=) the previous page returned.", field="page")
    return page, per_page, "" if page == 1 else None


def _page_json(items: str, page: int, more: bool, cursor: str | None) -> bytes:
    return f'{{"items":[{items}],"page":{page},"more":{_dumps(more)},"next":{_dumps(cursor)}}}'.encode()


@blocking
def list_applications(request: Request) -> Response:
    user = _user(request)
    services = web(request).services
    page, per_page, after = _paging(request)
    raw_state = _query_state(request)
    states = [AppState(raw_state)] if raw_state else VISIBLE_STATES
    today = services.today()
    if after is not None:  # the first page, or one after a cursor: a keyset read
        found, cursor = services.applications.summaries_page_after(user.actor(), states, after, per_page)
        rows, more = list(found), cursor is not None
    else:
        rows = services.applications.summaries_for(user.actor(), states, limit=per_page + 1,
                                                   offset=(page - 1) * per_page)
        rows, more, cursor = rows[:per_page], len(rows) > per_page, None
    items = ",".join(_dumps(summary_json(r, today)) for r in rows)
    return Response(_page_json(items, page, more, cursor), media_type="application/json")


@blocking
def create_application(request: Request) -> Response:
    user, body = _unsafe(request)
    actor = user.actor()
    if actor.kind != "enterprise":  # before the body is read, as every refusal by role
        raise Forbidden("只有企业可以新建申请单", "only enterprises create applications", field="business")
    business = _str(body, "business", required=True)
    created = web(request).services.applications.start(actor, business, user.auth_method == "card", **_changes(body))
    return JSONResponse(application_json(created, reveal=True), status_code=201)


@blocking
def get_application(request: Request) -> Response:
    user = _user(request)
    app = web(request).services.applications.get_existing(request.path_params["app_id"], user.actor())
    return _detail(request, app, user.actor())


@blocking
def edit_application(request: Request) -> Response:
    user, body = _unsafe(request, "edit")
    services = web(request).services
    app = services.applications.edit(request.path_params["app_id"], user.actor(), _version(body), **_changes(body))
    return _detail(request, app, user.actor())


@blocking
def delete_application(request: Request) -> Response:
    user, body = _unsafe(request, "delete")
    web(request).services.applications.delete(request.path_params["app_id"], user.actor(), _version(body))
    return Response(status_code=204)


@blocking
def list_attachments(request: Request) -> Response:
    user = _user(request)
    services = web(request).services
    app = services.applications.get_existing(request.path_params["app_id"], user.actor())
    return JSONResponse([_attachment_json(a) for a in services.applications.attachments_of(app.id, user.actor())])


@blocking(max_files=1, max_fields=10)
def add_attachment(request: Request) -> Response:
    user = _user(request)
    check_csrf(request)
    require_role(user.actor(), "attach")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput("请以 multipart/form-data 上传文件。", "Upload the file as multipart/form-data.",
                           field="file")
    services = web(request).services
    limit = services.settings.storage.max_upload_bytes
    form = posted_form(request)
    upload, material = form.get("file"), form.get("material")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise InvalidInput("请选择要上传的文件。", "Choose a file to upload.", field="file")
    if not isinstance(material, str) or not material.strip():
        raise InvalidInput("请指明文件对应的材料。", "Say which material the file is for.", field="material")
    content = upload.file.read(limit + 1)
    att = services.applications.attach(request.path_params["app_id"], material.strip(), upload.filename, content,
                                       user.actor())
    return JSONResponse(_attachment_json(att), status_code=201)


@blocking
def download_attachment(request: Request) -> Response:
    from core.web.portal import content_disposition

    user = _user(request)
    att, content = web(request).services.applications.attachment(request.path_params["att_id"], user.actor())
    return Response(content, media_type=att.media_type, headers={
        "Content-Disposition": content_disposition(att.filename), "Cache-Control": "private, no-store"})


@blocking
def send_sms_code(request: Request) -> Response:
    user, _body = _unsafe(request)
    state = web(request)  # to the agent's mobile of this application, whatever the body carries
    sent_to = state.services.applications.send_submission_code(
        request.path_params["app_id"], user.actor(), state.sms, state.secret,
        sms.Asker(user.actor().label, client_address(request)))
    return JSONResponse({"sent_to": sent_to}, status_code=202)


@blocking
def submit_application(request: Request) -> Response:
    user, body = _unsafe(request, "submit")
    if body.get("declaration") is not True:
        raise InvalidInput("请阅读并确认承诺声明（declaration: true）。", "Confirm the declaration (declaration: true).",
                           field="declaration")
    code, version = _str(body, "sms_code", required=True), _version(body)
    state = web(request)
    saved = state.services.applications.submit_with_code(request.path_params["app_id"], user.actor(), code,
                                                         state.sms, state.secret, expected_version=version)
    return _detail(request, saved, user.actor())


@blocking
def withdraw_application(request: Request) -> Response:
    user, body = _unsafe(request, "withdraw")
    app = web(request).services.applications.withdraw(request.path_params["app_id"], user.actor(),
                                                      note=_str(body, "note"), expected_version=_version(body))
    return _detail(request, app, user.actor())


@blocking
def application_deadlines(request: Request) -> Response:
    user = _user(request)
    services = web(request).services
    app = services.applications.get_existing(request.path_params["app_id"], user.actor())
    return JSONResponse([{"code": d.code, "zh": d.name_zh, "en": d.name_en, "due": d.due.isoformat(),
                          "projected": d.projected} for d in services.applications.deadlines(app)])


# ---- staff -------------------------------------------------------------------------------------------------------

def _staff_user(request: Request) -> SessionUser:
    user = _user(request)
    if user.kind != "staff":
        raise Forbidden("仅限工作人员", "staff only", field="user")
    return user


def _queue_key(request: Request, user: SessionUser) -> tuple[Any, ...]:
    # The queue is the same for every clerk of a branch; a bad query raises afresh and is never kept.
    return "queue", user.region, web(request).services.today(), request.scope["query_string"]


def _kept_queue(request: Request) -> bytes | None:
    user = remembered_user(request)
    return web(request).replies.kept(_queue_key(request, user)) if user and user.kind == "staff" else None


@kept_first(_kept_queue)
def staff_queue(request: Request) -> Response:
    user = _staff_user(request)
    state = web(request)
    today = state.services.today()

    def make() -> bytes:
        page, per_page, after = _paging(request)
        apps, search = state.services.applications, request.query_params.get("q", "").strip()
        cursor = None
        if after is not None:  # the first page, or one after a cursor: a keyset read
            rows, cursor = apps.queue_page_after(user.actor(), _query_state(request), search, after, per_page)
            more = cursor is not None
        else:
            rows, more = apps.queue_summary_page(user.actor(), _query_state(request), search, page, per_page)
        items = ",".join(_queue_row_json(r.summary, today, r.overdue) for r in rows)
        return _page_json(items, page, more, cursor)

    return Response(state.replies.body(_queue_key(request, user), make), media_type="application/json")


@lru_cache(maxsize=8192)
def _queue_row_json(row: ApplicationSummary, today: date, overdue: bool) -> str:
    """One queue row as JSON text. An unchanged row comes back from the store's memo as the same
    object, so this is a lookup for every row that did not change since it was last shown."""
    return _dumps(summary_json(row, today) | {"overdue": overdue})


def _dumps(value: Any) -> str:
    """JSON text exactly as Starlette's JSONResponse writes it."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))


def _staff_action(action: str) -> Endpoint:
    @blocking
    def run(request: Request) -> Response:
        user, body = _unsafe(request, action)
        path = request.path_params
        item = path.get("index")
        app = web(request).services.applications.perform(
            path["app_id"], action, user.actor(), version=_version(body), note=_str(body, "note"),
            reasons=_str_list(body, "reasons"), tracking_no=_str(body, "tracking_no"),
            acceptance_no=_str(body, "acceptance_no"), step=path.get("step", ""), item=item,
            unmade_reason=_str(body, "unmade_reason"))
        return _detail(request, app, user.actor())

    run.__name__ = f"staff_{action}"
    return run


@blocking
def application_audit(request: Request) -> Response:
    user = _staff_user(request)
    entries = web(request).services.applications.audit_trail(request.path_params["app_id"], user.actor())
    return JSONResponse([_audit_json(e) for e in entries])


@blocking
def me_accounts(request: Request) -> Response:
    """The enterprise's own accounts (usernames only), so a client can show who may act."""
    users = web(request).services.accounts.enterprise_accounts(_user(request).actor())
    return JSONResponse([{"username": u.username, "display_name": u.display_name} for u in users])


# ---- the table ------------------------------------------------------------------------------------------------

def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


VERSION = {"type": ["integer", "null"], "minimum": 0, "description": "the application version you saw"}
NOTE = limited(Transition, "note")
NOTE_BODY: dict[str, Any] = {"type": "object", "properties": {"version": VERSION, "note": NOTE}}
PAGE = QueryParam("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, description="page number, from 1")
PER_PAGE = QueryParam("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE})
AFTER = QueryParam("after", {"type": "string", "maxLength": 512},
                   description="where the page starts: the next cursor of the page before (not with page)")
STATE = QueryParam("state", {"type": "string", "enum": [s.value for s in AppState]})
APP_PATH = "/api/applications/{app_id}"


def _staff_route(action: str, summary: str, body: dict[str, Any] | None = None, suffix: str = "") -> ApiRoute:
    return ApiRoute("POST", f"{APP_PATH}/{suffix or action}", _staff_action(action), f"staff_{action}", summary,
                    "staff", _ref("ApplicationDetail"), body or NOTE_BODY)


API_ROUTES: tuple[ApiRoute, ...] = (
    # session
    ApiRoute("POST", "/api/session", session_login, "login", "Log in (enterprise or staff); returns the CSRF token",
             "public", _ref("Session"), {"type": "object", "required": ["username", "password"], "properties": {
                 "username": {"type": "string"}, "password": {"type": "string"}}}),
    ApiRoute("GET", "/api/session", session_get, "session", "Who is logged in, and the session's CSRF token",
             "logged in", _ref("Session")),
    ApiRoute("DELETE", "/api/session", session_logout, "logout", "Log out: this session ends on the server",
             "logged in", {}, status=204),
    ApiRoute("DELETE", "/api/sessions", sessions_logout, "logout_everywhere",
             "Log out everywhere: every session of this account ends", "logged in", {}, status=204),
    # public
    ApiRoute("GET", "/api/regions", regions, "regions", "Branch centres and the businesses they offer", "public",
             {"type": "array", "items": _ref("Region")}),
    ApiRoute("GET", "/api/regions/{region}/guides/{business}", guide, "guide",
             "The complete guide for one business in one region", "public", {"type": "object"}),
    ApiRoute("GET", "/api/deadlines", deadlines_calc, "deadlines",
             "Due date of each milestone counted from a start date (working days)", "public",
             _ref("DeadlineCalc"), query=(
                 QueryParam("region", {"type": "string"}, True), QueryParam("business", {"type": "string"}, True),
                 QueryParam("start", {"type": "string", "format": "date"}))),
    ApiRoute("GET", "/api/progress", progress, "progress", "Progress of an application (acceptance number + USCC)",
             "public", _ref("Progress"), query=(
                 QueryParam("acceptance_no", {"type": "string"}, True), QueryParam("uscc", {"type": "string"}, True))),
    # enterprise portal
    ApiRoute("GET", "/api/applications", list_applications, "list_applications",
             "Applications the caller may see (an enterprise its own, staff their branch's); IDs masked",
             "enterprise, staff", _ref("ApplicationPage"), query=(STATE, PAGE, PER_PAGE, AFTER)),
    ApiRoute("POST", "/api/applications", create_application, "create_application", "Save a new draft (暂存)",
             "enterprise", _ref("Application"), _ref("ApplicationCreate"), status=201),
    ApiRoute("GET", APP_PATH, get_application, "get_application",
             "One application (identity numbers in clear only for its own enterprise)", "enterprise, staff",
             _ref("ApplicationDetail")),
    ApiRoute("PATCH", APP_PATH, edit_application, "edit_application", "Edit a draft or rejected application",
             "enterprise", _ref("ApplicationDetail"), _ref("ApplicationEdit")),
    ApiRoute("DELETE", APP_PATH, delete_application, "delete_application", "Delete a draft", "enterprise", {},
             {"type": "object", "properties": {"version": VERSION}}, status=204),
    ApiRoute("GET", f"{APP_PATH}/attachments", list_attachments, "list_attachments", "The application's attachments",
             "enterprise, staff", {"type": "array", "items": _ref("Attachment")}),
    ApiRoute("POST", f"{APP_PATH}/attachments", add_attachment, "add_attachment",
             "Upload a material (checked by content against the region's types and size)", "enterprise, staff",
             _ref("Attachment"), {"type": "object", "required": ["material", "file"], "properties": {
                 "material": limited(AttachmentRef, "material"), "file": {"type": "string", "format": "binary"}}},
             body_type="multipart/form-data", status=201),
    ApiRoute("GET", "/api/attachments/{att_id}", download_attachment, "download_attachment",
             "Download an attachment (refused once archived)", "enterprise, staff", {},
             raw_response="*/*"),  # the media type found from the content when it was uploaded
    ApiRoute("POST", f"{APP_PATH}/sms_code", send_sms_code, "send_sms_code",
             "Send the submission code to the agent's mobile", "enterprise", _ref("SmsSent"),
             {"type": "object"}, status=202),
    ApiRoute("POST", f"{APP_PATH}/submit", submit_application, "submit_application",
             "Submit a draft, or resubmit a rejected application, with the SMS code", "enterprise",
             _ref("ApplicationDetail"), {"type": "object", "required": ["sms_code", "declaration"], "properties": {
                 "version": VERSION, "sms_code": {"type": "string"}, "declaration": {"type": "boolean"}}}),
    ApiRoute("POST", f"{APP_PATH}/withdraw", withdraw_application, "withdraw_application",
             "Withdraw a submitted application (before acceptance)", "enterprise", _ref("ApplicationDetail"),
             NOTE_BODY),
    ApiRoute("GET", f"{APP_PATH}/deadlines", application_deadlines, "application_deadlines",
             "The application's milestone due dates", "enterprise, staff",
             {"type": "array", "items": _ref("Due")}),
    ApiRoute("GET", "/api/accounts", me_accounts, "accounts", "The enterprise's accounts", "enterprise",
             {"type": "array", "items": {"type": "object"}}),
    # staff console
    ApiRoute("GET", "/api/staff/queue", staff_queue, "staff_queue",
             "The branch queue, soonest due first, overdue flagged; search by acceptance no., name or USCC",
             "staff", _ref("ApplicationPage"), query=(STATE, QueryParam("q", {"type": "string"}), PAGE, PER_PAGE, AFTER)),
    _staff_route("accept", "Accept (受理) a submitted application"),
    _staff_route("reject", "Reject (退单) with at least one standard reason and free text", {
        "type": "object", "required": ["reasons"], "properties": {
            "version": VERSION, "note": NOTE,
            "reasons": {"type": "array", "items": _ref("RejectionReason"), "minItems": 1}}}),
    _staff_route("require_medium", "Mark that the enterprise must provide the medium"),
    _staff_route("provide_medium", "Mark the medium as provided"),
    _staff_route("start_production", "Start making the cards"),
    _staff_route("complete", "Complete (办结) the application: every card made, or the reason why not", {
        "type": "object", "properties": {
            "version": VERSION, "note": NOTE, "unmade_reason": NOTE | {
                "description": "required while a requested card is not made: why complete without it"}}}),
    _staff_route("ship", "Ship the cards with a tracking number", {
        "type": "object", "required": ["tracking_no"], "properties": {
            "version": VERSION, "tracking_no": limited(Application, "tracking_no") | {"minLength": 1}}}),
    _staff_route("deliver", "Record that the shipped cards were delivered"),
    _staff_route("return", "Record that the shipped cards came back undeliverable (ship again or hand over)"),
    _staff_route("hand_over", "Hand the cards over at the counter after checking the receipt", {
        "type": "object", "required": ["acceptance_no"], "properties": {
            "version": VERSION, "acceptance_no": limited(Application, "acceptance_no") | {"minLength": 1}}}),
    _staff_route("step", "Complete a region workflow step", suffix="steps/{step}"),
    _staff_route("make", "Record that one card of the application was made", {
        "type": "object", "properties": {"version": VERSION}}, suffix="items/{index:int}/made"),
    ApiRoute("GET", f"{APP_PATH}/audit", application_audit, "application_audit",
             "The application's audit trail (personal data masked)", "staff",
             {"type": "array", "items": _ref("AuditEntry")}),
)


def _openapi(request: Request) -> Response:
    from core.web.openapi import openapi_document

    return JSONResponse(openapi_document(API_ROUTES))


@blocking
def openapi_json(request: Request) -> Response:
    return _openapi(request)


routes: list[BaseRoute] = [
    *(Route(r.path, r.endpoint, methods=[r.method], name=r.operation_id) for r in API_ROUTES),
    Route("/openapi.json", openapi_json, name="openapi"),
]

__all__ = ["API_ROUTES", "ApiRoute", "QueryParam", "application_json", "application_summary", "routes",
           "summary_json"]
