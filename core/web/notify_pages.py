"""Notices and scheduled jobs on the web: the staff's jobs, failed notices (with a retry button) and
expiring certificates (with a CSV export); the enterprise's choice of SMS, e-mail or both.

Each handler reads the form, calls one service method and renders; the rules (who may see what,
what a valid choice is) are the services' (core/services/notify.py, notify_reminders.py, jobs.py).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from core.deadlines import china_date
from core.errors import EportError, InvalidInput
from core.services.jobs import Scheduler
from core.services.notify_reminders import expiring, expiring_csv
from core.web.auth import SessionUser, require_user
from core.web.forms import text
from core.web.handlers import blocking, posted_form
from core.web.render import error_lines, render, web
from core.web.security import check_csrf
from core.web.status import status_for

MAX_DAYS = 3660


def _staff(request: Request) -> SessionUser:
    return require_user(request, "staff")


def _days(value: str | None) -> int | None:
    if not value:
        return None
    if not value.isdigit() or not 1 <= int(value) <= MAX_DAYS:
        raise InvalidInput(f"天数应为 1 到 {MAX_DAYS} 之间的整数。", f"The days must be a whole number from 1 to {MAX_DAYS}.",
                           field="within")
    return int(value)


@blocking
def jobs_page(request: Request) -> Response:
    user = _staff(request)
    services = web(request).services
    return render(request, "staff/jobs.html", {"jobs": Scheduler(services).status(user.actor()),
                                               "counts": services.notifications.counts(user.actor())})


def _messages(request: Request, user: SessionUser, errors: list[EportError] | None = None, status: int = 200
              ) -> Response:
    services = web(request).services
    return render(request, "staff/messages.html", {
        "messages": services.notifications.dead_letters(user.actor()), "errors": errors or [],
        "done": request.query_params.get("done", "")}, status=status)


@blocking
def messages_page(request: Request) -> Response:
    return _messages(request, _staff(request))


@blocking
def retry_message(request: Request) -> Response:
    user = _staff(request)
    check_csrf(request)
    raw = request.path_params["message_id"]
    try:
        web(request).services.notifications.retry(user.actor(), int(raw) if raw.isdigit() else -1)
    except EportError as exc:
        return _messages(request, user, error_lines(exc), status_for(exc))
    return RedirectResponse("/staff/messages?done=retried", status_code=303)


@blocking
def expiring_page(request: Request) -> Response:
    user = _staff(request)
    services = web(request).services
    within = request.query_params.get("within", "")
    try:
        rows = expiring(services, user.actor(), _days(within), limit=200)
    except EportError as exc:
        return render(request, "staff/expiring.html", {"rows": [], "within": within, "errors": error_lines(exc)},
                      status=status_for(exc))
    return render(request, "staff/expiring.html", {"rows": rows, "within": within, "china_date": china_date})


@blocking
def expiring_export(request: Request) -> Response:
    user = _staff(request)
    services = web(request).services
    lines = list(expiring_csv(services, user.actor(), _days(request.query_params.get("within"))))
    return StreamingResponse(iter(lines), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="expiring-certificates.csv"', "Cache-Control": "private, no-store"})


def _notify_form(request: Request, user: SessionUser, form: dict[str, str] | None = None,
                 errors: list[EportError] | None = None, status: int = 200) -> Response:
    choice = web(request).services.notifications.choice(user.actor())
    shown = form or {"channels": choice.channels, "mobile": choice.mobile, "email": choice.email,
                     "sms_language": choice.sms_language}
    return render(request, "portal/notify.html", {"form": shown, "choice": choice, "errors": errors or [],
                                                  "done": request.query_params.get("done", "")}, status=status)


@blocking
def notify_settings(request: Request) -> Response:
    user = require_user(request, "enterprise")
    if request.method == "GET":
        return _notify_form(request, user)
    check_csrf(request)
    form = posted_form(request)
    values = {key: text(form, key) for key in ("channels", "mobile", "email", "sms_language")}
    try:
        web(request).services.notifications.set_choice(user.actor(), **values)
    except EportError as exc:
        return _notify_form(request, user, values, error_lines(exc), status_for(exc))
    return RedirectResponse("/portal/notify?done=saved", status_code=303)


routes: list[BaseRoute] = [
    Route("/staff/jobs", jobs_page, name="staff_jobs"),
    Route("/staff/messages", messages_page, name="staff_messages"),
    Route("/staff/messages/{message_id}/retry", retry_message, methods=["POST"], name="staff_message_retry"),
    Route("/staff/expiring", expiring_page, name="staff_expiring"),
    Route("/staff/expiring.csv", expiring_export, name="staff_expiring_csv"),
    Route("/portal/notify", notify_settings, methods=["GET", "POST"], name="portal_notify"),
]

__all__ = ["routes"]
