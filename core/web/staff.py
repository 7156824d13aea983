"""The staff console: login, the branch queue, application detail with the actions a role allows,
attachments and the audit trail.

Every read and change goes through ``ApplicationService`` with the session's Actor, so branch scope
and role checks are the services' (``core.services.actors.STAFF_ROLES``), shared with the CLI and
the JSON API. Each action form carries the application version: a stale page gets the conflict
message instead of overwriting someone else's change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from core import lifecycle
from core.errors import EportError, Forbidden, InvalidInput
from core.labels import pair
from core.model import Application, Card, Pickup, RejectionReason
from core.services import Actor, require_role
from core.services.applications import STAFF_ACTIONS
from core.web.auth import SessionUser, login, remembered_user, require_user
from core.web.forms import text
from core.web.handlers import blocking, kept_first, posted_form
from core.web.i18n import pick
from core.web.render import PAGE_SIZE, error_lines, lang_of, outbox_open, page_number, render, web
from core.web.security import check_csrf, client_address
from core.web.status import status_for

# Actions whose form asks "are you sure" first: 退单, 办结 and a delivery's outcome are not undone.
CONFIRMED_ACTIONS = ("reject", "complete", "deliver", "return")


# ---- counter personalisation with a PC/SC reader ---------------------------------------------------------

def personalise_context(request: Request, app: Application, actions: list[str]) -> dict[str, Any]:
    """What the production page offers: the reader form, or why there is none ("mark made" stays)."""
    if "make" not in actions:
        return {"available": False, "reason": ""}
    services = web(request).services
    if not services.cards.enabled:
        return {"available": False, "reason": "staff.personalise.no_service"}
    configured = services.settings.card.reader
    readers = services.cards.counter.readers()
    if not readers and not configured:
        return {"available": False, "reason": "staff.personalise.no_reader"}
    return {"available": True, "reason": "", "reader": configured, "readers": readers}


# ---- pages ------------------------------------------------------------------------------------------------

def _staff(request: Request) -> SessionUser:
    return require_user(request, "staff")


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _context(request: Request, extra: Mapping[str, Any]) -> dict[str, Any]:
    lang = lang_of(request)
    return {"pick": lambda value: pick(value, lang), "reason_choices": list(RejectionReason), **extra}


@blocking
def login_page(request: Request) -> Response:
    context = _context(request, {"form": {}, "next": request.query_params.get("next", "")})
    if request.method == "GET":
        return render(request, "staff/login.html", context)
    check_csrf(request)
    form = posted_form(request)
    state = web(request)
    password = form.get("password", "")
    address = client_address(request)
    try:
        user = state.services.accounts.authenticate(text(form, "username"),
                                                    password if isinstance(password, str) else "", address,
                                                    kind="staff")
    except EportError as exc:
        return render(request, "staff/login.html",
                      context | {"form": {"username": text(form, "username")}, "errors": [exc]}, status=403)
    login(request, user, "password")
    target = text(form, "next")
    return _redirect(target if target.startswith("/staff") and not target.startswith("//") else "/staff")


def _queue_page_key(request: Request, user: SessionUser) -> tuple[Any, ...]:
    # Everything the page shows besides the applications (whose change retires every kept page): this
    # session's own (its CSRF token, roles, language), the day (overdue marks), the query.
    return ("queue page", request.session.get("sid"), user.id, web(request).services.today(), lang_of(request),
            outbox_open(request), request.scope["query_string"])


def _kept_queue_page(request: Request) -> bytes | None:
    user = remembered_user(request)
    return web(request).replies.kept(_queue_page_key(request, user)) if user and user.kind == "staff" else None


# The page as it was rendered, while no application changed: rendering it was 86% of its time.
@kept_first(_kept_queue_page, media_type="text/html; charset=utf-8")
def queue_page(request: Request) -> Response:
    user = _staff(request)
    rendered: list[Response] = []

    def make() -> bytes:
        rendered.append(_queue_page(request, user))
        if rendered[0].status_code != 200:  # an error is never kept: raised afresh
            raise _NotKept
        return bytes(rendered[0].body)

    try:
        body = web(request).replies.body(_queue_page_key(request, user), make)
    except _NotKept:
        return rendered[0]
    return rendered[0] if rendered else HTMLResponse(body)


class _NotKept(Exception):
    """The page is an error page: sent once, not kept."""


def _queue_page(request: Request, user: SessionUser) -> Response:
    services = web(request).services
    query = request.query_params
    state, search = query.get("state", ""), query.get("q", "").strip()
    actor = user.actor()
    # Each role opens on its own work; a state chosen in the filter replaces the tabs.
    queue = query.get("queue", "") or ("" if state else lifecycle.first_queue(actor.roles).code)
    page = page_number(query.get("page"))
    context = _context(request, {"state": state, "q": search, "page": page, "states": lifecycle.QUEUE_STATES,
                                 "staff_user": user, "rows": [], "more": False, "queue": queue,
                                 "queues": lifecycle.WORK_QUEUES, "counts": services.applications.queue_counts(actor)})
    # The next page starts after the last row shown (a cursor: as fast deep in the queue as at its start);
    # a page asked for by number (going back) is read by OFFSET, as far as the first MAX_PAGE pages.
    after, cursor = query.get("after", ""), None
    try:
        if after or page == 1:
            rows, cursor = services.applications.queue_page_after(actor, state, search, after, PAGE_SIZE,
                                                                  queue=queue or None)
            more = cursor is not None
        else:
            rows, more = services.applications.queue_summary_page(actor, state, search, page, PAGE_SIZE,
                                                                  queue=queue or None)
    except EportError as exc:
        return render(request, "staff/queue.html", context | {"errors": error_lines(exc)}, status=400)

    def page_url(n: int) -> str:
        forward = {"after": cursor} if cursor and n == page + 1 else {}
        chosen = {"queue": queue, "state": state, "q": search, **forward, "page": n}
        return "/staff?" + urlencode({k: v for k, v in chosen.items() if v})

    return render(request, "staff/queue.html", context | {"rows": rows, "more": more, "page_url": page_url})


def _detail_context(request: Request, app: Application, actor: Actor) -> dict[str, Any]:
    services = web(request).services
    apps = services.applications
    actions = apps.available_actions(app, actor)
    return _context(request, {
        "personalise": personalise_context(request, app, actions), "made_card": _made_card(request, app),
        "app": app, "attachments": apps.attachments_of(app.id, actor), "archived": apps.attachments_archived(app),
        "audit": apps.audit_trail(app.id, actor), "dues": apps.deadlines(app), "actions": actions,
        "pending_steps": apps.pending_steps(app), "steps": apps.region_steps(app),
        "unmade": lifecycle.unmade_items(app), "confirmed_actions": CONFIRMED_ACTIONS,
        "today": services.today(), "overdue": apps.overdue(app), "history": lifecycle.history_stages(app),
        "is_mail": app.pickup.method is Pickup.MAIL,
        "done": _done(request.query_params.get("done", ""))})


def _done(action: str) -> str:
    """The outcome key of ``?done=`` (an action this console performs), else nothing to say."""
    return action if action in (*STAFF_ACTIONS, "personalize") else ""


def _made_card(request: Request, app: Application) -> Card | None:
    """The card just personalised for this application (``?card=`` after the redirect), if it is one."""
    card_id = request.query_params.get("card", "")
    return web(request).services.cards.made_for(app, card_id) if card_id else None


@blocking
def detail_page(request: Request) -> Response:
    user = _staff(request)
    app = web(request).services.applications.get(request.path_params["app_id"], user.actor())
    return render(request, "staff/detail.html", _detail_context(request, app, user.actor()))


def _int_or_none(value: str) -> int | None:
    return int(value) if value.isdigit() else None


@blocking
def action(request: Request) -> Response:
    """POST /staff/apps/{app_id}/{action}: one CSRF-protected form per action, with the version seen."""
    user = _staff(request)
    check_csrf(request)
    form = posted_form(request)
    name = request.path_params["action"]
    app_id = request.path_params["app_id"]
    services = web(request).services
    actor = user.actor()
    if name not in STAFF_ACTIONS:
        raise InvalidInput(f"未知的操作：{name}", f"unknown action {name!r}", field="action")
    try:
        if name in CONFIRMED_ACTIONS and form.get("confirm") != "yes":
            require_role(actor, name)  # the role first, then the branch, as for every action
            services.applications.get(app_id, actor)
            raise InvalidInput("请勾选确认后再提交。", "Tick the confirmation box first.", field="confirm")
        services.applications.perform(
            app_id, name, actor, version=_int_or_none(text(form, "version")), note=text(form, "note"),
            reasons=[r for r in form.getlist("reasons") if isinstance(r, str)],
            tracking_no=text(form, "tracking_no"), acceptance_no=text(form, "acceptance_no"),
            step=text(form, "step"), item=_int_or_none(text(form, "item")),
            unmade_reason=text(form, "unmade_reason"))
    except EportError as exc:
        app = services.applications.get(app_id, actor)  # refuses (403) when the actor may not see it
        return render(request, "staff/detail.html", _detail_context(request, app, actor)
                      | {"errors": error_lines(exc)}, status=status_for(exc))
    return _redirect(f"/staff/apps/{app_id}?done={name}")


@blocking
def personalize(request: Request) -> Response:
    """POST /staff/apps/{app_id}/personalize: make item ``item``'s card in the reader (CSRF, version)."""
    user = _staff(request)
    check_csrf(request)
    actor = user.actor()
    require_role(actor, "make")  # before the form, the application or the reader: a reviewer gets 403
    form = posted_form(request)
    app_id = request.path_params["app_id"]
    services = web(request).services
    try:
        if not services.cards.enabled:
            raise Forbidden(*pair("staff.personalise.no_service"), field="card")
        item = _int_or_none(text(form, "item"))
        if item is None:
            raise InvalidInput("请选择要制作的卡。", "Choose the card to make.", field="item")
        # Branch, state, item and version are checked before the reader is opened.
        made = services.cards.counter.personalize_at_reader(app_id, item, text(form, "reader"), actor,
                                                            _int_or_none(text(form, "version")))
    except EportError as exc:
        app = services.applications.get(app_id, actor)
        return render(request, "staff/detail.html", _detail_context(request, app, actor)
                      | {"errors": error_lines(exc)}, status=status_for(exc))
    return _redirect(f"/staff/apps/{app_id}?{urlencode({'done': 'personalize', 'card': made.id})}")


@blocking
def attachment(request: Request) -> Response:
    from core.web.portal import content_disposition

    user = _staff(request)
    att, content = web(request).services.applications.attachment(request.path_params["att_id"], user.actor())
    return Response(content, media_type=att.media_type, headers={
        "Content-Disposition": content_disposition(att.filename), "Cache-Control": "private, no-store"})


routes: list[BaseRoute] = [
    Route("/staff/login", login_page, methods=["GET", "POST"], name="staff_login"),
    Route("/staff", queue_page, name="staff_queue"),
    Route("/staff/apps/{app_id}", detail_page, name="staff_application"),
    Route("/staff/apps/{app_id}/personalize", personalize, methods=["POST"], name="staff_personalize"),
    Route("/staff/apps/{app_id}/{action}", action, methods=["POST"], name="staff_action"),
    Route("/staff/attachments/{att_id}", attachment, name="staff_attachment"),
]

__all__ = ["CONFIRMED_ACTIONS", "STAFF_ACTIONS", "routes"]
