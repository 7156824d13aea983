"""Staff accounts of a branch: the branch administrator's page (``/staff/accounts``).

The rules are ``services.accounts``'s (shared with the ``eportcard staff`` command line): a branch
administrator manages the accounts of their own branch only; they may not disable their own account or
take the administrator role from it, and no change leaves a branch without an enabled administrator.
Every change is audited, and a changed account's sessions end at their next request.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from core.errors import EportError, InvalidInput
from core.services.accounts import require_account_admin
from core.services.actors import STAFF_ROLES
from core.web.auth import SessionUser, require_user
from core.web.forms import text
from core.web.handlers import blocking, posted_form
from core.web.i18n import t
from core.web.render import error_lines, lang_of, render, web
from core.web.security import check_csrf
from core.web.status import status_for


def _admin(request: Request) -> SessionUser:
    """The logged-in branch administrator (checked first, before the form is read)."""
    user = require_user(request, "staff")
    require_account_admin(user.actor())
    return user


def _roles(form: Any) -> list[str]:
    return [r for r in form.getlist("roles") if isinstance(r, str)]


def _page(request: Request, admin: SessionUser, *, errors: list[EportError] | None = None, status: int = 200,
          form: dict[str, Any] | None = None) -> Response:
    staff = web(request).services.accounts.staff(admin.actor())
    lang = lang_of(request)
    return render(request, "staff/accounts.html", {
        "staff": staff, "admin": admin, "roles": list(STAFF_ROLES), "errors": errors or [], "form": form or {},
        "role_name": lambda r: t(f"role.{r}", lang),
        "done": request.query_params.get("done", "")}, status=status)


@blocking
def accounts_page(request: Request) -> Response:
    return _page(request, _admin(request))


@blocking
def add_account(request: Request) -> Response:
    admin = _admin(request)
    check_csrf(request)
    form = posted_form(request)
    try:
        web(request).services.accounts.add_staff(admin.actor(), text(form, "username"), text(form, "password"),
                                                 admin.region, _roles(form), text(form, "display_name"))
    except EportError as exc:
        kept: dict[str, Any] = {k: text(form, k) for k in ("username", "display_name")} | {"roles": _roles(form)}
        return _page(request, admin, errors=error_lines(exc), status=status_for(exc), form=kept)
    return RedirectResponse("/staff/accounts?done=added", status_code=303)


@blocking
def change_account(request: Request) -> Response:
    admin = _admin(request)
    check_csrf(request)
    form = posted_form(request)
    username, operation = request.path_params["username"], request.path_params["operation"]
    try:
        if operation == "disable" and form.get("confirm") != "yes":  # 停用 ends the account's sessions at once
            raise InvalidInput("请勾选确认后再停用。", "Tick the confirmation box first.", field="confirm")
        web(request).services.accounts.change_staff(admin.actor(), username, operation, roles=_roles(form),
                                                    password=text(form, "password"))
    except EportError as exc:
        return _page(request, admin, errors=error_lines(exc), status=status_for(exc))
    return RedirectResponse(f"/staff/accounts?done={operation}", status_code=303)


routes: list[BaseRoute] = [
    Route("/staff/accounts", accounts_page, methods=["GET"], name="staff_accounts"),
    Route("/staff/accounts", add_account, methods=["POST"], name="staff_accounts_add"),
    Route("/staff/accounts/{username}/{operation}", change_account, methods=["POST"], name="staff_accounts_change"),
]

__all__ = ["routes"]
