"""Forgotten password of an enterprise administrator: an SMS code to the account's registered mobile.

Step one asks for the username and that mobile number and always answers the same way, whether or
not they match an account, so the page tells nobody which usernames exist; a code goes out only when
they match (the SMS gateway's 60-second resend guard applies). Step two takes the code and the new
password; the code is used up only when the password is acceptable. The account's failed-login count
is cleared and its sessions end (the session epoch). Refusals count against the client address like
failed logins.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from core.errors import EportError, Forbidden, InvalidInput
from core.services import sms
from core.store.accounts import Accounts, User
from core.web.app import status_for
from core.web.auth import check_password, hash_password
from core.web.forms import text
from core.web.render import bilingual, client_address, error_lines, render, web
from core.web.security import require_csrf


def _purpose(user: User) -> str:
    return f"reset-password:{user.id}"


def _account(request: Request, username: str, mobile: str) -> User | None:
    with web(request).services.store.transaction(readonly=True) as tx:
        user = Accounts(tx).by_username(username.strip())
    if user is None or user.kind != "enterprise" or not user.mobile or user.mobile != mobile.strip():
        return None
    return user


def _page(request: Request, form: dict[str, str], *, sent: bool = False, errors: list[EportError] | None = None,
          status: int = 200) -> Response:
    return render(request, "portal/password_reset.html", {
        "form": form, "sent": sent, "errors": errors or [], "L": bilingual(request)}, status=status)


async def reset_page(request: Request) -> Response:
    return _page(request, {})


async def _posted(request: Request) -> tuple[Any, dict[str, str], str]:
    """The CSRF-checked form, the username and mobile it carries and the client's address; refused
    while that address has failed too often (as logins are)."""
    await require_csrf(request)
    form = await request.form()
    sms.require_gateway(web(request).sms)  # before any account is looked up: the same answer for all
    address = client_address(request)
    if web(request).limiter.blocked(address, web(request).services.clock()):
        raise Forbidden("尝试次数过多，请15分钟后再试。", "Too many tries; try again in 15 minutes.", field="username")
    return form, {"username": text(form, "username"), "mobile": text(form, "mobile")}, address


async def send_code(request: Request) -> Response:
    _, kept, address = await _posted(request)
    state = web(request)
    user = _account(request, kept["username"], kept["mobile"])
    if user is None:
        state.limiter.failed(address, state.services.clock())
    else:
        try:
            sms.send_code(state.services, state.sms, state.secret, user.mobile, _purpose(user),
                          sms.Asker(f"enterprise:{user.username}", address))
        except EportError as exc:  # asked again within 60 seconds
            return _page(request, kept, sent=True, errors=error_lines(exc), status=status_for(exc))
    return _page(request, kept, sent=True)


async def set_password(request: Request) -> Response:
    form, kept, address = await _posted(request)
    state = web(request)
    try:
        password = text(form, "password")
        if password != text(form, "password2"):
            raise InvalidInput("两次输入的密码不一致。", "The two passwords differ.", field="password2")
        check_password(password)
        user = _account(request, kept["username"], kept["mobile"])
        if user is None:  # as a wrong code would: the page does not tell which usernames exist
            state.limiter.failed(address, state.services.clock())
            raise Forbidden("短信验证码不正确。", "The SMS code is wrong.", field="sms_code")
        sms.verify_code(state.services, state.sms, state.secret, user.mobile, _purpose(user), text(form, "sms_code"))
        with state.services.store.transaction() as tx:
            accounts = Accounts(tx)
            changed = accounts.change(user, password_hash=hash_password(password))
            accounts.clear_failures(changed)
            tx.audit.append(f"enterprise:{user.username}", "reset_password", "user", user.id,
                            {"username": user.username, "by": "sms"})
    except EportError as exc:
        return _page(request, kept, sent=True, errors=error_lines(exc), status=status_for(exc))
    return RedirectResponse("/portal/login?reset=1", status_code=303)


routes: list[BaseRoute] = [
    Route("/portal/password-reset", reset_page, methods=["GET"], name="password_reset"),
    Route("/portal/password-reset/code", send_code, methods=["POST"], name="password_reset_code"),
    Route("/portal/password-reset", set_password, methods=["POST"], name="password_reset_set"),
]

__all__ = ["routes"]
