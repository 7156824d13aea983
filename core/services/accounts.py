"""Accounts: staff and enterprise accounts, logins that cannot be raced or used to find usernames,
server-side sessions that really end, and the forgotten-password flow (``services.accounts``).

Logins are counted *before* the password is checked, in shared rate counters (core/store/throttle.py):
per username, whether or not the account exists (so an unknown name is throttled exactly like a real
one and the answers tell nobody which usernames exist), and per client address. A right password
gives its attempt back; nothing else resets a count. The password hash is checked outside any
database transaction, so a flood of logins never holds the database's write lock.

A session is a ``web_sessions`` row made at login; the signed cookie only names it. It stands while
the row has not ended and its account exists and is enabled. Logout ends the row; a new password,
other roles or disabling end every row of the account (``Accounts.change``); "log out everywhere"
does the same on request. Every process sees an ended session at its next request.

Staff accounts belong to a branch (a region). A branch administrator manages their own branch only,
may not disable their own account or drop their own administrator role, and no change may leave a
branch without an enabled administrator (the branch's staff rows are locked while that is checked, so
two administrators removing each other at once cannot both succeed).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import threading
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from attrs import frozen
from sqlalchemy import bindparam, select

from core import ids
from core.errors import EportError, Forbidden, InvalidInput, NotFound, Problems
from core.model import Card, Enterprise
from core.model.limits import overlong, refuse_overlong
from core.privacy import mask_id, mask_phone
from core.services import sms
from core.services.actors import STAFF_ROLES, Actor
from core.store.accounts import Accounts, User, users, web_sessions
from core.store.repos import prepared_sql
from core.store.throttle import Limit, RateCounters

if TYPE_CHECKING:
    from core.services.context import Services
    from core.store.store import Transaction

LOCK_WINDOW = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 8
ADMIN_ROLE = "branch_admin"
# A staff-account change (the page's and the CLI's operation) and the action the audit trail records.
REGISTER_PURPOSE = "register"  # the SMS code that proves the administrator's mobile at registration


@frozen
class RegistrationCode:
    """The SMS code a registration is signed with, and what checks it."""

    code: str
    gateway: sms.SmsGateway
    secret: str


STAFF_CHANGES = {"roles": "set_roles", "password": "set_password", "disable": "disable", "enable": "enable"}
# Argon2id, 64 MiB and 3 passes as the library's defaults, but one lane: the reference implementation runs
# one thread per lane (argon2-cffi's default of 4 lanes made each check take 1.3 cores, so the limit below
# bounded nothing and 16 clients logging in starved every other request). One lane is OWASP's profile
# (Password Storage Cheat Sheet, "Argon2id": m=19 MiB, t=2, p=1 at least); hashes made with 4 lanes still
# verify (their parameters are in the hash).
_HASHER = PasswordHasher(parallelism=1)
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))  # checked for unknown users: same cost either way
# Each hash takes a core for tens of milliseconds: at most one fewer at once than the machine has, so a
# flood of logins (or of guesses) queues among itself and other requests keep a core.
_HASHING = threading.BoundedSemaphore(max(1, (os.cpu_count() or 2) - 1))


def hash_password(password: str) -> str:
    with _HASHING:
        return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        with _HASHING:
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


def check_roles(roles: Iterable[str]) -> frozenset[str]:
    """Known staff roles, at least one."""
    chosen = frozenset(roles)
    unknown = sorted(chosen - set(STAFF_ROLES))
    if unknown:
        raise InvalidInput(f"未知的角色：{', '.join(unknown)}", f"unknown roles: {', '.join(unknown)}", field="roles")
    if not chosen:
        raise InvalidInput("请至少选择一个角色", "choose at least one role", field="roles")
    return chosen


def check_email(value: str, field: str = "email") -> str:
    """An e-mail address as the notification settings accept it (core.services.notify)."""
    from core.services.notify import _valid_email

    address = value.strip()
    if not _valid_email(address):
        raise InvalidInput("请填写有效的电子邮箱，例如 name@example.com。",
                           "Enter a valid e-mail address, such as name@example.com.", field=field)
    return address


def require_account_admin(actor: Actor) -> None:
    """Only a branch administrator (or the command line) manages staff accounts; checked first, before
    a form is read."""
    if actor.kind != "system" and (actor.kind != "staff" or ADMIN_ROLE not in actor.roles):
        raise Forbidden("仅分中心管理员可以管理工作人员账号", "only a branch administrator manages staff accounts",
                        field="roles")


def throttled() -> Forbidden:
    return Forbidden("尝试次数过多，请15分钟后再试。", "Too many tries; try again in 15 minutes.", field="username")


def _wrong() -> Forbidden:
    return Forbidden("用户名或密码错误。", "Wrong username or password.", field="password")


def _wrong_code() -> Forbidden:
    # One answer for a wrong, used-up or never-sent code, and for details matching no account.
    return Forbidden("短信验证码不正确或已失效，请重新获取。", "The SMS code is wrong or has expired; ask for a new one.",
                     field="sms_code")


WRONG_KIND = {
    "enterprise": ("此账号不是企业账号，请从工作人员入口登录。", "This is not an enterprise account; use the staff login."),
    "staff": ("此账号不是工作人员账号，请从企业入口登录。", "This is not a staff account; use the enterprise login."),
}


def _address_key(address: str) -> str:
    return f"login-address:{address}"


def _username_key(username: str) -> str:
    return f"login-user:{username.casefold()}"


def _row_id(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()  # a database reader learns no usable session id


def _reset_purpose(user: User) -> str:
    return f"reset-password:{user.id}"


def _reset_account(accounts: Accounts, username: str, mobile: str) -> User | None:
    """The enterprise account whose registered mobile this is (None for any mismatch, said to nobody)."""
    user = accounts.by_username(username.strip())
    if user is None or user.kind != "enterprise" or not user.mobile or user.mobile != mobile.strip():
        return None
    return user


class AccountService:
    """Staff and enterprise accounts, logins, sessions, SMS codes for a forgotten password."""

    def __init__(self, services: Services) -> None:
        self.s = services

    # ---- accounts -------------------------------------------------------------------------------------------

    def new_user(self, username: str, password: str, kind: str, *, uscc: str = "", region: str = "",
                 roles: Iterable[str] = (), display_name: str = "", mobile: str = "", id_number: str = "",
                 email: str = "", roles_required: bool = False) -> User:
        """A user value ready to store (password checked and hashed; the password itself is not kept).
        Every problem of the username, password and roles is reported at once (``Problems``)."""
        role_set = frozenset(roles)
        problems: list[EportError] = []
        for check in (lambda: check_username(username), lambda: check_password(password),
                      lambda: check_roles(role_set) if role_set or roles_required else None):
            try:
                check()
            except InvalidInput as exc:
                problems.append(exc)
        if problems:
            raise problems[0] if len(problems) == 1 else Problems(problems)
        return User(id=secrets.token_hex(8), username=username.strip(), kind=kind,
                    password_hash=hash_password(password), uscc=uscc, region=region, roles=role_set,
                    display_name=display_name, mobile=mobile, created_at=self.s.clock(), id_number=id_number,
                    email=email)

    def create_user(self, username: str, password: str, kind: str, *, uscc: str = "", region: str = "",
                    roles: Iterable[str] = (), display_name: str = "", mobile: str = "",
                    by: Actor | None = None, roles_required: bool = False) -> User:
        """A new account, audited as made by ``by`` (an administrator, the command line), else by itself."""
        user = self.new_user(username, password, kind, uscc=uscc, region=region, roles=roles,
                             display_name=display_name, mobile=mobile, roles_required=roles_required)
        with self.s.store.transaction() as tx:
            Accounts(tx).add(user)
            tx.audit.append(by.label if by else f"{kind}:{user.username}", "register", "user", user.id,
                            {"username": user.username, "kind": kind, "uscc": user.uscc, "region": user.region,
                             "roles": sorted(user.roles)})
        return user

    def _enabled_region(self, region: str) -> None:
        if region not in self.s.rulebook.regions():
            raise InvalidInput(f"本部署未启用地区 {region}", f"the region {region!r} is not enabled here",
                               field="region")

    def send_registration_code(self, mobile: str, gateway: sms.SmsGateway, secret: str, address: str) -> str:
        """The code that proves the administrator's mobile at registration (before any account exists, the
        send is counted against the number and the address); returns the number masked."""
        number = ids.validate_mobile(mobile, "mobile")
        sms.send_code(self.s, gateway, secret, number, REGISTER_PURPOSE, sms.Asker(f"register:{number}", address))
        return mask_phone(number)

    def register_enterprise(self, enterprise: Enterprise, username: str, password: str, *, region: str,
                            display_name: str, mobile: str, id_number: str = "", email: str = "",
                            code: RegistrationCode | None = None) -> User:
        """An enterprise's administrator account (one per enterprise), and the enterprise itself when it
        is new here: one transaction, audited. With ``code`` (the web's registration) the SMS code sent
        to ``mobile`` is used up in the same transaction: spent only when the account is made."""
        refuse_overlong(overlong(enterprise))
        self._enabled_region(region)
        if code is not None:
            sms.require_gateway(code.gateway)
        user = self.new_user(username, password, "enterprise", uscc=enterprise.uscc, region=region,
                             display_name=display_name, mobile=mobile, id_number=id_number,
                             email=email)  # hashed before the transaction
        with self.s.store.transaction() as tx:
            refused = None if code is None else sms.use_code(tx, code.secret, mobile, REGISTER_PURPOSE, code.code,
                                                             self.s.clock())
            if refused is None:  # a wrong code: only the try is counted (and committed)
                self._add_administrator(tx, user, enterprise)
        if refused is not None:
            raise refused
        return user

    @staticmethod
    def _add_administrator(tx: Transaction, user: User, enterprise: Enterprise) -> None:
        accounts = Accounts(tx)
        if accounts.for_enterprise(enterprise.uscc):
            raise InvalidInput("该单位已注册管理员账号；如遗失请联系分中心。",
                               "This enterprise already has an administrator account; contact the branch "
                               "centre if it is lost.", field="uscc")
        accounts.add(user)
        if tx.enterprises.get(enterprise.uscc) is None:
            tx.enterprises.save(enterprise)
        tx.audit.append(f"enterprise:{user.username}", "register", "user", user.id,
                        {"username": user.username, "uscc": enterprise.uscc, "region": user.region,
                         "mobile": user.mobile, "id_number": mask_id(user.id_number) if user.id_number else ""})

    def exists(self, username: str) -> bool:
        """Whether an account of that name exists (for setup scripts and the demo data; never an answer
        to someone logging in, whom no reply may tell which usernames exist)."""
        with self.s.store.transaction(readonly=True) as tx:
            return Accounts(tx).by_username(username.strip()) is not None

    def enterprise_accounts(self, actor: Actor) -> list[User]:
        """The accounts of ``actor``'s own enterprise."""
        if actor.kind != "enterprise":
            raise NotFound("仅限企业账号", "enterprise accounts only", field="user")
        with self.s.store.transaction(readonly=True) as tx:
            return Accounts(tx).for_enterprise(actor.uscc)

    def account_for_card(self, card: Card) -> User:
        """Whom a legal-card login logs in: the enterprise's administrator account (the first by
        username), or an unstored card identity when the enterprise has none."""
        with self.s.store.transaction(readonly=True) as tx:
            accounts = [u for u in Accounts(tx).for_enterprise(card.enterprise_uscc) if u.kind == "enterprise"]
            region = ""
            if card.application_id:
                try:
                    region = tx.applications.get(card.application_id).region
                except EportError:
                    region = ""
        if accounts:
            return accounts[0]
        return User(id=f"card-{card.id}", username=f"card-{card.device_no or card.card_no}", kind="enterprise",
                    password_hash="", uscc=card.enterprise_uscc,
                    region=region or self.s.settings.regions.default, display_name=card.holder.name)

    # ---- staff accounts -------------------------------------------------------------------------------------

    def staff(self, actor: Actor, region: str | None = None) -> list[User]:
        """The staff accounts ``actor`` manages: a branch administrator's own branch; the command line's
        of ``region`` (every branch when None)."""
        require_account_admin(actor)
        with self.s.store.transaction(readonly=True) as tx:
            return Accounts(tx).staff(actor.region if actor.kind == "staff" else region)

    def add_staff(self, actor: Actor, username: str, password: str, region: str, roles: Iterable[str],
                  display_name: str = "") -> User:
        """A new staff account of an enabled region (a branch administrator adds to their own branch)."""
        require_account_admin(actor)
        if actor.kind == "staff" and region != actor.region:
            raise Forbidden("只能为本分中心添加工作人员账号", "you add staff accounts to your own branch only",
                            field="region")
        self._enabled_region(region)
        return self.create_user(username, password, "staff", region=region, roles=roles, roles_required=True,
                                display_name=display_name, by=actor)

    def change_staff(self, actor: Actor, username: str, operation: str, *, roles: Iterable[str] = (),
                     password: str = "") -> User:
        """Change a staff account: ``operation`` is ``roles`` (to ``roles``), ``password`` (to
        ``password``), ``disable`` or ``enable``. One transaction, audited as ``STAFF_CHANGES[operation]``
        by ``actor`` (never the hash); the account's sessions end."""
        require_account_admin(actor)
        new_roles: frozenset[str] | None = None
        password_hash: str | None = None
        disabled: bool | None = None
        if operation == "roles":
            new_roles = check_roles(roles)
        elif operation == "password":
            check_password(password)
            password_hash = hash_password(password)  # before the transaction: hashing holds no lock
        elif operation in ("disable", "enable"):
            disabled = operation == "disable"
        else:
            raise InvalidInput(f"未知的操作：{operation}", f"unknown operation {operation!r}", field="operation")
        drops_admin = bool(disabled) or (new_roles is not None and ADMIN_ROLE not in new_roles)
        name = username.strip()
        if actor.kind == "staff" and name == actor.id and drops_admin:
            raise InvalidInput("不能停用自己的账号或取消自己的管理员角色",
                               "you cannot disable your own account or drop your own administrator role",
                               field="username")
        with self.s.store.transaction() as tx:
            accounts = Accounts(tx)
            found = accounts.by_username(name)
            if found is None or found.kind != "staff" or (actor.kind == "staff" and found.region != actor.region):
                raise NotFound(f"没有工作人员账号“{username}”", f"no staff account {username!r}", field="username")
            branch = accounts.staff(found.region, lock=True)  # read again, locked: parallel changes wait
            user = next(u for u in branch if u.id == found.id)
            if drops_admin and _is_admin(user) and not any(_is_admin(u) for u in branch if u.id != user.id):
                raise InvalidInput(f"“{user.username}”是分中心 {user.region} 最后一个启用的管理员，不能停用或取消其管理员"
                                   "角色；请先为该分中心添加或启用另一名管理员。",
                                   f"{user.username!r} is the last enabled branch administrator of {user.region}: "
                                   "add or enable another administrator of the branch first.", field="username")
            changed = accounts.change(user, password_hash=password_hash, roles=new_roles, disabled=disabled,
                                      now=self.s.clock())
            details: dict[str, object] = {"roles": sorted(new_roles)} if new_roles is not None else {}
            if disabled is not None:
                details["disabled"] = disabled
            tx.audit.append(actor.label, STAFF_CHANGES[operation], "user", changed.id,
                            {"username": changed.username, **details})
        return changed

    # ---- logins ---------------------------------------------------------------------------------------------

    def _account_limit(self) -> Limit:
        return Limit(self.s.settings.web.login_attempts, LOCK_WINDOW, block=LOCK_WINDOW)

    def _address_limit(self) -> Limit:
        return Limit(self.s.settings.web.login_attempts_per_address, LOCK_WINDOW, block=LOCK_WINDOW)

    def address_blocked(self, address: str) -> bool:
        """Whether this client address has used up its tries (logins and password resets share them)."""
        with self.s.store.transaction(readonly=True) as tx:
            return RateCounters(tx).blocked(_address_key(address), self.s.clock(), self._address_limit())

    def count_address_try(self, address: str) -> bool:
        """Count one failed try by this address outside a login; False when it had no tries left."""
        with self.s.store.transaction() as tx:
            return RateCounters(tx).take(_address_key(address), self.s.clock(), self._address_limit())

    def authenticate(self, username: str, password: str, address: str, *, kind: str | None = None) -> User:
        """The user whose password this is, or ``Forbidden``: wrong, throttled (the same words whether
        or not the username exists), disabled or (``kind``) not that kind of account (said only after
        the right password)."""
        name = username.strip()
        now = self.s.clock()
        with self.s.store.transaction() as tx:
            counters = RateCounters(tx)
            if not counters.take(_address_key(address), now, self._address_limit()):
                raise throttled()
            if not counters.take(_username_key(name), now, self._account_limit()):
                counters.give_back(_address_key(address))  # refused unchecked: not a guess by this address
                allowed = False
            else:
                allowed = True
        if not allowed:
            raise throttled()
        with self.s.store.transaction(readonly=True) as tx:
            user = Accounts(tx).by_username(name)
        # Outside any transaction: the hash takes tens of milliseconds and must hold no lock.
        right = verify_password(user.password_hash if user else _DUMMY_HASH, password) and user is not None
        with self.s.store.transaction() as tx:
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
                if kind is None or user.kind == kind:
                    return user
                raise_after = Forbidden(*WRONG_KIND[kind], field="username")
        raise raise_after  # raised after the block, so the audit row is committed

    # ---- a forgotten password: an SMS code to the account's registered mobile -------------------------------

    def _reset_gate(self, gateway: sms.SmsGateway, address: str) -> None:
        sms.require_gateway(gateway)  # before any account is looked up: the same answer for all
        if self.address_blocked(address):
            raise throttled()

    def send_reset_code(self, gateway: sms.SmsGateway, secret: str, username: str, mobile: str,
                        address: str) -> None:
        """Send a code to the registered mobile of the enterprise account ``username`` when ``mobile``
        is that number. Answers the same whether or not they match (a mismatch counts against the
        address like a failed login; a code asked for too soon or too often is said to nobody)."""
        self._reset_gate(gateway, address)
        with self.s.store.transaction(readonly=True) as tx:
            user = _reset_account(Accounts(tx), username, mobile)
        if user is None:
            self.count_address_try(address)
            return
        with contextlib.suppress(EportError):
            sms.send_code(self.s, gateway, secret, user.mobile, _reset_purpose(user),
                          sms.Asker(f"enterprise:{user.username}", address))

    def reset_forgotten_password(self, gateway: sms.SmsGateway, secret: str, username: str, mobile: str,
                                 code: str, password: str, repeated: str, address: str) -> User:
        """A new password proved by the SMS code: one transaction uses the code up and sets the password,
        so the code is spent only when the password is set. Every session of the account ends and its
        login lock clears. A wrong code, or details matching no account, get one answer and count
        against the address."""
        self._reset_gate(gateway, address)
        if password != repeated:
            raise InvalidInput("两次输入的密码不一致。", "The two passwords differ.", field="password2")
        check_password(password)
        password_hash = hash_password(password)  # for every request (no timing tells), outside the transaction
        now = self.s.clock()
        with self.s.store.transaction() as tx:
            accounts = Accounts(tx)
            user = _reset_account(accounts, username, mobile)
            problem = _wrong_code() if user is None else sms.use_code(tx, secret, user.mobile, _reset_purpose(user),
                                                                      code, now)
            if problem is not None or user is None:
                RateCounters(tx).take(_address_key(address), now, self._address_limit())
            else:
                changed = accounts.change(user, password_hash=password_hash, now=now)
                RateCounters(tx).clear(_username_key(user.username))
                tx.audit.append(f"{user.kind}:{user.username}", "reset_password", "user", user.id,
                                {"username": user.username, "by": "sms"})
                return changed
        raise _wrong_code()  # after the block: the wrong try and the address count are committed

    # ---- sessions -------------------------------------------------------------------------------------------

    def start_session(self, user: User, *, auth_method: str, address: str, stored: bool = True) -> str:
        """Record a new session for ``user`` and audit the login; returns the session id for the cookie.

        ``stored=False``: a card identity with no account (the enterprise logged in with its legal card)."""
        sid = secrets.token_urlsafe(32)
        with self.s.store.transaction() as tx:
            Accounts(tx).add_session(_row_id(sid), user.id, "account" if stored else "card", address,
                                     self.s.clock())
            tx.audit.append(f"{user.kind}:{user.username}", "login", "session", user.id,
                            {"address": address, "method": auth_method})
        return sid

    def end_session(self, sid: str, actor: str, address: str) -> None:
        """Logout: this session ends in every process."""
        with self.s.store.transaction() as tx:
            user_id = Accounts(tx).end_session(_row_id(sid), self.s.clock())
            if user_id is not None:
                tx.audit.append(actor, "logout", "session", user_id, {"address": address})

    def end_every_session(self, user_id: str, actor: str, address: str) -> int:
        """"Log out everywhere": every session of the account ends, this one too."""
        with self.s.store.transaction() as tx:
            count = Accounts(tx).end_sessions(user_id, self.s.clock())
            tx.audit.append(actor, "logout_everywhere", "session", user_id, {"address": address, "sessions": count})
        return count


def _is_admin(user: User) -> bool:
    return ADMIN_ROLE in user.roles and not user.disabled


def create_user(services: Services, username: str, password: str, kind: str, **details: Any) -> User:
    """``services.accounts.create_user``, for scripts, demo data and tests."""
    return services.accounts.create_user(username, password, kind, **details)


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

    def _token(self) -> tuple[object, object]:
        changes = self._store.changes
        return changes.token("web_sessions"), changes.token("users")

    def _remembered(self, token: tuple[object, object], row_id: str, user_id: str) -> bool | None:
        known = self._known.get((row_id, user_id))
        return known[1] if None not in token and known is not None and known[0] == token else None

    def known(self, sid: str, user_id: str) -> bool | None:
        """What :meth:`stands` would answer, from memory only (no database read); None when unknown."""
        return self._remembered(self._token(), _row_id(sid), user_id)

    def stands(self, sid: str, user_id: str) -> bool:
        token, row_id = self._token(), _row_id(sid)
        remembered = self._remembered(token, row_id, user_id)
        if remembered is not None:
            return remembered
        state = self._read(row_id, user_id)
        if None not in token:
            if len(self._known) >= self.LIMIT:
                self._known.clear()
            self._known[row_id, user_id] = (token, state)
        return state


__all__ = ["ADMIN_ROLE", "LOCK_WINDOW", "MIN_PASSWORD_LENGTH", "REGISTER_PURPOSE", "STAFF_CHANGES", "AccountService",
           "RegistrationCode", "SessionCheck", "User", "check_email", "check_password", "check_roles", "check_username",
           "create_user", "hash_password", "require_account_admin", "throttled", "verify_password"]
