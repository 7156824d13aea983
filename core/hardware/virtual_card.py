"""A virtual card that implements docs/card-profile.md with real keys.

Its persistent memory (EEPROM, in a real card) is a JSON file written atomically after every
change; its session state (selected, PIN verified, admin authenticated, challenge, staged
certificate, pending response) lives in RAM and is lost on power-off, reset or removal, exactly as
on a physical card. The PIN is kept only as a salted PBKDF2 hash inside that file and is never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from attrs import asdict, define, field
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from core.errors import InvalidInput
from core.hardware import profile as p
from core.hardware.apdu import Command, Response
from core.hardware.keys import admin_cryptogram
from core.hardware.profile import SW, Ins, KeyAlgorithm, Tag
from core.pki import gm, sm2

PIN_HASH_ITERATIONS = 5_000  # the card's own memory; the hash only keeps the PIN out of plain sight
STATE_VERSION = 1


def _atr() -> bytes:
    # TS=3B, T0: TD1 present + 7 historical bytes, TD1: TD2 present (T=0), TD2: T=1; then TCK.
    historical = b"EPORT\x01\x00"
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    tck = 0
    for b in body:
        tck ^= b
    return b"\x3b" + body + bytes([tck])


ATR = _atr()


class PulledOut(Exception):
    """The test hook pulled the card out of the reader before it could answer."""


def _hash_pin(pin: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", pin.encode("ascii"), salt, PIN_HASH_ITERATIONS)


@define
class _Memory:
    """What survives power loss. Field names are the JSON keys of the state file."""

    serial: str
    device_no: str
    admin_key: str  # hex; the card's copy of its derived key (the branch stores none)
    retry_limit: int
    tries_left: int
    pin_salt: str
    pin_hash: str
    pin_is_initial: bool
    key_algorithm: int = 0
    private_key: str = ""  # PKCS#8 PEM
    certificate: str = ""  # base64 DER
    version: int = STATE_VERSION


@define
class _Session:
    selected: bool = False
    pin_verified: bool = False
    admin: bool = False
    challenge: bytes | None = None
    staged: bytearray | None = None
    pending: bytes = b""


@define
class VirtualCard:
    """Use ``VirtualCard.create(...)`` for a new card and ``VirtualCard.load(path)`` to reopen one."""

    state_path: Path
    _memory: _Memory
    _session: _Session = field(factory=_Session)
    _pull_out: tuple[int, int] | None = None  # (INS, remaining count) of the test hook
    _failing: int = 0  # commands still to refuse (the fail_next test hook)
    present: bool = True

    # -- life cycle ----------------------------------------------------------------------------

    @classmethod
    def create(cls, state_path: str | os.PathLike[str], *, admin_key: bytes, serial: str | None = None,
               device_no: str = "", retry_limit: int = p.DEFAULT_RETRY_LIMIT) -> VirtualCard:
        serial = serial or secrets.token_hex(p.SERIAL_LENGTH // 2)
        if len(serial) != p.SERIAL_LENGTH or any(c not in "0123456789abcdef" for c in serial):
            raise InvalidInput("卡序列号须为16位小写十六进制",
                               "the card serial must be 16 lowercase hex digits", field="serial")
        if device_no and not (len(device_no) == p.DEVICE_NO_LENGTH and device_no.isdigit()):
            raise InvalidInput("设备编号须为13位数字", "the device number must be 13 digits",
                               field="device_no")
        if not 1 <= retry_limit <= 15:
            raise InvalidInput("重试次数须在1至15之间", "the retry limit must be between 1 and 15",
                               field="retry_limit")
        if len(admin_key) != p.ADMIN_KEY_LENGTH:
            raise InvalidInput("管理密钥长度错误", "the admin key must be 16 bytes", field="admin_key")
        salt = secrets.token_bytes(16)
        memory = _Memory(serial=serial, device_no=device_no, admin_key=admin_key.hex(),
                         retry_limit=retry_limit, tries_left=retry_limit, pin_salt=salt.hex(),
                         pin_hash=_hash_pin(p.INITIAL_PIN, salt).hex(), pin_is_initial=True)
        card = cls(Path(state_path), memory)
        card._persist()
        return card

    @classmethod
    def load(cls, state_path: str | os.PathLike[str]) -> VirtualCard:
        data: dict[str, Any] = json.loads(Path(state_path).read_text(encoding="utf-8"))
        return cls(Path(state_path), _Memory(**data))

    def _persist(self) -> None:
        """Write the whole memory to a temp file, fsync, then rename: the file is always whole."""
        data = json.dumps(asdict(self._memory), indent=1, sort_keys=True)
        directory = self.state_path.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".card-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.state_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # -- what a reader sees --------------------------------------------------------------------

    @property
    def serial(self) -> str:
        return self._memory.serial

    def power_on(self) -> None:
        self._session = _Session()

    def power_off(self) -> None:
        self._session = _Session()

    reset = power_on

    def pull_out_on(self, ins: int, nth: int = 1) -> None:
        """Test hook: lose power when the ``nth`` command with this INS arrives (before answering)."""
        self._pull_out = (ins, nth)

    def fail_next(self, count: int) -> None:
        """Test hook: answer the next ``count`` commands with 6F00 instead of running them, as a card
        that is not ready to be read yet."""
        self._failing = count

    def remove(self) -> None:
        self.present = False
        self.power_off()

    def insert(self) -> None:
        self.present = True
        self.power_on()

    def process(self, raw: bytes) -> bytes:
        """Answer one command APDU. Raises PulledOut when the test hook fires."""
        if self._pull_out is not None and len(raw) >= 2 and raw[1] == self._pull_out[0]:
            ins, remaining = self._pull_out
            if remaining <= 1:
                self._pull_out = None
                self.remove()
                raise PulledOut(f"card pulled out at INS {ins:02X}")
            self._pull_out = (ins, remaining - 1)
        if self._failing:
            self._failing -= 1
            return _sw(0x6F00).encode()  # ISO 7816-4: no precise diagnosis
        try:
            command = Command.decode(raw)
        except ValueError:
            return Response(b"", SW.WRONG_LENGTH).encode()
        return self._dispatch(command).encode()

    # -- command handlers ----------------------------------------------------------------------

    def _dispatch(self, c: Command) -> Response:
        if c.cla == p.CLA_PROPRIETARY and c.ins == Ins.COMMIT_CERTIFICATE:
            return self._guarded(c, self._commit_certificate)
        if c.cla != p.CLA_ISO:
            return _sw(SW.CLA_NOT_SUPPORTED)
        if c.ins == Ins.SELECT:
            return self._select(c)
        if c.ins == Ins.GET_RESPONSE:
            return self._get_response(c)
        handlers = {
            Ins.GET_DATA: self._get_data,
            Ins.PUT_DATA: self._put_data,
            Ins.VERIFY: self._verify,
            Ins.CHANGE_REFERENCE_DATA: self._change_reference_data,
            Ins.RESET_RETRY_COUNTER: self._reset_retry_counter,
            Ins.GET_CHALLENGE: self._get_challenge,
            Ins.EXTERNAL_AUTHENTICATE: self._external_authenticate,
            Ins.GENERATE_ASYMMETRIC_KEY_PAIR: self._generate,
            Ins.READ_BINARY: self._read_binary,
            Ins.UPDATE_BINARY: self._update_binary,
            Ins.PERFORM_SECURITY_OPERATION: self._pso,
        }
        handler = handlers.get(c.ins)  # type: ignore[call-overload]
        if handler is None:
            return _sw(SW.INS_NOT_SUPPORTED)
        return self._guarded(c, handler)

    def _guarded(self, c: Command, handler: Any) -> Response:
        if not self._session.selected:
            return _sw(SW.CONDITIONS_NOT_SATISFIED)
        self._session.pending = b""
        response: Response = handler(c)
        return response

    def _select(self, c: Command) -> Response:
        if c.p1 != 0x04 or c.p2 not in (0x00, 0x0C):
            return _sw(SW.INCORRECT_P1P2)
        if c.data != p.AID:
            self._session = _Session()
            return _sw(SW.FILE_NOT_FOUND)
        self._session = _Session(selected=True)
        if c.p2 == 0x0C:
            return _sw(SW.OK)
        return Response(bytes([0x6F, len(p.AID) + 2, 0x84, len(p.AID)]) + p.AID, SW.OK)

    def _long_response(self, data: bytes) -> Response:
        """Answer up to 256 bytes now; the rest waits for GET RESPONSE (61xx)."""
        if len(data) <= 256:
            return Response(data, SW.OK)
        self._session.pending = data[256:]
        return Response(data[:256], 0x6100 | min(len(data) - 256, 256) & 0xFF)

    def _get_response(self, c: Command) -> Response:
        pending = self._session.pending
        if not pending:
            return _sw(SW.CONDITIONS_NOT_SATISFIED)
        self._session.pending = b""
        return self._long_response(pending)

    def _get_data(self, c: Command) -> Response:
        tag = c.p1 << 8 | c.p2
        m = self._memory
        if tag == Tag.SERIAL:
            return Response(m.serial.encode("ascii"), SW.OK)
        if tag == Tag.DEVICE_NO:
            return Response(m.device_no.encode("ascii"), SW.OK) if m.device_no else _sw(
                SW.REFERENCED_DATA_NOT_FOUND)
        if tag == Tag.STATUS:
            cert_len = len(self._certificate())
            status = bytes([int(self._personalised()), int(m.pin_is_initial), m.tries_left, m.retry_limit,
                            m.key_algorithm, int(self._session.pin_verified)]) + cert_len.to_bytes(2, "big")
            return Response(status, SW.OK)
        if tag == Tag.PUBLIC_KEY:
            key = self._private_key()
            if key is None:
                return _sw(SW.REFERENCED_DATA_NOT_FOUND)
            return self._long_response(gm.spki_der(key.public_key()))
        return _sw(SW.INCORRECT_P1P2)

    def _put_data(self, c: Command) -> Response:
        if (c.p1 << 8 | c.p2) != Tag.DEVICE_NO:
            return _sw(SW.INCORRECT_P1P2)
        if not self._session.admin:
            return _sw(SW.SECURITY_STATUS_NOT_SATISFIED)
        if len(c.data) != p.DEVICE_NO_LENGTH or not c.data.isdigit():
            return _sw(SW.WRONG_DATA)
        self._memory.device_no = c.data.decode("ascii")
        self._persist()
        return _sw(SW.OK)

    def _pin_matches(self, pin: str) -> bool:
        expected = bytes.fromhex(self._memory.pin_hash)
        return hmac.compare_digest(_hash_pin(pin, bytes.fromhex(self._memory.pin_salt)), expected)

    def _count_wrong_pin(self) -> Response:
        # Persist the decrement before answering, so pulling the card cannot save a try.
        self._memory.tries_left = max(0, self._memory.tries_left - 1)
        self._session.pin_verified = False
        self._persist()
        return _sw(SW.VERIFY_FAILED | self._memory.tries_left)

    def _pin_correct(self) -> None:
        self._session.pin_verified = True
        if self._memory.tries_left != self._memory.retry_limit:
            self._memory.tries_left = self._memory.retry_limit
            self._persist()

    def _verify(self, c: Command) -> Response:
        if c.p1 != 0x00 or c.p2 != p.PIN_REFERENCE:
            return _sw(SW.INCORRECT_P1P2)
        m = self._memory
        if not c.data:  # status query: no try is used
            if m.tries_left == 0:
                return _sw(SW.AUTH_BLOCKED)
            return _sw(SW.OK) if self._session.pin_verified else _sw(SW.VERIFY_FAILED | m.tries_left)
        pin = p.parse_pin_block(c.data)
        if pin is None:
            return _sw(SW.WRONG_DATA)
        if m.tries_left == 0:
            return _sw(SW.AUTH_BLOCKED)
        if not self._pin_matches(pin):
            return self._count_wrong_pin()
        self._pin_correct()
        return _sw(SW.OK)

    def _change_reference_data(self, c: Command) -> Response:
        if c.p1 != 0x00 or c.p2 != p.PIN_REFERENCE:
            return _sw(SW.INCORRECT_P1P2)
        if len(c.data) != 2 * p.PIN_BLOCK_LENGTH:
            return _sw(SW.WRONG_LENGTH)
        old = p.parse_pin_block(c.data[:p.PIN_BLOCK_LENGTH])
        new = p.parse_pin_block(c.data[p.PIN_BLOCK_LENGTH:])
        if old is None or new is None:
            return _sw(SW.WRONG_DATA)
        m = self._memory
        if m.tries_left == 0:
            return _sw(SW.AUTH_BLOCKED)
        # The rules on the new PIN are checked first: refusing them costs the holder no try.
        if new == p.INITIAL_PIN:
            return _sw(SW.PIN_INITIAL_REFUSED)
        if new == old:
            return _sw(SW.PIN_UNCHANGED_REFUSED)
        if not self._pin_matches(old):
            return self._count_wrong_pin()
        salt = secrets.token_bytes(16)
        m.pin_salt, m.pin_hash = salt.hex(), _hash_pin(new, salt).hex()
        m.pin_is_initial = False
        m.tries_left = m.retry_limit
        self._session.pin_verified = True
        self._persist()
        return _sw(SW.OK)

    def _reset_retry_counter(self, c: Command) -> Response:
        if c.p1 != p.RESET_TO_INITIAL_P1 or c.p2 != p.PIN_REFERENCE:
            return _sw(SW.INCORRECT_P1P2)
        if c.data:
            return _sw(SW.WRONG_LENGTH)
        if not self._session.admin:
            return _sw(SW.SECURITY_STATUS_NOT_SATISFIED)
        m = self._memory
        salt = secrets.token_bytes(16)
        m.pin_salt, m.pin_hash = salt.hex(), _hash_pin(p.INITIAL_PIN, salt).hex()
        m.pin_is_initial = True
        m.tries_left = m.retry_limit
        self._session.pin_verified = False
        self._persist()
        return _sw(SW.OK)

    def _get_challenge(self, c: Command) -> Response:
        if c.p1 or c.p2:
            return _sw(SW.INCORRECT_P1P2)
        if c.le not in (None, p.CHALLENGE_LENGTH):
            return _sw(SW.WRONG_LENGTH)
        self._session.challenge = secrets.token_bytes(p.CHALLENGE_LENGTH)
        return Response(self._session.challenge, SW.OK)

    def _external_authenticate(self, c: Command) -> Response:
        if c.p1 != 0x00 or c.p2 != p.ADMIN_KEY_REFERENCE:
            return _sw(SW.INCORRECT_P1P2)
        challenge, self._session.challenge = self._session.challenge, None  # one use only
        if challenge is None:
            return _sw(SW.CONDITIONS_NOT_SATISFIED)
        if len(c.data) != p.ADMIN_CRYPTOGRAM_LENGTH:
            return _sw(SW.WRONG_LENGTH)
        expected = admin_cryptogram(bytes.fromhex(self._memory.admin_key), challenge, self._memory.serial)
        if not hmac.compare_digest(expected, c.data):
            self._session.admin = False
            return _sw(SW.ADMIN_AUTH_FAILED)
        self._session.admin = True
        return _sw(SW.OK)

    def _generate(self, c: Command) -> Response:
        if c.p1 != p.GENERATE_P1 or c.p2 != 0x00:
            return _sw(SW.INCORRECT_P1P2)
        if not self._session.admin:
            return _sw(SW.SECURITY_STATUS_NOT_SATISFIED)
        if len(c.data) != 1 or c.data[0] not in p.CARD_KEY_ALGORITHMS:
            return _sw(SW.WRONG_DATA)
        key: Any
        if c.data[0] == KeyAlgorithm.RSA_2048:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif c.data[0] == KeyAlgorithm.SM2:
            key = sm2.generate_private_key()
        else:
            key = ec.generate_private_key(ec.SECP256R1())
        m = self._memory
        m.private_key = _private_pem(key)
        m.key_algorithm = c.data[0]
        m.certificate = ""  # the old certificate no longer matches the key
        self._persist()
        return self._long_response(gm.spki_der(key.public_key()))

    def _read_binary(self, c: Command) -> Response:
        offset = c.p1 << 8 | c.p2
        if c.p1 & 0x80:
            return _sw(SW.INCORRECT_P1P2)
        cert = self._certificate()
        if not cert:
            return _sw(SW.FILE_NOT_FOUND)
        if offset >= len(cert):
            return _sw(SW.WRONG_OFFSET)
        return Response(cert[offset:offset + (c.le or 256)], SW.OK)

    def _update_binary(self, c: Command) -> Response:
        offset = c.p1 << 8 | c.p2
        if c.p1 & 0x80:
            return _sw(SW.INCORRECT_P1P2)
        if not self._session.admin:
            return _sw(SW.SECURITY_STATUS_NOT_SATISFIED)
        if not c.data:
            return _sw(SW.WRONG_LENGTH)
        if offset == 0:
            self._session.staged = bytearray()
        staged = self._session.staged
        if staged is None or offset != len(staged):
            return _sw(SW.WRONG_OFFSET)  # chunks are written in order from offset 0
        if offset + len(c.data) > p.MAX_CERTIFICATE_LENGTH:
            return _sw(SW.WRONG_LENGTH)
        staged.extend(c.data)
        return _sw(SW.OK)

    def _commit_certificate(self, c: Command) -> Response:
        if c.p1 or c.p2:
            return _sw(SW.INCORRECT_P1P2)
        if not self._session.admin:
            return _sw(SW.SECURITY_STATUS_NOT_SATISFIED)
        staged, self._session.staged = self._session.staged, None
        if not staged:
            return _sw(SW.CONDITIONS_NOT_SATISFIED)
        if len(c.data) != p.DIGEST_LENGTH:
            return _sw(SW.WRONG_LENGTH)
        der = bytes(staged)
        if not hmac.compare_digest(hashlib.sha256(der).digest(), c.data):
            return _sw(SW.WRONG_DATA)
        key = self._private_key()
        if key is None:
            return _sw(SW.REFERENCED_DATA_NOT_FOUND)
        try:
            cert_spki = gm.certificate_spki(x509.load_der_x509_certificate(der))
        except ValueError:
            return _sw(SW.WRONG_DATA)
        if cert_spki != gm.spki_der(key.public_key()):
            return _sw(SW.WRONG_DATA)  # a certificate for another key would never verify
        self._memory.certificate = base64.b64encode(der).decode("ascii")
        self._persist()
        return _sw(SW.OK)

    def _pso(self, c: Command) -> Response:
        if c.p1 != p.PSO_SIGN_P1 or c.p2 != p.PSO_SIGN_P2:
            return _sw(SW.INCORRECT_P1P2)
        key = self._private_key()
        if key is None:
            return _sw(SW.REFERENCED_DATA_NOT_FOUND)
        if self._memory.tries_left == 0:
            return _sw(SW.AUTH_BLOCKED)
        if not self._session.pin_verified:
            return _sw(SW.SECURITY_STATUS_NOT_SATISFIED)
        if len(c.data) != p.DIGEST_LENGTH:
            return _sw(SW.WRONG_LENGTH)
        prehashed = Prehashed(hashes.SHA256())
        if isinstance(key, rsa.RSAPrivateKey):
            signature = key.sign(c.data, padding.PKCS1v15(), prehashed)
        elif sm2.is_private_key(key):
            signature = sm2.sign_digest(key, c.data)  # the data is e = SM3(Z || M), from the host
        else:
            signature = key.sign(c.data, ec.ECDSA(prehashed))
        return self._long_response(signature)

    # -- memory helpers ------------------------------------------------------------------------

    def _certificate(self) -> bytes:
        return base64.b64decode(self._memory.certificate) if self._memory.certificate else b""

    def _private_key(self) -> Any:
        """The card's key: pyca's RSA or EC key, or tongsuopy's SM2 key (None before GENERATE)."""
        if not self._memory.private_key:
            return None
        pem = self._memory.private_key.encode("ascii")
        if self._memory.key_algorithm == KeyAlgorithm.SM2:
            return sm2.load_private_key_pem(pem)
        key = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
        return key

    def _personalised(self) -> bool:
        return bool(self._memory.private_key and self._memory.certificate)


def _private_pem(key: Any) -> str:
    """The key as unencrypted PKCS#8 PEM (the card's memory is the protection)."""
    if sm2.is_private_key(key):
        return sm2.private_key_pem(key).decode("ascii")
    return str(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode("ascii"))


def _sw(sw: int) -> Response:
    return Response(b"", sw)
