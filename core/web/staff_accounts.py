"""Staff accounts of a branch: the branch administrator's page (``/staff/accounts``) and the two
operations it shares with the ``eportcard staff`` command line (add, change).

A branch administrator manages the accounts of their own branch only; they may not disable their own
account or take the administrator role from it (a branch must not lock itself out). Every change is
audited, and a changed account's sessions end at their next request (the session epoch).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from core.errors import EportError, Forbidden, InvalidInput, NotFound
from core.services import Services
from core.services.accounts import check_password, create_user, hash_password
from core.services.actors import STAFF_ROLES
from core.store.accounts import Accounts, User
from core.web.app import status_for
from core.web.auth import SessionUser, require_user
from core.web.forms import text
from core.web.i18n import t
from core.web.render import error_lines, lang_of, render, web
from core.web.security import require_csrf

ADMIN_ROLE = "branch_admin"
ACTIONS = {"roles": "set_roles", "password": "set_password", "disable": "disable", "enable": "enable"}  # audited as


# ---- shared with the CLI ---------------------------------------------------------------------------------------

def add_staff(services: Services, username: str, password: str, region: str, roles: Iterable[str],
              display_name: str = "") -> User:
    """A new staff account of an enabled region (the ``register`` audit entry is create_user's)."""
    if region not in services.rulebook.regions():
        raise InvalidInput(f"本部署未启用地区 {region}", f"the region {region!r} is not enabled here", field="region")
    chosen = list(roles)
    if not chosen:
        raise InvalidInput("请至少选择一个角色", "choose at least one role", field="roles")
    return create_user(services, username, password, "staff", region=region, roles=chosen,
                       display_name=display_name)


def change_staff(services: Services, by: str, username: str, action: str, *, region: str | None = None,
                 **change: Any) -> User:
    """Apply ``change`` (roles / password_hash / disabled) to a staff account, of ``region`` when given;
    one transaction, audited as ``action`` by ``by`` (never the hash); its sessions end."""
    with services.store.transaction() as tx:
        accounts = Accounts(tx)
        user = accounts.by_username(username.strip())
        if user is None or user.kind != "staff" or (region is not None and user.region != region):
            raise NotFound(f"没有工作人员账号“{username}”", f"no staff account {username!r}", field="username")
        changed = accounts.change(user, **change)
        details = {k: sorted(v) if k == "roles" else v for k, v in change.items() if k != "password_hash"}
        tx.audit.append(by, action, "user", changed.id, {"username": changed.username, **details})
    return changed


# ---- the page ---------------------------------------------------------------------------------------------------

def _admin(request: Request) -> SessionUser:
    user = require_user(request, "staff")
    if ADMIN_ROLE not in user.roles:
        raise Forbidden("仅分中心管理员可以管理工作人员账号", "only a branch administrator manages staff accounts",
                        field="roles")
    return user


def _roles(form: Any) -> list[str]:
    chosen = [r for r in form.getlist("roles") if isinstance(r, str)]
    unknown = sorted(set(chosen) - set(STAFF_ROLES))
    if unknown:
        raise InvalidInput(f"未知的角色：{', '.join(unknown)}", f"unknown roles: {', '.join(unknown)}", field="roles")
    if not chosen:
        raise InvalidInput("请至少选择一个角色", "choose at least one role", field="roles")
    return chosen


def _page(request: Request, admin: SessionUser, *, errors: list[EportError] | None = None, status: int = 200,
          form: dict[str, str] | None = None) -> Response:
    with web(request).services.store.transaction(readonly=True) as tx:
        staff = Accounts(tx).staff(admin.region)
    lang = lang_of(request)
    return render(request, "staff/accounts.html", {
        "staff": staff, "admin": admin, "roles": list(STAFF_ROLES), "errors": errors or [], "form": form or {},
        "role_name": lambda r: t(f"role.{r}", lang),
        "done": request.query_params.get("done", "")}, status=status)


async def accounts_page(request: Request) -> Response:
    return _page(request, _admin(request))


async def add_account(request: Request) -> Response:
    admin = _admin(request)
    await require_csrf(request)
    form = await request.form()
    try:
        add_staff(web(request).services, text(form, "username"), text(form, "password"), admin.region,
                  _roles(form), text(form, "display_name"))
    except EportError as exc:
        kept = {k: text(form, k) for k in ("username", "display_name")}
        return _page(request, admin, errors=error_lines(exc), status=status_for(exc), form=kept)
    return RedirectResponse("/staff/accounts?done=added", status_code=303)


async def change_account(request: Request) -> Response:
    admin = _admin(request)
    await require_csrf(request)
    form = await request.form()
    username, operation = request.path_params["username"], request.path_params["operation"]
    try:
        change = _change_for(operation, form)
        own = username == admin.username
        if own and (change.get("disabled") or ("roles" in change and ADMIN_ROLE not in change["roles"])):
            raise InvalidInput("不能停用自己的账号或取消自己的管理员角色",
                               "you cannot disable your own account or drop your own administrator role",
                               field="username")
        change_staff(web(request).services, f"staff:{admin.username}", username, ACTIONS[operation],
                     region=admin.region, **change)
    except EportError as exc:
        return _page(request, admin, errors=error_lines(exc), status=status_for(exc))
    return RedirectResponse(f"/staff/accounts?done={operation}", status_code=303)


def _change_for(operation: str, form: Any) -> dict[str, Any]:
    if operation == "roles":
        return {"roles": frozenset(_roles(form))}
    if operation == "password":
        password = text(form, "password")
        check_password(password)
        return {"password_hash": hash_password(password)}
    if operation in ("disable", "enable"):
        return {"disabled": operation == "disable"}
    raise InvalidInput(f"未知的操作：{operation}", f"unknown operation {operation!r}", field="operation")


routes: list[BaseRoute] = [
    Route("/staff/accounts", accounts_page, methods=["GET"], name="staff_accounts"),
    Route("/staff/accounts", add_account, methods=["POST"], name="staff_accounts_add"),
    Route("/staff/accounts/{username}/{operation}", change_account, methods=["POST"], name="staff_accounts_change"),
]

__all__ = ["ACTIONS", "ADMIN_ROLE", "add_staff", "change_staff", "routes"]
