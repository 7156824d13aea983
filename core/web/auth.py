"""Sessions on the web: who the signed cookie says is logged in, checked against the session's row
on every request (core/services/accounts.py owns passwords, logins and sessions)."""

from __future__ import annotations

import secrets

from attrs import frozen
from starlette.requests import Request

from core.services import Actor
from core.services.accounts import User
from core.web.security import client_address


@frozen
class SessionUser:
    """Who is logged in, as the signed session cookie says."""

    id: str
    username: str
    kind: str
    uscc: str = ""
    region: str = ""
    roles: tuple[str, ...] = ()
    display_name: str = ""
    auth_method: str = "password"  # "password" | "card" (the card login arrives with the card agent)

    def actor(self) -> Actor:
        return Actor(id=self.username, kind=self.kind, uscc=self.uscc, region=self.region,
                     roles=frozenset(self.roles))


def login(request: Request, user: User, auth_method: str = "password", *, stored: bool = True) -> None:
    """Start a fresh session for ``user`` (a new row, a new CSRF token; the language choice is kept).

    ``stored=False``: a card identity without an account (see core/web/cards.py)."""
    web = request.app.state.web
    sid = web.services.accounts.start_session(user, auth_method=auth_method, address=client_address(request),
                                              stored=stored)
    _clear(request)
    request.session["sid"] = sid
    request.session["user"] = {"id": user.id, "username": user.username, "kind": user.kind, "uscc": user.uscc,
                               "region": user.region, "roles": sorted(user.roles),
                               "display_name": user.display_name, "auth_method": auth_method}
    request.session["csrf_token"] = secrets.token_urlsafe(32)


def _clear(request: Request) -> None:
    lang = request.session.get("lang")
    request.session.clear()
    if lang:
        request.session["lang"] = lang


def _actor_label(request: Request) -> str:
    data = request.session.get("user")
    return f"{data.get('kind')}:{data.get('username')}" if isinstance(data, dict) else "anonymous"


def logout(request: Request, *, everywhere: bool = False) -> None:
    """End this session (``everywhere``: every session of the account) in every process."""
    sid, data = request.session.get("sid"), request.session.get("user")
    web = request.app.state.web
    if isinstance(sid, str) and isinstance(data, dict):
        if everywhere:
            web.services.accounts.end_every_session(str(data["id"]), _actor_label(request), client_address(request))
        else:
            web.services.accounts.end_session(sid, _actor_label(request), client_address(request))
    _clear(request)


def remembered_user(request: Request) -> SessionUser | None:
    """The logged-in user when the process already knows the session stands (no database read, so it
    may run on the event loop); None when not logged in or not known yet (then ask current_user)."""
    data, sid = request.session.get("user"), request.session.get("sid")
    if not isinstance(data, dict) or not isinstance(sid, str) \
            or request.app.state.web.sessions.known(sid, str(data.get("id"))) is not True:
        return None
    return _session_user(data)


def current_user(request: Request) -> SessionUser | None:
    data = request.session.get("user")
    if not isinstance(data, dict):
        return None
    sid = request.session.get("sid")
    if not isinstance(sid, str) or not request.app.state.web.sessions.stands(sid, str(data.get("id"))):
        _clear(request)  # ended (logout, disabled, a new password or roles), or never made here
        return None
    return _session_user(data)


def _session_user(data: dict) -> SessionUser:
    return SessionUser(id=data["id"], username=data["username"], kind=data["kind"], uscc=data.get("uscc", ""),
                       region=data.get("region", ""), roles=tuple(data.get("roles", ())),
                       display_name=data.get("display_name", ""),
                       auth_method=data.get("auth_method", "password"))


class LoginRequired(Exception):
    """No (suitable) user in the session: the app redirects to the login page of ``kind``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__(kind)


def require_user(request: Request, kind: str) -> SessionUser:
    user = current_user(request)
    if user is None or user.kind != kind:
        raise LoginRequired(kind)
    return user


__all__ = ["LoginRequired", "SessionUser", "current_user", "login", "logout", "remembered_user", "require_user"]
