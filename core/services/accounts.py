"""Accounts: argon2id passwords, logins that cannot be raced or used to find usernames, and
server-side sessions that really end.

Logins are counted *before* the password is checked, in shared rate counters (core/store/throttle.py):
per username, whether or not the account exists (so an unknown name is throttled exactly like a real
one and the answers tell nobody which usernames exist), and per client address. A right password
gives its attempt back; nothing else resets a count. The password hash is checked outside any
database transaction, so a flood of logins never holds the database's write lock.

A session is a ``web_sessions`` row made at login; the signed cookie only names it. It stands while
the row has not ended and its account exists and is enabled. Logout ends the row; a new password,
other roles or disabling end every row of the account (``Accounts.change``); "log out everywhere"
does the same on request. Every process sees an ended session at its next request.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select

from core.errors import Forbidden, InvalidInput
from core.services.actors import STAFF_ROLES
from core.services.context import Services
from core.store.accounts import Accounts, User, users, web_sessions
from core.store.repos import prepared_sql
from core.store.throttle import Limit, RateCounters

LOCK_WINDOW = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 8
_HASHER = PasswordHasher()  # argon2id with the library's current parameters
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))  # checked for unknown users: same cost either way


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


# ---- logins ---------------------------------------------------------------------------------------------------

def _wrong() -> Forbidden:
    return Forbidden("用户名或密码错误。", "Wrong username or password.", field="password")


def throttled() -> Forbidden:
    return Forbidden("尝试次数过多，请15分钟后再试。", "Too many tries; try again in 15 minutes.", field="username")


def _account_limit(services: Services) -> Limit:
    return Limit(services.settings.web.login_attempts, LOCK_WINDOW, block=LOCK_WINDOW)


def _address_limit(services: Services) -> Limit:
    return Limit(services.settings.web.login_attempts_per_address, LOCK_WINDOW, block=LOCK_WINDOW)


def _address_key(address: str) -> str:
    return f"login-address:{address}"


def _username_key(username: str) -> str:
    return f"login-user:{username.casefold()}"


def address_blocked(services: Services, address: str) -> bool:
    """Whether this client address has used up its tries (logins and password resets share them)."""
    with services.store.transaction(readonly=True) as tx:
        return RateCounters(tx).blocked(_address_key(address), services.clock(), _address_limit(services))


def count_address_try(services: Services, address: str) -> bool:
    """Count one failed try by this address outside a login (a wrong password-reset request);
    False when the address had no tries left."""
    with services.store.transaction() as tx:
        return RateCounters(tx).take(_address_key(address), services.clock(), _address_limit(services))


def authenticate(services: Services, username: str, password: str, address: str) -> User:
    """The user whose password this is, or ``Forbidden``: wrong, throttled (the same words whether
    or not the username exists) or disabled (said only after the right password)."""
    name = username.strip()
    now = services.clock()
    with services.store.transaction() as tx:
        counters = RateCounters(tx)
        if not counters.take(_address_key(address), now, _address_limit(services)):
            raise throttled()
        if not counters.take(_username_key(name), now, _account_limit(services)):
            counters.give_back(_address_key(address))  # refused unchecked: not a guess by this address
            allowed = False
        else:
            allowed = True
    if not allowed:
        raise throttled()
    with services.store.transaction(readonly=True) as tx:
        user = Accounts(tx).by_username(name)
    # Outside any transaction: the hash takes tens of milliseconds and must hold no lock.
    right = verify_password(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    with services.store.transaction() as tx:
        if not right or user is None:
            tx.audit.append(f"address:{address}", "login_failed", "login", name[:64], {"address": address})
            raise_after = _wrong()
        elif user.disabled:
            raise_after = Forbidden("该账号已停用，请联系分中心管理员。",
                                    "This account is disabled; ask the branch administrator.", field="username")
        else:
            counters = RateCounters(tx)
            counters.give_back(_address_key(address))
            counters.clear(_username_key(name))
            return user
    raise raise_after  # raised after the block, so the audit row is committed


def reset_password(services: Services, user: User, password: str) -> User:
    """A new password proved by an SMS code: every session of the account ends, its login lock clears."""
    check_password(password)
    password_hash = hash_password(password)  # before the transaction: hashing holds no lock
    with services.store.transaction() as tx:
        changed = Accounts(tx).change(user, password_hash=password_hash, now=services.clock())
        RateCounters(tx).clear(_username_key(user.username))
        tx.audit.append(f"{user.kind}:{user.username}", "reset_password", "user", user.id,
                        {"username": user.username, "by": "sms"})
    return changed


# ---- sessions -------------------------------------------------------------------------------------------------

def _row_id(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()  # a database reader learns no usable session id


def start_session(services: Services, user: User, *, auth_method: str, address: str, stored: bool = True) -> str:
    """Record a new session for ``user`` and audit the login; returns the session id for the cookie.

    ``stored=False``: a card identity with no account (the enterprise logged in with its legal card)."""
    sid = secrets.token_urlsafe(32)
    with services.store.transaction() as tx:
        Accounts(tx).add_session(_row_id(sid), user.id, "account" if stored else "card", address, services.clock())
        tx.audit.append(f"{user.kind}:{user.username}", "login", "session", user.id,
                        {"address": address, "method": auth_method})
    return sid


def end_session(services: Services, sid: str, actor: str, address: str) -> None:
    """Logout: this session ends in every process."""
    with services.store.transaction() as tx:
        user_id = Accounts(tx).end_session(_row_id(sid), services.clock())
        if user_id is not None:
            tx.audit.append(actor, "logout", "session", user_id, {"address": address})


def end_every_session(services: Services, user_id: str, actor: str, address: str) -> int:
    """"Log out everywhere": every session of the account ends, this one too."""
    with services.store.transaction() as tx:
        count = Accounts(tx).end_sessions(user_id, services.clock())
        tx.audit.append(actor, "logout_everywhere", "session", user_id, {"address": address, "sessions": count})
    return count


class SessionCheck:
    """Whether a session still stands: its row exists and has not ended, and its account exists and
    is enabled (a card identity's row stands by itself: its login proved the card).

    Asked on every request that reads the user, so it answers from memory: a session is read again
    only when the sessions or users table may have changed since (the store's change tokens), e.g.
    after a logout in another process or ``eportcard staff disable``.
    """

    LIMIT = 10_000  # sessions remembered; more and the memory starts again empty

    def __init__(self, services: Services) -> None:
        self._store = services.store
        self._known: dict[tuple[str, str], tuple[object, bool]] = {}

    def _read(self, row_id: str, user_id: str) -> bool:
        sql, args = prepared_sql(
            self._store.engine.dialect, ("session_state",),
            lambda: select(web_sessions.c.user_id, web_sessions.c.kind, web_sessions.c.ended_at, users.c.disabled)
            .select_from(web_sessions.outerjoin(users, users.c.id == web_sessions.c.user_id))
            .where(web_sessions.c.id == bindparam("id")), {"id": row_id})
        rows = self._store.driver_rows(sql, args)
        if not rows:
            return False
        owner, kind, ended_at, disabled = rows[0]
        if owner != user_id or ended_at is not None:
            return False
        return kind == "card" or (disabled is not None and not disabled)

    def stands(self, sid: str, user_id: str) -> bool:
        changes = self._store.changes
        token = (changes.token("web_sessions"), changes.token("users"))
        row_id = _row_id(sid)
        known = self._known.get((row_id, user_id))
        if None not in token and known is not None and known[0] == token:
            return known[1]
        state = self._read(row_id, user_id)
        if None not in token:
            if len(self._known) >= self.LIMIT:
                self._known.clear()
            self._known[row_id, user_id] = (token, state)
        return state


__all__ = ["LOCK_WINDOW", "MIN_PASSWORD_LENGTH", "SessionCheck", "address_blocked", "authenticate",
           "check_password", "check_username", "count_address_try", "create_user", "end_every_session",
           "end_session", "hash_password", "new_user", "reset_password", "start_session", "throttled",
           "verify_password"]
