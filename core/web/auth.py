"""Accounts on the web: argon2id passwords, login with throttling, the session's user and its Actor."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from attrs import frozen
from sqlalchemy import bindparam, select
from starlette.requests import Request

from core.errors import EportError, Forbidden, InvalidInput
from core.services import Actor, Services
from core.services.actors import STAFF_ROLES
from core.store.accounts import Accounts, User, users
from core.store.repos import prepared_sql

LOCK_WINDOW = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 8
_HASHER = PasswordHasher()  # argon2id with the library's current parameters
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))  # verified for unknown users: same cost either way


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password(password: str, field: str = "password") -> None:
    """At least 8 characters with letters and digits; raises a bilingual ``InvalidInput``."""
    if len(password) < MIN_PASSWORD_LENGTH or not any(c.isalpha() for c in password) \
            or not any(c.isdigit() for c in password):
        raise InvalidInput(f"密码至少{MIN_PASSWORD_LENGTH}位，且须同时包含字母和数字。",
                           f"The password needs at least {MIN_PASSWORD_LENGTH} characters, with both letters "
                           "and digits.", field=field)


def check_username(username: str, field: str = "username") -> str:
    name = username.strip()
    if not (3 <= len(name) <= 64) or not all(c.isalnum() or c in "-_." for c in name) or not name.isascii():
        raise InvalidInput("用户名为3至64位英文字母、数字或 - _ .",
                           "The username has 3 to 64 letters, digits or - _ .", field=field)
    return name


def new_user(username: str, password: str, kind: str, *, uscc: str = "", region: str = "",
             roles: Iterable[str] = (), display_name: str = "", mobile: str = "", services: Services) -> User:
    """A user value ready to store (password checked and hashed; the password itself is not kept)."""
    check_username(username)
    check_password(password)
    role_set: frozenset[str] = frozenset(roles)
    unknown = role_set - set(STAFF_ROLES)
    if unknown:
        raise InvalidInput(f"未知的角色：{', '.join(sorted(unknown))}", f"unknown roles: {', '.join(sorted(unknown))}",
                           field="roles")
    return User(id=secrets.token_hex(8), username=username.strip(), kind=kind,
                password_hash=hash_password(password), uscc=uscc, region=region, roles=role_set,
                display_name=display_name, mobile=mobile, created_at=services.clock())


def create_user(services: Services, username: str, password: str, kind: str, **details) -> User:
    user = new_user(username, password, kind, services=services, **details)
    with services.store.transaction() as tx:
        Accounts(tx).add(user)
        tx.audit.append(f"{kind}:{user.username}", "register", "user", user.id,
                        {"username": user.username, "kind": kind, "uscc": user.uscc, "region": user.region,
                         "roles": sorted(user.roles)})
    return user


def _wrong() -> Forbidden:
    return Forbidden("用户名或密码错误。", "Wrong username or password.", field="password")


def _throttled(minutes: int = 15) -> Forbidden:
    return Forbidden(f"登录失败次数过多，请{minutes}分钟后再试。",
                     f"Too many failed logins; try again in {minutes} minutes.", field="username")


def authenticate(services: Services, username: str, password: str, address: str, limiter) -> User:
    """The user whose password this is, or ``Forbidden``.

    After ``settings.web.login_attempts`` failures within 15 minutes the account refuses every
    login (even a right one) for 15 minutes; the per-address limiter does the same for one client.
    """
    now = services.clock()
    if limiter.blocked(address, now):
        raise _throttled()
    with services.store.transaction() as tx:
        accounts = Accounts(tx)
        user = accounts.by_username(username.strip())
        if user is None:
            verify_password(_DUMMY_HASH, password)
            limiter.failed(address, now)
            raise _wrong()
        if user.locked_at(now):
            raise _throttled()
        if not verify_password(user.password_hash, password):
            accounts.record_failure(user, now, services.settings.web.login_attempts, LOCK_WINDOW)
            limiter.failed(address, now)
            failure: EportError = _wrong()
        elif user.disabled:  # said only after the right password: a guesser learns nothing
            raise Forbidden("该账号已停用，请联系分中心管理员。",
                            "This account is disabled; ask the branch administrator.", field="username")
        else:
            accounts.clear_failures(user)
            limiter.succeeded(address)
            return user
    raise failure  # raised after the block so the failure count is committed


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
    """Start a fresh session for ``user`` (a new CSRF token; the language choice is kept).

    A ``stored`` account's session holds its session epoch and ends when the account is disabled or
    its password or roles change (:class:`SessionCheck`); a card identity without an account is not
    checked against the accounts table."""
    lang = request.session.get("lang")
    request.session.clear()
    if lang:
        request.session["lang"] = lang
    request.session["user"] = {"id": user.id, "username": user.username, "kind": user.kind, "uscc": user.uscc,
                               "region": user.region, "roles": sorted(user.roles),
                               "display_name": user.display_name, "auth_method": auth_method,
                               "epoch": user.session_epoch if stored else None}
    request.session["csrf_token"] = secrets.token_urlsafe(32)


def logout(request: Request) -> None:
    lang = request.session.get("lang")
    request.session.clear()
    if lang:
        request.session["lang"] = lang


class SessionCheck:
    """Whether a session's account still stands: not disabled, and its session epoch unchanged.

    Asked on every request that reads the user, so it answers from memory: an account's state is read
    again only when the users table may have changed since (the store's change token), e.g. after
    ``eportcard staff disable`` in another process.
    """

    LIMIT = 10_000  # accounts remembered; more and the memory starts again empty

    def __init__(self, services: Services) -> None:
        self._store = services.store
        self._known: dict[str, tuple[object, tuple[bool, int] | None]] = {}

    def _read(self, user_id: str) -> tuple[bool, int] | None:
        sql, args = prepared_sql(self._store.engine.dialect, ("account_state",),
                                 lambda: select(users.c.disabled, users.c.session_epoch)
                                 .where(users.c.id == bindparam("id")), {"id": user_id})
        rows = self._store.driver_rows(sql, args)
        return (bool(rows[0][0]), int(rows[0][1])) if rows else None

    def stands(self, user_id: str, epoch: int) -> bool:
        token = self._store.changes.token("users")
        known = self._known.get(user_id)
        if token is not None and known is not None and known[0] == token:
            state = known[1]
        else:
            state = self._read(user_id)
            if token is not None:
                if len(self._known) >= self.LIMIT:
                    self._known.clear()
                self._known[user_id] = (token, state)
        return state is not None and not state[0] and state[1] == epoch


def current_user(request: Request) -> SessionUser | None:
    data = request.session.get("user")
    if not isinstance(data, dict):
        return None
    epoch = data.get("epoch", 0)
    check = getattr(getattr(request.app.state, "web", None), "sessions", None)
    if epoch is not None and check is not None and not check.stands(data["id"], epoch):
        logout(request)  # disabled, or its password or roles changed since this session began
        return None
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


__all__ = ["LOCK_WINDOW", "MIN_PASSWORD_LENGTH", "LoginRequired", "SessionCheck", "SessionUser", "authenticate",
           "check_password", "check_username", "create_user", "current_user", "hash_password", "login",
           "logout", "new_user", "require_user", "verify_password"]
