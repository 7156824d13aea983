"""Forgotten password of an enterprise administrator: an SMS code to the account's registered mobile.

Step one asks for the username and that mobile number and always answers the same way, whether or
not they match an account, so the page tells nobody which usernames exist; a code goes out only when
they match (the SMS gateway's 60-second resend guard applies). Step two takes the code and the new
password; the code is used up only when the password is acceptable. The account's failed-login count
is cleared and its sessions end (the session epoch). Refusals count against the client address like
failed logins. The rules and the work are ``services.accounts``'s; this module reads the forms and renders.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from core.errors import EportError
from core.web.forms import text
from core.web.handlers import blocking, posted_form
from core.web.render import error_lines, render, web
from core.web.security import check_csrf, client_address
from core.web.status import status_for


def _page(request: Request, form: dict[str, str], *, sent: bool = False, errors: list[EportError] | None = None,
          status: int = 200) -> Response:
    return render(request, "portal/password_reset.html", {
        "form": form, "sent": sent, "errors": errors or []}, status=status)


@blocking
def reset_page(request: Request) -> Response:
    return _page(request, {})


def _posted(request: Request) -> tuple[Any, dict[str, str]]:
    """The CSRF-checked form and the username and mobile it carries."""
    check_csrf(request)
    form = posted_form(request)
    return form, {"username": text(form, "username"), "mobile": text(form, "mobile")}


@blocking
def send_code(request: Request) -> Response:
    _, kept = _posted(request)
    state = web(request)
    state.services.accounts.send_reset_code(state.sms, state.secret, kept["username"], kept["mobile"],
                                            client_address(request))
    return _page(request, kept, sent=True)


@blocking
def set_password(request: Request) -> Response:
    form, kept = _posted(request)
    state = web(request)
    try:
        state.services.accounts.reset_forgotten_password(
            state.sms, state.secret, kept["username"], kept["mobile"], text(form, "sms_code"),
            text(form, "password"), text(form, "password2"), client_address(request))
    except EportError as exc:
        return _page(request, kept, sent=True, errors=error_lines(exc), status=status_for(exc))
    return RedirectResponse("/portal/login?reset=1", status_code=303)


routes: list[BaseRoute] = [
    Route("/portal/password-reset", reset_page, methods=["GET"], name="password_reset"),
    Route("/portal/password-reset/code", send_code, methods=["POST"], name="password_reset_code"),
    Route("/portal/password-reset", set_password, methods=["POST"], name="password_reset_set"),
]

__all__ = ["routes"]
