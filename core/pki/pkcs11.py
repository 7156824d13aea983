"""The CA key on a PKCS#11 token (an HSM, or SoftHSM2 standing in for one), through python-pkcs11.

The key is made on the token as sensitive and never extractable (PKCS#11 v2.40 4.9, CKA_SENSITIVE and
CKA_EXTRACTABLE), so no command of this module, nor anyone with the PIN, can read it out. Signing sends the
SHA-256 digest only (CKM_ECDSA over the digest, CKM_RSA_PKCS over the DigestInfo: PKCS#11 v2.40 curr. mech.
2.3.6 and 2.1.6), which keeps a 100,000-entry CRL as cheap on the token as a certificate.

Threads and processes. python-pkcs11 calls C_Initialize with no arguments, which promises the module that
it is never called from two threads at once (PKCS#11 v2.40 5.4, C_Initialize); SoftHSM2 then switches its
own locks off (SoftHSMv2 src/lib/SoftHSM.cpp, C_Initialize). So every call into a module holds that
module's lock in this process. Login is per process, shared by all its sessions (PKCS#11 v2.40 2.6.7), and
a child process must initialise the module anew (PKCS#11 v2.40 2.5.2, "Applications and processes"):
after a fork the child forgets its parent's sessions and initialises and logs in again on first use.
Signing in parallel therefore means several processes (``eportcard@PORT`` units), each with its own login.

Sessions are pooled per token: a signature takes a logged-in session from the pool and puts it back, so
it opens no session and logs in no second time. When the module drops them (a token or HSM restarted, the
login lost), the pool is emptied and logged in again once; if that fails too the caller gets one clear
error, and the next signature tries again.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pkcs11
from attrs import frozen
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11
from pkcs11.util.ec import encode_named_curve_parameters

from core.errors import ConfigError, EportError, InvalidInput, Unavailable
from core.pki.signer import (
    SHA256_DIGEST_INFO,
    Algorithm,
    PublicKey,
    SplicingSigner,
    check_algorithm,
    ecdsa_der,
)

log = logging.getLogger(__name__)

P256_PARAMS = encode_named_curve_parameters("secp256r1")  # CKA_EC_PARAMS: the named curve's OID
MAX_IDLE_SESSIONS = 4

# What a module says when our sessions or our login are gone: the pool starts again (once).
LOST = (p11.SessionHandleInvalid, p11.SessionClosed, p11.UserNotLoggedIn, p11.ObjectHandleInvalid,
        p11.KeyHandleInvalid, p11.DeviceRemoved, p11.DeviceError, p11.TokenNotPresent, p11.TokenNotRecognised,
        p11.GeneralError, p11.SlotIDInvalid, p11.NoSuchToken, p11.NoSuchKey)

T = TypeVar("T")


@frozen
class TokenKey:
    """Where a CA key lives: the PKCS#11 module (a shared library), the token's label, the key's label."""

    module: str
    token: str
    key_label: str

    def describe(self) -> str:
        return f"PKCS#11 {self.module}, token {self.token!r}, key {self.key_label!r}"


@frozen
class TokenInfo:
    label: str
    serial: str
    manufacturer: str
    model: str


# ---- the module, once per process ----------------------------------------------------------------------------


class _Module:
    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.pools: dict[str, _SessionPool] = {}
        self.forked = False
        try:
            self.lib = pkcs11.lib(path)
        except p11.PKCS11Error as exc:
            raise ConfigError(f"无法加载 PKCS#11 模块 {path}：{exc}",
                              f"cannot load the PKCS#11 module {path}: {exc}", field="pki.pkcs11_module") from None

    def after_fork(self) -> None:
        # The parent's lock may have been held at the fork; its sessions and login are not ours (closing
        # them here could close the parent's on a network HSM, so they are only forgotten).
        self.lock = threading.RLock()
        for pool in self.pools.values():
            pool.forget()
        self.forked = True

    @contextmanager
    def calls(self) -> Iterator[None]:
        """Hold this module for a series of calls (see the module docstring)."""
        with self.lock:
            if self.forked:
                self.forked = False
                self.lib.reinitialize()
            yield

    def token(self, label: str) -> Any:
        try:
            return self.lib.get_token(token_label=label)
        except p11.NoSuchToken:
            raise Unavailable(f"PKCS#11 模块 {self.path} 中没有标签为 {label!r} 的令牌（令牌已移除、HSM 无法连接，或标签有误）",
                              f"the PKCS#11 module {self.path} has no token labelled {label!r} (removed, the HSM "
                              "unreachable, or a wrong label)") from None
        except p11.MultipleTokensReturned:
            raise ConfigError(f"PKCS#11 模块 {self.path} 中有多个标签为 {label!r} 的令牌，请改用唯一的标签",
                              f"the PKCS#11 module {self.path} has several tokens labelled {label!r}; give each a "
                              "label of its own", field="pki.pkcs11_token") from None


_modules: dict[str, _Module] = {}
_modules_lock = threading.Lock()


def _module(path: str) -> _Module:
    if not path:
        raise ConfigError("没有指定 PKCS#11 模块", "no PKCS#11 module is named", field="pki.pkcs11_module")
    with _modules_lock:
        if path not in _modules:
            _modules[path] = _Module(path)
        return _modules[path]


def _after_fork_in_child() -> None:
    global _modules_lock
    _modules_lock = threading.Lock()
    for module in _modules.values():
        module.after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


# ---- the sessions of one token -------------------------------------------------------------------------------


class _SessionPool:
    """Logged-in sessions on one token, kept for reuse. Used only while holding the module's lock."""

    def __init__(self, module: _Module, label: str, pin: str) -> None:
        self.module = module
        self.label = label
        self.pin = pin
        self.idle: list[Any] = []
        self.logged_in = False
        self.logins = 0  # how often this process logged in to the token (tests, `ca status`)
        self.keys: dict[tuple[int, str, ObjectClass], Any] = {}

    def take(self) -> Any:
        if self.idle:
            return self.idle.pop()
        token = self.module.token(self.label)
        if self.logged_in:
            return token.open()  # the process's login covers it (PKCS#11 v2.40 2.6.7)
        try:
            session = token.open(user_pin=self.pin)
        except p11.UserAlreadyLoggedIn:  # still logged in although our sessions were dropped
            session = token.open()
        except (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange):
            raise ConfigError(f"PKCS#11 令牌 {self.label!r} 的 PIN 错误，请核对 PIN（多次错误会锁定令牌）",
                              f"wrong PIN for the PKCS#11 token {self.label!r}; check the PIN (repeated "
                              "errors lock the token)", field="pki.pkcs11_pin_env") from None
        except p11.PinLocked:
            raise ConfigError(f"PKCS#11 令牌 {self.label!r} 的 PIN 已锁定，须由安全员（SO）解锁",
                              f"the PIN of the PKCS#11 token {self.label!r} is locked; its security officer (SO) "
                              "must unlock it", field="pki.pkcs11_pin_env") from None
        self.logged_in = True
        self.logins += 1
        return session

    def give(self, session: Any) -> None:
        if len(self.idle) < MAX_IDLE_SESSIONS:
            self.idle.append(session)
            return
        self.keys = {k: v for k, v in self.keys.items() if k[0] != session.handle}
        self._close(session)

    def key(self, session: Any, label: str, object_class: ObjectClass) -> Any:
        """The object labelled ``label`` as ``session`` sees it (handles are kept per session)."""
        cached = (session.handle, label, object_class)
        if cached not in self.keys:
            self.keys[cached] = session.get_key(object_class=object_class, label=label)
        return self.keys[cached]

    def reset(self, in_use: Any = None) -> None:
        """Forget every session (closing what still answers, ``in_use`` too) and the login."""
        for session in [*self.idle, *([in_use] if in_use is not None else [])]:
            self._close(session)
        self.forget()

    def forget(self) -> None:
        self.idle.clear()
        self.keys.clear()
        self.logged_in = False

    @staticmethod
    def _close(session: Any) -> None:
        with contextlib.suppress(p11.PKCS11Error):  # gone with the token or the login: nothing to close
            session.close()


def _pool(module: _Module, label: str, pin: str) -> _SessionPool:
    pool = module.pools.get(label)
    if pool is not None and not hmac.compare_digest(pool.pin.encode(), pin.encode()):
        pool.reset()  # another PIN: log in afresh with it, so a wrong one is caught
        pool = None
    if pool is None:
        pool = module.pools[label] = _SessionPool(module, label, pin)
    return pool


def _retrying(pool: _SessionPool, what: Callable[[Any], T], describe: str, key_label: str) -> T:
    """``what(session)`` with a pooled session; once more after the module dropped the sessions or the login."""
    for attempt in (1, 2):
        session = None
        try:
            session = pool.take()
            result = what(session)
        except LOST as exc:
            pool.reset(session)
            if attempt == 1:
                log.warning("PKCS#11 token %r dropped the session or the login (%s); logging in again",
                            pool.label, type(exc).__name__)
                continue
            if isinstance(exc, p11.NoSuchKey):  # logged in afresh: the key is really not there
                raise InvalidInput(f"令牌 {pool.label!r} 上没有标签为 {key_label!r} 的密钥",
                                   f"the token {pool.label!r} has no key labelled {key_label!r}",
                                   field="pki.pkcs11_key_label") from None
            raise Unavailable(f"PKCS#11 令牌 {pool.label!r} 重新登录后仍无法使用（{describe}：{type(exc).__name__}），"
                              "请检查 HSM 或令牌是否在线",
                              f"the PKCS#11 token {pool.label!r} still fails after logging in again ({describe}: "
                              f"{type(exc).__name__}); check that the HSM or token is online") from None
        except BaseException:
            if session is not None:
                pool.give(session)
            raise
        pool.give(session)
        return result
    raise AssertionError("unreachable")


# ---- the signer ------------------------------------------------------------------------------------------------


def _algorithm_of(private: Any) -> Algorithm:
    if private.key_type == KeyType.EC and private[Attribute.EC_PARAMS] == P256_PARAMS:
        return "ec-p256"
    if private.key_type == KeyType.RSA and len(private[Attribute.MODULUS]) * 8 == 2048:
        return "rsa2048"
    raise InvalidInput("令牌上的密钥类型不受支持（仅支持 RSA-2048 与 ECDSA P-256）",
                       "the key on the token is of an unsupported type (only RSA-2048 and ECDSA P-256)",
                       field="pki.pkcs11_key_label")


def _public_key_of(public: Any) -> PublicKey:
    if public.key_type == KeyType.RSA:
        return rsa.RSAPublicNumbers(int.from_bytes(public[Attribute.PUBLIC_EXPONENT], "big"),
                                    int.from_bytes(public[Attribute.MODULUS], "big")).public_key()
    point = public[Attribute.EC_POINT]
    if len(point) == 67 and point[:2] == b"\x04\x41":  # DER OCTET STRING around the point (PKCS#11 v2.40 2.3.3)
        point = point[2:]
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)


def check_unexportable(private: Any) -> None:
    """Refuse a CA key that could leave the token."""
    if private[Attribute.EXTRACTABLE] or not private[Attribute.SENSITIVE]:
        raise InvalidInput("令牌上的这把密钥可以导出（CKA_EXTRACTABLE 为真或 CKA_SENSITIVE 为假），不能作为 CA 密钥；"
                           "请在令牌上生成新密钥",
                           "this key on the token can be exported (CKA_EXTRACTABLE true or CKA_SENSITIVE false), so "
                           "it cannot be a CA key; generate a new one on the token", field="pki.pkcs11_key_label")


class Pkcs11Signer(SplicingSigner):
    """A CA key on a PKCS#11 token. Open it with :meth:`open` or make it with :meth:`generate`."""

    def __init__(self, where: TokenKey, module: _Module, pool: _SessionPool, public_key: PublicKey,
                 algorithm: Algorithm) -> None:
        self.where = where
        self.algorithm = algorithm
        self._module = module
        self._pool = pool
        self._public_key = public_key

    def __repr__(self) -> str:  # no PIN
        return f"Pkcs11Signer({self.where.describe()})"

    # -- opening ------------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, where: TokenKey, pin: str, public_key: PublicKey | None = None) -> Pkcs11Signer:
        """The key labelled ``where.key_label``, checked unexportable and answering. ``public_key`` (the CA
        certificate's) must be the key's: a test signature is verified with it."""
        module = _module(where.module)
        with module.calls():
            pool = _pool(module, where.token, pin)
            algorithm, token_public = _retrying(pool, lambda s: _inspect(pool, s, where.key_label, public_key is None),
                                                "open the key", where.key_label)
        signer = cls(where, module, pool, public_key or token_public, algorithm)  # type: ignore[arg-type]
        signer.sign_bytes(secrets.token_bytes(32))  # answers, and with the certificate's key
        return signer

    @classmethod
    def generate(cls, where: TokenKey, pin: str, algorithm: str) -> Pkcs11Signer:
        """A new key pair on the token: the private key sensitive, never extractable, for signing only.
        Refused when the token already has a key with that label (use it with ``--existing-key``)."""
        algorithm = check_algorithm(algorithm)
        if algorithm == "sm2":  # PKCS#11 v2.40 defines no SM2 mechanism; SoftHSM2 has none (docs/deployment.md)
            raise InvalidInput("PKCS#11 令牌上不能生成 SM2 密钥（PKCS#11 2.40 与 SoftHSM2 都没有 SM2）：SM2 CA 的密钥放在 CA 目录的加密文件中",
                               "an SM2 key cannot be made on a PKCS#11 token (PKCS#11 2.40 and SoftHSM2 have no SM2): "
                               "an SM2 CA keeps its key in the encrypted file in the CA folder", field="algorithm")
        module = _module(where.module)
        with module.calls():
            pool = _pool(module, where.token, pin)
            _retrying(pool, lambda s: None, "log in", where.key_label)  # the token answers, the PIN is right
            with _read_write(module, where.token) as session:
                if any(True for _ in session.get_objects({Attribute.LABEL: where.key_label})):
                    raise InvalidInput(f"令牌 {where.token!r} 上已有标签为 {where.key_label!r} 的对象；要用它作 CA 密钥请加 "
                                       "--existing-key，否则请换一个标签",
                                       f"the token {where.token!r} already holds an object labelled "
                                       f"{where.key_label!r}: add --existing-key to use it as the CA key, or choose "
                                       "another label", field="pki.pkcs11_key_label")
                public, _private = _generate(session, where.key_label, algorithm)
                public_key = _public_key_of(public)
        return cls.open(where, pin, public_key)

    # -- signing ------------------------------------------------------------------------------------------------

    def sign_digest(self, digest: bytes) -> bytes:
        def sign(session: Any) -> bytes:
            private = self._pool.key(session, self.where.key_label, ObjectClass.PRIVATE_KEY)
            if self.algorithm == "ec-p256":
                return ecdsa_der(private.sign(digest, mechanism=Mechanism.ECDSA))
            return bytes(private.sign(SHA256_DIGEST_INFO + digest, mechanism=Mechanism.RSA_PKCS))

        with self._module.calls():
            return _retrying(self._pool, sign, "sign", self.where.key_label)

    def public_key(self) -> PublicKey:
        return self._public_key

    def answers(self) -> str:
        """``"ok"``, or why the token does not answer with this key now: a readiness probe (a logged-in
        read of the key, no signature)."""
        try:
            self.key_attributes()
        except EportError as exc:
            return exc.en
        except Exception as exc:  # a module error LOST does not cover: still an answer, never a crash
            return f"the token does not answer ({type(exc).__name__})"
        return "ok"

    @property
    def logins(self) -> int:
        """How often this process logged in to the token (once, plus once per recovery)."""
        return self._pool.logins

    def key_attributes(self) -> dict[str, bool]:
        """What the token says of the private key: sensitive, extractable and how it always was."""
        names = {"sensitive": Attribute.SENSITIVE, "extractable": Attribute.EXTRACTABLE,
                 "always_sensitive": Attribute.ALWAYS_SENSITIVE, "never_extractable": Attribute.NEVER_EXTRACTABLE}

        def read(session: Any) -> dict[str, bool]:
            private = self._pool.key(session, self.where.key_label, ObjectClass.PRIVATE_KEY)
            return {name: bool(private[attribute]) for name, attribute in names.items()}

        with self._module.calls():
            return _retrying(self._pool, read, "read the key's attributes", self.where.key_label)

    def destroy(self) -> None:
        """Remove the key pair from the token (only a CA that was never made: `ca init` failing half-way)."""
        with self._module.calls(), _read_write(self._module, self.where.token) as session:
            for found in list(session.get_objects({Attribute.LABEL: self.where.key_label})):
                found.destroy()
        self._pool.reset()


def _inspect(pool: _SessionPool, session: Any, label: str, need_public: bool) -> tuple[Algorithm, PublicKey | None]:
    """The private key's algorithm (refused if it could leave the token) and, if asked, the public key."""
    try:
        private = pool.key(session, label, ObjectClass.PRIVATE_KEY)
        public = pool.key(session, label, ObjectClass.PUBLIC_KEY) if need_public else None
    except p11.MultipleObjectsReturned:
        raise InvalidInput(f"令牌 {pool.label!r} 上有多把标签为 {label!r} 的密钥，请改用唯一的标签",
                           f"the token {pool.label!r} has several keys labelled {label!r}; give the CA key a "
                           "label of its own", field="pki.pkcs11_key_label") from None
    check_unexportable(private)
    return _algorithm_of(private), _public_key_of(public) if public is not None else None


@contextmanager
def _read_write(module: _Module, label: str) -> Iterator[Any]:
    """A read-write session for making or removing objects (the process is already logged in)."""
    session = module.token(label).open(rw=True)
    try:
        yield session
    finally:
        _SessionPool._close(session)


def _generate(session: Any, label: str, algorithm: Algorithm) -> tuple[Any, Any]:
    key_id = secrets.token_bytes(16)  # CKA_ID ties the two halves together (PKCS#11 v2.40 4.4)
    private_template = {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.PRIVATE: True}
    options: dict[str, Any] = dict(store=True, label=label, id=key_id,
                                   capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                                   private_template=private_template)
    if algorithm == "ec-p256":
        parameters = session.create_domain_parameters(KeyType.EC, {Attribute.EC_PARAMS: P256_PARAMS}, local=True)
        return parameters.generate_keypair(**options)
    return session.generate_keypair(KeyType.RSA, 2048, **options)


def token_info(where: TokenKey) -> TokenInfo:
    """The token's label, serial, maker and model (no login needed)."""
    module = _module(where.module)
    with module.calls():
        token = module.token(where.token)
        return TokenInfo(label=token.label, serial=token.serial.decode("ascii", "replace"),
                         manufacturer=token.manufacturer_id, model=token.model)


__all__ = ["Pkcs11Signer", "TokenInfo", "TokenKey", "check_unexportable",
           "token_info"]
