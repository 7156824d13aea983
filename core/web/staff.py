"""The staff console: login, the branch queue, application detail with the actions a role allows,
attachments and the audit trail.

Every read and change goes through ``ApplicationService`` with the session's Actor, so branch scope
and role checks are the services' (``core.services.actors.STAFF_ROLES``), shared with the CLI and
the JSON API. Each action form carries the application version: a stale page gets the conflict
message instead of overwriting someone else's change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from core import lifecycle
from core.errors import ConflictError, EportError, Forbidden, InvalidInput
from core.labels import pair
from core.model import Application, AppState, Card, Delivery, Pickup, RejectionReason
from core.rules import Step
from core.services import Actor, Services, require_role
from core.services.applications import QueueRow, QueueSummary
from core.store.blobs import is_archived
from core.store.records import AuditEntry
from core.web.auth import SessionUser, login, require_user
from core.web.forms import text
from core.web.i18n import pick
from core.web.render import PAGE_SIZE, error_lines, lang_of, page_number, render, web
from core.web.security import client_address, require_csrf

# The transitions staff perform, in the order the console shows them.
MOVE_ACTIONS = ("accept", "reject", "require_medium", "provide_medium", "start_production", "complete")
DELIVERY_ACTIONS = ("ship", "hand_over")
STAFF_ACTIONS = (*MOVE_ACTIONS, *DELIVERY_ACTIONS, "step", "make")
QUEUE_STATES = [s for s in AppState if s not in (AppState.DRAFT, AppState.DELETED)]


# ---- what a staff member may do now ---------------------------------------------------------------------

def region_steps(services: Services, app: Application) -> list[Step]:
    """The region's steps for this business on the application's channel (as the service sees them)."""
    return [s for s in services.rulebook.steps(app.region, app.business) if s.applies_to(app.channel)]


def pending_steps(services: Services, app: Application) -> list[Step]:
    return lifecycle.pending_steps(app, region_steps(services, app))


def available_actions(services: Services, app: Application, actor: Actor) -> list[str]:
    """Actions the actor's roles allow that the application's state allows too.

    Region steps that block a move are still shown as a step action; the move itself is offered
    and the service explains what is missing if it is tried too early.
    """
    if actor.kind == "staff" and actor.region != app.region:
        return []
    actions = [a for a in MOVE_ACTIONS if app.state in lifecycle.MOVES[a].sources and actor.may(a)]
    if app.state is AppState.COMPLETED:
        for action in DELIVERY_ACTIONS:
            sources, _target = lifecycle.DELIVERY_MOVES[action]
            if app.delivery in sources and actor.may(action) \
                    and (action != "ship" or app.pickup.method is Pickup.MAIL):
                actions.append(action)
    if pending_steps(services, app) and actor.may("step"):
        actions.append("step")
    if app.state is AppState.IN_PRODUCTION and actor.may("make") and any(not i.made for i in app.items):
        actions.append("make")
    return actions


def perform(services: Services, actor: Actor, app_id: str, action: str, *, version: int | None,
            note: str = "", reasons: Iterable[str] = (), tracking_no: str = "", acceptance_no: str = "",
            step: str = "", item: int | None = None) -> Application:
    """Run one staff action through the service (the console's forms and the JSON API both call this)."""
    if action in STAFF_ACTIONS:
        require_role(actor, action)  # before the input is checked: a role that may not act gets 403
    apps = services.applications
    if action == "accept":
        return apps.accept(app_id, actor, note, expected_version=version)
    if action == "reject":
        chosen = list(reasons)
        unknown = [r for r in chosen if r not in RejectionReason._value2member_map_]
        if unknown:
            raise InvalidInput(f"未知的退单原因：{', '.join(unknown)}", f"unknown rejection reasons: {', '.join(unknown)}",
                               field="reasons")
        return apps.reject(app_id, actor, chosen, note, expected_version=version)
    if action in ("require_medium", "provide_medium", "start_production", "complete"):
        return getattr(apps, action)(app_id, actor, note, expected_version=version)
    if action == "ship":
        return apps.ship(app_id, tracking_no.strip(), actor, expected_version=version)
    if action == "hand_over":
        if not acceptance_no.strip():
            raise InvalidInput("请核对并填写回执上的受理编号。", "Check the receipt and enter its acceptance number.",
                               field="acceptance_no")
        return apps.hand_over(app_id, actor, acceptance_no.strip().upper(), expected_version=version)
    if action == "step":
        if not step:
            raise InvalidInput("请选择要完成的步骤。", "Choose the step to complete.", field="step")
        return apps.complete_step(app_id, step, actor, note, expected_version=version)
    if action == "make":
        if item is None or item < 0:
            raise InvalidInput("请选择要登记制卡的卡。", "Choose the card that was made.", field="item")
        current = apps.get(app_id, actor)
        if version is not None and version != current.version:
            raise stale(current.version, version)
        return apps.mark_made(app_id, item, actor)
    raise InvalidInput(f"未知的操作：{action}", f"unknown action {action!r}", field="action")


def stale(current: int, seen: int) -> ConflictError:
    """The service's wording for a page that shows an older version."""
    return ConflictError(f"申请单已被他人修改（版本 {current}，您看到的是 {seen}），请刷新后重试",
                         f"the application changed meanwhile (version {current}, you saw {seen}); "
                         "reload and try again", field="version")


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


def audit_trail(services: Services, app_id: str, actor: Actor) -> list[AuditEntry]:
    """The application's audit entries (payloads are PII-masked when written); staff of its branch only."""
    if actor.kind not in ("staff", "system"):
        raise Forbidden("审计记录仅供工作人员查看", "only staff may read the audit trail", field="application")
    services.applications.get(app_id, actor)  # branch scope, same refusal for unknown ids
    with services.store.transaction(readonly=True) as tx:
        return tx.audit.for_entity("application", app_id)


def queue_rows(services: Services, actor: Actor, state: str = "", search: str = "", page: int = 1,
               per_page: int = PAGE_SIZE) -> tuple[list[QueueRow], bool]:
    """One page of the branch queue (sorted by due date) and whether another page follows."""
    rows = services.applications.queue(actor, _queue_states(state), limit=per_page + 1,
                                       offset=(page - 1) * per_page, search=search or None)
    return rows[:per_page], len(rows) > per_page


def queue_summary_rows(services: Services, actor: Actor, state: str = "", search: str = "", page: int = 1,
                       per_page: int = PAGE_SIZE) -> tuple[list[QueueSummary], bool]:
    """:func:`queue_rows` as list-row summaries (the JSON queue needs no whole aggregates)."""
    rows = services.applications.queue_summaries(actor, _queue_states(state), limit=per_page + 1,
                                                 offset=(page - 1) * per_page, search=search or None)
    return rows[:per_page], len(rows) > per_page


def _queue_states(state: str) -> list[AppState] | None:
    if not state:
        return None
    try:
        return [AppState(state)]
    except ValueError:
        raise InvalidInput(f"未知的状态：{state}", f"unknown state {state!r}", field="state") from None


# ---- pages ------------------------------------------------------------------------------------------------

def _staff(request: Request) -> SessionUser:
    return require_user(request, "staff")


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _context(request: Request, extra: Mapping[str, Any]) -> dict[str, Any]:
    lang = lang_of(request)
    return {"pick": lambda value: pick(value, lang), "reason_choices": list(RejectionReason), **extra}


async def login_page(request: Request) -> Response:
    context = _context(request, {"form": {}, "next": request.query_params.get("next", "")})
    if request.method == "GET":
        return render(request, "staff/login.html", context)
    await require_csrf(request)
    form = await request.form()
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


async def queue_page(request: Request) -> Response:
    user = _staff(request)
    services = web(request).services
    query = request.query_params
    state, search = query.get("state", ""), query.get("q", "").strip()
    page = page_number(query.get("page"))
    context = _context(request, {"state": state, "q": search, "page": page, "states": QUEUE_STATES,
                                 "staff_user": user, "rows": [], "more": False})
    try:
        rows, more = queue_summary_rows(services, user.actor(), state, search, page)  # no whole aggregates
    except EportError as exc:
        return render(request, "staff/queue.html", context | {"errors": error_lines(exc)}, status=400)

    def page_url(n: int) -> str:
        return "/staff?" + urlencode({k: v for k, v in {"state": state, "q": search, "page": n}.items() if v})

    return render(request, "staff/queue.html", context | {"rows": rows, "more": more, "page_url": page_url})


def _detail_context(request: Request, app: Application, actor: Actor) -> dict[str, Any]:
    services = web(request).services
    with services.store.transaction(readonly=True) as tx:
        attachments = tx.attachments.for_application(app.id)
        audit = tx.audit.for_entity("application", app.id)
    archived = is_archived(app.submitted_at, services.clock(), services.settings.storage.archive_after_days)
    actions = available_actions(services, app, actor)
    return _context(request, {
        "personalise": personalise_context(request, app, actions), "made_card": _made_card(request, app),
        "app": app, "attachments": attachments, "archived": archived, "audit": audit,
        "dues": services.applications.deadlines(app), "actions": actions,
        "pending_steps": pending_steps(services, app), "steps": region_steps(services, app),
        "today": services.today(), "overdue": app.due is not None and app.due < services.today()
        and app.state not in (AppState.COMPLETED, AppState.REJECTED, AppState.DELETED),
        "is_mail": app.pickup.method is Pickup.MAIL, "delivery_names": {d: d.value for d in Delivery},
        "done": bool(request.query_params.get("done"))})


def _made_card(request: Request, app: Application) -> Card | None:
    """The card just personalised for this application (``?card=`` after the redirect), if it is one."""
    card_id = request.query_params.get("card", "")
    return web(request).services.cards.made_for(app, card_id) if card_id else None


async def detail_page(request: Request) -> Response:
    user = _staff(request)
    app = web(request).services.applications.get(request.path_params["app_id"], user.actor())
    return render(request, "staff/detail.html", _detail_context(request, app, user.actor()))


def _int_or_none(value: str) -> int | None:
    return int(value) if value.isdigit() else None


async def action(request: Request) -> Response:
    """POST /staff/apps/{app_id}/{action}: one CSRF-protected form per action, with the version seen."""
    user = _staff(request)
    await require_csrf(request)
    form = await request.form()
    name = request.path_params["action"]
    app_id = request.path_params["app_id"]
    services = web(request).services
    actor = user.actor()
    if name not in STAFF_ACTIONS:
        raise InvalidInput(f"未知的操作：{name}", f"unknown action {name!r}", field="action")
    try:
        perform(services, actor, app_id, name, version=_int_or_none(text(form, "version")),
                note=text(form, "note"), reasons=[r for r in form.getlist("reasons") if isinstance(r, str)],
                tracking_no=text(form, "tracking_no"), acceptance_no=text(form, "acceptance_no"),
                step=text(form, "step"), item=_int_or_none(text(form, "item")))
    except EportError as exc:
        from core.web.app import status_for

        app = services.applications.get(app_id, actor)  # refuses (403) when the actor may not see it
        return render(request, "staff/detail.html", _detail_context(request, app, actor)
                      | {"errors": error_lines(exc)}, status=status_for(exc))
    return _redirect(f"/staff/apps/{app_id}?done={name}")


async def personalize(request: Request) -> Response:
    """POST /staff/apps/{app_id}/personalize: make item ``item``'s card in the reader (CSRF, version)."""
    from starlette.concurrency import run_in_threadpool

    user = _staff(request)
    await require_csrf(request)
    actor = user.actor()
    require_role(actor, "make")  # before the form, the application or the reader: a reviewer gets 403
    form = await request.form()
    app_id = request.path_params["app_id"]
    services = web(request).services
    try:
        if not services.cards.enabled:
            raise Forbidden(*pair("staff.personalise.no_service"), field="card")
        item = _int_or_none(text(form, "item"))
        if item is None:
            raise InvalidInput("请选择要制作的卡。", "Choose the card to make.", field="item")
        # Branch, state, item and version are checked before the reader is opened.
        made = await run_in_threadpool(services.cards.counter.personalize_at_reader, app_id, item,
                                       text(form, "reader"), actor, _int_or_none(text(form, "version")))
    except EportError as exc:
        from core.web.app import status_for

        app = services.applications.get(app_id, actor)
        return render(request, "staff/detail.html", _detail_context(request, app, actor)
                      | {"errors": error_lines(exc)}, status=status_for(exc))
    return _redirect(f"/staff/apps/{app_id}?{urlencode({'done': 'personalize', 'card': made.id})}")


async def attachment(request: Request) -> Response:
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

__all__ = ["DELIVERY_ACTIONS", "MOVE_ACTIONS", "STAFF_ACTIONS", "audit_trail",
           "available_actions", "pending_steps", "perform", "queue_rows", "queue_summary_rows", "region_steps",
           "routes"]
