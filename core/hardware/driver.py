"""CardDriver: the card profile (docs/card-profile.md) as Python calls with typed, bilingual errors."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from enum import Enum
from typing import Any

from attrs import frozen

from core.errors import InvalidInput
from core.hardware import profile as p
from core.hardware.apdu import Command, Response
from core.hardware.errors import (
    AdminAuthFailed,
    CardBlocked,
    CardError,
    NotPersonalised,
    SecurityStatusNotSatisfied,
    WrongPin,
    initial_pin_refused,
    pin_format_error,
    unchanged_pin_refused,
)
from core.hardware.keys import admin_cryptogram
from core.hardware.profile import SW, Ins, KeyAlgorithm, Tag
from core.hardware.transport import Transport
from core.pki import gm, sm2


@frozen
class CardInfo:
    serial: str
    device_no: str  # "" until the branch writes it
    personalised: bool
    pin_is_initial: bool
    tries_left: int
    retry_limit: int
    key_algorithm: KeyAlgorithm
    certificate_length: int

    @property
    def blocked(self) -> bool:
        return self.tries_left == 0


def _raise_for(response: Response) -> None:
    """Turn a status word into the matching typed error."""
    sw = response.sw
    if sw == SW.OK:
        return
    if sw & 0xFFF0 == SW.VERIFY_FAILED:
        tries = sw & 0x0F
        raise WrongPin(tries)
    if sw == SW.AUTH_BLOCKED:
        raise CardBlocked()
    if sw == SW.SECURITY_STATUS_NOT_SATISFIED:
        raise SecurityStatusNotSatisfied(sw)
    if sw in (SW.REFERENCED_DATA_NOT_FOUND, SW.FILE_NOT_FOUND):
        raise NotPersonalised(sw)
    if sw == SW.ADMIN_AUTH_FAILED:
        raise AdminAuthFailed()
    if sw == SW.PIN_INITIAL_REFUSED:
        raise initial_pin_refused()
    if sw == SW.PIN_UNCHANGED_REFUSED:
        raise unchanged_pin_refused()
    raise CardError(sw)


Authenticator = Callable[[bytes], bytes]
"""Answers the card's challenge with the admin cryptogram; the server does this for a remote card."""


class AdminSession(Enum):
    """The session is already admin-authenticated (:meth:`CardDriver.external_authenticate`)."""

    AUTHENTICATED = "authenticated"


AUTHENTICATED = AdminSession.AUTHENTICATED

AdminAuth = bytes | Authenticator | AdminSession
"""How an admin operation gets its authorisation: the card's admin key (the branch's own reader),
an :data:`Authenticator` (the key stays on the server), or :data:`AUTHENTICATED` (already done)."""


def _check_new_pin(pin: str) -> None:
    if not p.is_valid_pin(pin):
        raise pin_format_error("new_pin")
    if pin == p.INITIAL_PIN:
        raise initial_pin_refused()


class CardDriver:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    # -- plumbing ------------------------------------------------------------------------------

    def exchange(self, command: Command) -> Response:
        """Send one command and collect a long answer (61xx -> GET RESPONSE)."""
        response = Response.decode(self.transport.transmit(command.encode()))
        data = response.data
        while response.sw1 == 0x61:
            more = Command(p.CLA_ISO, Ins.GET_RESPONSE, 0, 0, le=response.sw2 or 256)
            response = Response.decode(self.transport.transmit(more.encode()))
            data += response.data
        return Response(data, response.sw)

    def _call(self, command: Command) -> bytes:
        response = self.exchange(command)
        _raise_for(response)
        return response.data

    def connect(self) -> CardDriver:
        self.transport.connect()
        self.select()
        return self

    def disconnect(self) -> None:
        self.transport.disconnect()

    def select(self) -> None:
        data = self._call(Command(p.CLA_ISO, Ins.SELECT, 0x04, 0x00, p.AID, le=256))
        if p.AID not in data:
            raise CardError(SW.FILE_NOT_FOUND, "这张卡不是电子口岸卡", "this is not an E-Port card")

    # -- reading -------------------------------------------------------------------------------

    def _get_data(self, tag: Tag) -> bytes:
        return self._call(Command(p.CLA_ISO, Ins.GET_DATA, tag >> 8, tag & 0xFF, le=256))

    def serial(self) -> str:
        return self._get_data(Tag.SERIAL).decode("ascii")

    def card_info(self) -> CardInfo:
        serial = self.serial()
        try:
            device_no = self._get_data(Tag.DEVICE_NO).decode("ascii")
        except NotPersonalised:
            device_no = ""
        s = self._get_data(Tag.STATUS)
        if len(s) != p.STATUS_LENGTH:
            raise CardError(SW.WRONG_LENGTH)
        return CardInfo(serial=serial, device_no=device_no, personalised=bool(s[0]),
                        pin_is_initial=bool(s[1]), tries_left=s[2], retry_limit=s[3],
                        key_algorithm=KeyAlgorithm(s[4]), certificate_length=int.from_bytes(s[6:8], "big"))

    def public_key(self) -> Any:
        """The card key: pyca's RSA / EC public key, or tongsuopy's SM2 one (core.pki.gm)."""
        return gm.load_public_key(self._get_data(Tag.PUBLIC_KEY))

    def read_certificate(self) -> bytes:
        """The certificate DER, read in chunks by offset (short APDUs only)."""
        length = self.card_info().certificate_length
        if length == 0:
            raise NotPersonalised(SW.FILE_NOT_FOUND)
        der = b""
        while len(der) < length:
            chunk = min(p.CHUNK, length - len(der))
            der += self._call(Command(p.CLA_ISO, Ins.READ_BINARY, len(der) >> 8, len(der) & 0xFF, le=chunk))
        return der

    # -- holder operations ---------------------------------------------------------------------

    def pin_tries_left(self) -> int:
        """VERIFY without data: no try is used."""
        response = self.exchange(Command(p.CLA_ISO, Ins.VERIFY, 0x00, p.PIN_REFERENCE))
        if response.sw == SW.OK:
            return self.card_info().tries_left
        if response.sw & 0xFFF0 == SW.VERIFY_FAILED:
            return response.sw & 0x0F
        if response.sw == SW.AUTH_BLOCKED:
            return 0
        _raise_for(response)
        return 0

    def verify_pin(self, pin: str) -> None:
        if not p.is_valid_pin(pin):
            raise pin_format_error("pin")  # a malformed PIN never reaches the card, so costs no try
        self._call(Command(p.CLA_ISO, Ins.VERIFY, 0x00, p.PIN_REFERENCE, p.pin_block(pin)))

    def change_pin(self, old: str, new: str) -> None:
        if not p.is_valid_pin(old):
            raise pin_format_error("old_pin")
        _check_new_pin(new)
        if new == old:
            raise unchanged_pin_refused()
        data = p.pin_block(old) + p.pin_block(new)
        self._call(Command(p.CLA_ISO, Ins.CHANGE_REFERENCE_DATA, 0x00, p.PIN_REFERENCE, data))

    def sign_digest(self, pin: str, digest: bytes) -> bytes:
        """VERIFY then PSO: COMPUTE DIGITAL SIGNATURE over a 32-byte digest.

        RSA: PKCS#1 v1.5 over the SHA-256 DigestInfo; ECDSA: DER ECDSA-Sig-Value of a SHA-256 digest;
        SM2: DER SEQUENCE {r, s} of e = SM3(Z || M) (:meth:`signing_digest`).
        """
        if len(digest) != p.DIGEST_LENGTH:
            raise InvalidInput("摘要须为32字节（SHA-256 值，SM2 卡为 SM3(Z||M)）",
                               "the digest must be 32 bytes (a SHA-256 value; SM3(Z || M) for an SM2 card)",
                               field="digest")
        self.verify_pin(pin)
        return self._call(Command(p.CLA_ISO, Ins.PERFORM_SECURITY_OPERATION, p.PSO_SIGN_P1, p.PSO_SIGN_P2,
                                  digest, le=256))

    def signing_digest(self, data: bytes) -> bytes:
        """What the card signs for ``data``: SHA-256(data), or for an SM2 card e = SM3(Z || data) with Z from
        the card's public key and the GM/T 0009 default ID (docs/card-profile.md)."""
        status = self._get_data(Tag.STATUS)
        if len(status) == p.STATUS_LENGTH and status[4] == KeyAlgorithm.SM2:
            return sm2.signing_digest(self.public_key(), data)
        return hashlib.sha256(data).digest()

    def sign(self, pin: str, data: bytes) -> bytes:
        return self.sign_digest(pin, self.signing_digest(data))

    # -- branch (admin) operations -------------------------------------------------------------

    def get_challenge(self) -> bytes:
        """The card's one-use challenge for the next EXTERNAL AUTHENTICATE."""
        return self._call(Command(p.CLA_ISO, Ins.GET_CHALLENGE, 0, 0, le=p.CHALLENGE_LENGTH))

    def external_authenticate(self, cryptogram: bytes) -> None:
        """Answer the last challenge; success lasts until the next SELECT, reset or power-off."""
        if len(cryptogram) != p.ADMIN_CRYPTOGRAM_LENGTH:
            raise InvalidInput(f"授权码须为{p.ADMIN_CRYPTOGRAM_LENGTH}字节",
                               f"the cryptogram must be {p.ADMIN_CRYPTOGRAM_LENGTH} bytes", field="cryptogram")
        try:
            self._call(Command(p.CLA_ISO, Ins.EXTERNAL_AUTHENTICATE, 0x00, p.ADMIN_KEY_REFERENCE, cryptogram))
        except CardError as exc:
            if exc.sw == SW.CONDITIONS_NOT_SATISFIED:  # no challenge pending: re-inserted, or already used
                raise CardError(exc.sw, "授权已失效（卡片已重新插拔或已使用过），请重新操作",
                                "the authorisation expired (the card was re-inserted or it was already used); "
                                "start again", field="cryptogram") from None
            raise

    def authenticate(self, authenticator: Authenticator) -> None:
        """GET CHALLENGE, let ``authenticator`` answer it, EXTERNAL AUTHENTICATE."""
        self.external_authenticate(authenticator(self.get_challenge()))

    def authenticate_admin(self, admin_key: bytes) -> None:
        """GET CHALLENGE + EXTERNAL AUTHENTICATE; the key itself never leaves the host."""
        serial = self.serial()
        self.authenticate(lambda challenge: admin_cryptogram(admin_key, challenge, serial))

    def _authorise(self, admin: AdminAuth) -> None:
        if isinstance(admin, AdminSession):
            return  # the caller authenticated this session; the card refuses (69 82) otherwise
        if isinstance(admin, bytes | bytearray):
            self.authenticate_admin(bytes(admin))
        else:
            self.authenticate(admin)

    def reset_retry_counter(self, admin: AdminAuth) -> None:
        """Unlock (also used for renewal and reissue): PIN back to 88888888, tries back to the limit."""
        self._authorise(admin)
        self._call(Command(p.CLA_ISO, Ins.RESET_RETRY_COUNTER, p.RESET_TO_INITIAL_P1, p.PIN_REFERENCE))

    def set_device_no(self, admin: AdminAuth, device_no: str) -> None:
        if len(device_no) != p.DEVICE_NO_LENGTH or not device_no.isdigit():
            raise InvalidInput("设备编号须为13位数字", "the device number must be 13 digits",
                               field="device_no")
        self._authorise(admin)
        self._call(Command(p.CLA_ISO, Ins.PUT_DATA, Tag.DEVICE_NO >> 8, Tag.DEVICE_NO & 0xFF,
                           device_no.encode("ascii")))

    def generate_key_pair(self, admin: AdminAuth, algorithm: KeyAlgorithm) -> Any:
        """A new key pair on the card; the old certificate is dropped. Returns the public key."""
        if algorithm not in p.CARD_KEY_ALGORITHMS:
            raise InvalidInput("不支持的密钥算法", "unsupported key algorithm", field="algorithm")
        self._authorise(admin)
        spki = self._call(Command(p.CLA_ISO, Ins.GENERATE_ASYMMETRIC_KEY_PAIR, p.GENERATE_P1, 0x00,
                                  bytes([algorithm]), le=256))
        return gm.load_public_key(spki)

    def write_certificate(self, admin: AdminAuth, der: bytes) -> None:
        """Stage the DER in chunks, commit it with its SHA-256, then read it back to be sure."""
        if not der or len(der) > p.MAX_CERTIFICATE_LENGTH:
            raise InvalidInput("证书为空或过长", "the certificate is empty or too long", field="certificate")
        self._authorise(admin)
        for offset in range(0, len(der), p.CHUNK):
            self._call(Command(p.CLA_ISO, Ins.UPDATE_BINARY, offset >> 8, offset & 0xFF,
                               der[offset:offset + p.CHUNK]))
        self._call(Command(p.CLA_PROPRIETARY, Ins.COMMIT_CERTIFICATE, 0, 0, hashlib.sha256(der).digest()))
        if self.read_certificate() != der:
            raise CardError(SW.WRONG_DATA, "证书写入后读回不一致，请重新写卡",
                            "the certificate read back differs from the one written; write it again")

    def personalise(self, admin: AdminAuth, algorithm: KeyAlgorithm,
                    make_certificate: Callable[[Any], bytes], *, device_no: str = "") -> CardInfo:
        """Card making: device number, key pair, certificate from the CA (``make_certificate``), PIN reset."""
        if device_no:
            self.set_device_no(admin, device_no)
        public_key = self.generate_key_pair(admin, algorithm)
        self.write_certificate(admin, make_certificate(public_key))
        self.reset_retry_counter(admin)
        return self.card_info()
