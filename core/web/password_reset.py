"""Forgotten password of an enterprise administrator: an SMS code to the account's registered mobile.

Step one asks for the username and that mobile number and always answers the same way, whether or
not they match an account, so the page tells nobody which usernames exist; a code goes out only when
they match (the SMS gateway's 60-second resend guard applies). Step two takes the code and the new
password; the code is used up only when the password is acceptable. The account's failed-login count
is cleared and its sessions end (the session epoch). Refusals count against the client address like
failed logins.
"""

from __future__ import annotations

import contextlib
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from core.errors import EportError, Forbidden, InvalidInput
from core.services import sms
from core.services.accounts import (
    address_blocked,
    check_password,
    count_address_try,
    reset_password,
    throttled,
)
from core.store.accounts import Accounts, User
from core.web.app import status_for
from core.web.forms import text
from core.web.render import error_lines, render, web
from core.web.security import client_address, require_csrf


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
        "form": form, "sent": sent, "errors": errors or []}, status=status)


async def reset_page(request: Request) -> Response:
    return _page(request, {})


async def _posted(request: Request) -> tuple[Any, dict[str, str], str]:
    """The CSRF-checked form, the username and mobile it carries and the client's address; refused
    while that address has failed too often (as logins are)."""
    await require_csrf(request)
    form = await request.form()
    sms.require_gateway(web(request).sms)  # before any account is looked up: the same answer for all
    address = client_address(request)
    if address_blocked(web(request).services, address):
        raise throttled()
    return form, {"username": text(form, "username"), "mobile": text(form, "mobile")}, address


async def send_code(request: Request) -> Response:
    _, kept, address = await _posted(request)
    state = web(request)
    user = _account(request, kept["username"], kept["mobile"])
    if user is None:
        count_address_try(state.services, address)
    else:
        # Asked again too soon or too often: said to nobody, or the answer would tell the account exists.
        with contextlib.suppress(EportError):
            sms.send_code(state.services, state.sms, state.secret, user.mobile, _purpose(user),
                          sms.Asker(f"enterprise:{user.username}", address))
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
        try:
            if user is None:
                raise Forbidden("", "", field="sms_code")
            sms.verify_code(state.services, state.sms, state.secret, user.mobile, _purpose(user),
                            text(form, "sms_code"))
        except Forbidden as exc:
            # One answer for a wrong, used-up or never-sent code, and for details matching no account.
            count_address_try(state.services, address)
            raise Forbidden("短信验证码不正确或已失效，请重新获取。", "The SMS code is wrong or has expired; ask for a "
                            "new one.", field="sms_code") from exc
        reset_password(state.services, user, password)
    except EportError as exc:
        return _page(request, kept, sent=True, errors=error_lines(exc), status=status_for(exc))
    return RedirectResponse("/portal/login?reset=1", status_code=303)


routes: list[BaseRoute] = [
    Route("/portal/password-reset", reset_page, methods=["GET"], name="password_reset"),
    Route("/portal/password-reset/code", send_code, methods=["POST"], name="password_reset_code"),
    Route("/portal/password-reset", set_password, methods=["POST"], name="password_reset_set"),
]

__all__ = ["routes"]
