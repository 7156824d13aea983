"""The agent's methods over a :class:`CardDriver`: the official client control's and eportcard's own.

Method and argument names are the official library's (client.js v1.3.9; docs/agent.md lists every
official method, supported or not, with its source).

Every handler takes the card slot and the request's ``args`` and returns the reply's ``Data``
list, or raises an :class:`EportError` (turned into ``Result: false`` by :func:`dispatch`).
Handlers run in a worker thread with the slot's lock held, so one request at a time reaches a card.
PINs are read from ``args`` and handed to the card; nothing here keeps or logs them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from importlib import metadata
from typing import Any, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import NameOID

from core.errors import EportError, InvalidInput
from core.hardware import profile as p
from core.hardware.driver import AUTHENTICATED, CardDriver, CardInfo
from core.hardware.errors import CardError, CardRemoved, NoReader
from core.hardware.profile import SW, KeyAlgorithm
from core.pki import gm, sm2

from . import protocol

BEIJING = timezone(timedelta(hours=8))  # the control reports certificate times in China Standard Time
TIME_FORMAT = "%Y%m%d%H%M%S"  # szStartTime / szEndTime, e.g. 20190120195948

Args = Mapping[str, Any]

log = logging.getLogger(__name__)


class CardSlot(Protocol):
    """Where the agent finds its card: one reader (or the in-process virtual card)."""

    @property
    def reader(self) -> str: ...

    def driver(self) -> CardDriver:
        """A connected driver for the card now in the slot. Raises NoReader / CardRemoved."""
        ...

    def reset(self) -> None:
        """Close the card session; the next driver() opens a new one."""
        ...


Handler = Callable[[CardSlot, Args], list[Any]]


# -- arguments -------------------------------------------------------------------------------------


def _text(args: Args, name: str, *, required: bool = True) -> str:
    value = args.get(name)
    if value is None or value == "":
        if required:
            raise InvalidInput(f"缺少参数 {name}", f"the argument {name} is required", field=name)
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"参数 {name} 须为字符串", f"the argument {name} must be a string", field=name)
    return value


def _pin(args: Args, name: str) -> str:
    value = args.get(name)
    if value is None or value == "":
        raise InvalidInput("请输入卡密码", "enter the card PIN", field=name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # some pages send the PIN as a JSON number
    if not isinstance(value, str):
        raise InvalidInput("卡密码须为数字字符串", "the PIN must be a string of digits", field=name)
    return value


def _hex(args: Args, name: str, length: int) -> bytes:
    text = _text(args, name)
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != length:
        raise InvalidInput(f"参数 {name} 须为{length * 2}位十六进制", f"{name} must be {length * 2} hex digits",
                           field=name)
    return value


def _base64(args: Args, name: str) -> bytes:
    text = _text(args, name)
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"参数 {name} 须为Base64编码", f"{name} must be Base64", field=name) from None


def _digest(args: Args, name: str) -> bytes:
    """A digest the caller computed, as cus-sec_SpcSHA1DigestAsPEM returns it: hex (upper or lower case)."""
    text = _text(args, name).strip()
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != p.DIGEST_LENGTH:
        raise InvalidInput(f"参数 {name} 须为{p.DIGEST_LENGTH * 2}位十六进制摘要（cus-sec_SpcSHA1DigestAsPEM 的结果）",
                           f"{name} must be the {p.DIGEST_LENGTH * 2}-hex-digit digest that "
                           "cus-sec_SpcSHA1DigestAsPEM returns", field=name)
    return value


# -- the card --------------------------------------------------------------------------------------


def _certificate(card: CardDriver) -> x509.Certificate:
    return x509.load_der_x509_certificate(card.read_certificate())


def cert_no(certificate: x509.Certificate) -> str:
    """The E-Port certificate number: the serial in lowercase hex."""
    return format(certificate.serial_number, "x")


def card_id(info: CardInfo) -> str:
    """The card number a holder sees: the 13-digit device number, else the chip serial (not yet written)."""
    return info.device_no or info.serial


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _first_name(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def _algorithm_name(algorithm: KeyAlgorithm) -> str:
    return {KeyAlgorithm.RSA_2048: "rsa2048", KeyAlgorithm.ECDSA_P256: "ec-p256",
            KeyAlgorithm.SM2: "sm2"}.get(algorithm, "none")


def card_status(slot: CardSlot) -> dict[str, Any]:
    """What the web front shows about the card in the reader; ``present: false`` when there is none."""
    try:
        card = slot.driver()
        info = card.card_info()
    except (NoReader, CardRemoved):
        return {"present": False, "reader": slot.reader}
    status: dict[str, Any] = {
        "present": True, "reader": slot.reader, "serial": info.serial, "cardId": card_id(info),
        "deviceNo": info.device_no, "personalised": info.personalised, "pinIsInitial": info.pin_is_initial,
        "triesLeft": info.tries_left, "retryLimit": info.retry_limit, "blocked": info.blocked,
        "keyAlgorithm": _algorithm_name(info.key_algorithm),
    }
    if info.certificate_length:
        cert = _certificate(card)
        status.update({
            "certNo": cert_no(cert),
            "subject": cert.subject.rfc4514_string(),
            "enterprise": _first_name(cert.subject, NameOID.ORGANIZATION_NAME),
            "uscc": _first_name(cert.subject, NameOID.ORGANIZATION_IDENTIFIER),
            "holder": _first_name(cert.subject, NameOID.COMMON_NAME),
            "kind": _first_name(cert.subject, NameOID.ORGANIZATIONAL_UNIT_NAME),
            "issuer": cert.issuer.rfc4514_string(),
            "notBefore": cert.not_valid_before_utc.isoformat(),
            "notAfter": cert.not_valid_after_utc.isoformat(),
        })
    return status


# -- cus-sec_*: the client-control subset ------------------------------------------------------------


def client_signature(certificate: x509.Certificate, signature: bytes) -> bytes:
    """A card signature as the client control returns it: as the card made it (PKCS#1 v1.5, DER ECDSA), but
    for an SM2 card r || s, 32 bytes each, not DER (docs/agent.md, "SM2 cards")."""
    return sm2.to_raw(signature) if gm.is_sm2_certificate(certificate) else signature


def sign_data_as_pem(slot: CardSlot, args: Args) -> list[Any]:
    """Data[0] = Base64 signature of inData (UTF-8): over SHA-256 (RSA, P-256) or SM3(Z || inData) (SM2,
    as r || s); Data[1] = certificate number."""
    in_data = _text(args, "inData")
    pin = _pin(args, "passwd")
    card = slot.driver()
    cert = _certificate(card)
    signature = card.sign(pin, in_data.encode("utf-8"))
    return [_b64(client_signature(cert, signature)), cert_no(cert)]


def get_sign_cert_as_pem(slot: CardSlot, args: Args) -> list[Any]:
    """Data[0] = the signing certificate, Base64 DER without the PEM armour."""
    return [_b64(slot.driver().read_certificate())]


def get_cert_no(slot: CardSlot, args: Args) -> list[Any]:
    return [cert_no(_certificate(slot.driver()))]


def get_card_id(slot: CardSlot, args: Args) -> list[Any]:
    return [card_id(slot.driver().card_info())]


def verify_pin(slot: CardSlot, args: Args) -> list[Any]:
    slot.driver().verify_pin(_pin(args, "passwd"))
    return []


def change_pin(slot: CardSlot, args: Args) -> list[Any]:
    """88888888 is refused as the new PIN by the driver (and by the card itself)."""
    old, new = _pin(args, "oldPin"), _pin(args, "newPin")
    slot.driver().change_pin(old, new)
    return []


def valid_time(certificate: x509.Certificate) -> dict[str, str]:
    return {"szStartTime": certificate.not_valid_before_utc.astimezone(BEIJING).strftime(TIME_FORMAT),
            "szEndTime": certificate.not_valid_after_utc.astimezone(BEIJING).strftime(TIME_FORMAT)}


def get_valid_time_from_cert(slot: CardSlot, args: Args) -> list[Any]:
    """Data[0] = {szStartTime, szEndTime} (yyyyMMddHHmmss, Beijing time) of ``cert`` or the card's."""
    if args.get("cert"):
        der = _base64(args, "cert")
        try:
            certificate = x509.load_der_x509_certificate(der)
        except ValueError:
            raise InvalidInput("参数 cert 不是DER证书", "cert is not a DER certificate", field="cert") from None
    else:
        certificate = _certificate(slot.driver())
    return [valid_time(certificate)]


def _signature_reply(card: CardDriver, signature: bytes) -> list[Any]:
    """Data[0] = Base64 signature, Data[1] = certificate number, as cus-sec_SpcSignDataAsPEM."""
    cert = _certificate(card)
    return [_b64(client_signature(cert, signature)), cert_no(cert)]


def sign_pem_data_as_pem(slot: CardSlot, args: Args) -> list[Any]:
    """``inData`` is Base64 ("PEM") of the bytes to sign; the reply is SignDataAsPEM's."""
    data = _base64(args, "inData")
    pin = _pin(args, "passwd")
    card = slot.driver()
    return _signature_reply(card, card.sign(pin, data))


def digest_as_pem(slot: CardSlot, args: Args) -> list[Any]:
    """Data[0] = the digest the card signs with over ``szInfo`` (UTF-8), upper-case hex.

    The official name says SHA1; public integrators show a 64-hex-digit answer (the SM3 of SM2
    cards; docs/agent.md). It is the value cus-sec_SpcSignDataNoHashAsPEM then signs: SHA-256 for RSA and
    P-256 cards, e = SM3(Z || szInfo) for an SM2 card, whose Z takes the card's public key. Computed on this
    host, with the key read from the card in the slot (the control, too, answers with the card's digest).
    """
    data = _text(args, "szInfo").encode("utf-8")
    return [slot.driver().signing_digest(data).hex().upper()]


def sign_data_no_hash_as_pem(slot: CardSlot, args: Args) -> list[Any]:
    """``inData`` = the digest (hex) from cus-sec_SpcSHA1DigestAsPEM; the card signs it as is."""
    digest = _digest(args, "inData")
    pin = _pin(args, "passwd")
    card = slot.driver()
    return _signature_reply(card, card.sign_digest(pin, digest))


def sign_random(slot: CardSlot, args: Args) -> list[Any]:
    """Login: the card signs the server's ``random`` (UTF-8); Data as SignDataAsPEM."""
    random_text = _text(args, "random")
    pin = _pin(args, "passwd")
    card = slot.driver()
    return _signature_reply(card, card.sign(pin, random_text.encode("utf-8")))


def _verifying_certificate(slot: CardSlot, args: Args) -> x509.Certificate:
    """``certDataPEM`` (Base64 DER, with or without PEM armour) or, when absent, the card's."""
    text = _text(args, "certDataPEM", required=False)
    if not text:
        return _certificate(slot.driver())
    body = "".join(line for line in text.splitlines() if not line.startswith("-----"))
    try:
        return x509.load_der_x509_certificate(_base64({"certDataPEM": body}, "certDataPEM"))
    except ValueError:
        raise InvalidInput("参数 certDataPEM 不是证书", "certDataPEM is not a certificate",
                           field="certDataPEM") from None


def _verify(certificate: x509.Certificate, signature: bytes, digest: bytes) -> None:
    """``signature`` (as the card or the control made it) of ``digest`` (SHA-256, or SM2's e) by the certificate."""
    key = gm.certificate_public_key(certificate)
    prehashed = Prehashed(hashes.SHA256())
    try:
        if sm2.is_public_key(key):
            sm2.verify_digest(key, signature, digest)
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, digest, padding.PKCS1v15(), prehashed)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, digest, ec.ECDSA(prehashed))
        else:
            raise InvalidSignature
    except InvalidSignature:
        raise SignatureInvalid("签名验证失败：签名与原文或证书不符", "the signature does not verify against "
                               "the data and the certificate", field="signData") from None


def verify_sign_data(slot: CardSlot, args: Args) -> list[Any]:
    """Result true when ``signData`` (Base64) is the signature of ``inData`` (UTF-8) by the certificate."""
    data = _text(args, "inData").encode("utf-8")
    certificate = _verifying_certificate(slot, args)
    key = gm.certificate_public_key(certificate)
    digest = sm2.signing_digest(key, data) if sm2.is_public_key(key) else hashlib.sha256(data).digest()
    _verify(certificate, _base64(args, "signData"), digest)
    return []


def verify_sign_data_no_hash(slot: CardSlot, args: Args) -> list[Any]:
    """As cus-sec_SpcVerifySignData with ``inData`` the digest (hex), as SignDataNoHashAsPEM signed it."""
    digest = _digest(args, "inData")
    _verify(_verifying_certificate(slot, args), _base64(args, "signData"), digest)
    return []


def _subject_read(oid: x509.ObjectIdentifier) -> Handler:
    def read(slot: CardSlot, args: Args) -> list[Any]:
        return [_first_name(_certificate(slot.driver()).subject, oid)]
    return read


def init_env(slot: CardSlot, args: Args) -> list[Any]:
    """Open the card (cus-sec_SpcInitEnvEx): fails as the other calls do when there is none."""
    slot.driver()
    return []


def clear_env(slot: CardSlot, args: Args) -> list[Any]:
    """Close the card session (cus-sec_SpcClearEnv); the next call opens it again."""
    slot.reset()
    return []


def verify_pin_all(slot: CardSlot, args: Args) -> list[Any]:
    """cus-sec_SpcVerifyPINAll: open the card, check the PIN, close it again."""
    try:
        return verify_pin(slot, args)
    finally:
        slot.reset()


def set_init_env_priority(slot: CardSlot, args: Args) -> list[Any]:
    """Which kind of device to open first: the agent has one card slot, so nothing to choose."""
    _text(args, "szInitEnvPriority", required=False)
    return []


def encode_pem(slot: CardSlot, args: Args) -> list[Any]:
    return [_b64(_text(args, "inData").encode("utf-8"))]


def decode_pem_as_string(slot: CardSlot, args: Args) -> list[Any]:
    try:
        return [_base64(args, "inData").decode("utf-8")]
    except UnicodeDecodeError:
        raise InvalidInput("参数 inData 解码后不是UTF-8文本", "inData does not decode to UTF-8 text",
                           field="inData") from None


def agent_version() -> str:
    try:
        return metadata.version("eportcard")
    except metadata.PackageNotFoundError:
        return "0"


def version(slot: CardSlot, args: Args) -> list[Any]:
    """``ver`` (the library's getInstallerVersion): this agent's version."""
    return [f"eportcard agent {agent_version()}"]


# -- eport-card_*: what eportcard's web front needs ---------------------------------------------------


def status(slot: CardSlot, args: Args) -> list[Any]:
    return [card_status(slot)]


def sign_challenge(slot: CardSlot, args: Args) -> list[Any]:
    """Card login: Data = [Base64 signature over SHA-256(challenge UTF-8), certNo, Base64 DER certificate]."""
    challenge = _text(args, "challenge")
    pin = _pin(args, "passwd")
    card = slot.driver()
    der = card.read_certificate()
    signature = card.sign(pin, challenge.encode("utf-8"))
    return [_b64(signature), cert_no(x509.load_der_x509_certificate(der)), _b64(der)]


def get_challenge(slot: CardSlot, args: Args) -> list[Any]:
    """Step 1 of a server-released card operation: the card's one-use challenge for the branch.

    The server answers with ``HMAC(admin_key, challenge || serial)`` (core.hardware.keys) only
    after checking the request is allowed; the admin key never reaches the agent.
    """
    card = slot.driver()
    info = card.card_info()
    challenge = card.get_challenge()
    data: dict[str, Any] = {"serial": info.serial, "cardId": card_id(info), "challenge": challenge.hex(),
                            "triesLeft": info.tries_left, "blocked": info.blocked}
    if info.certificate_length:
        cert = _certificate(card)
        data["certNo"] = cert_no(cert)
        data["publicKey"] = _b64(cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    return [data]


def _authenticate(card: CardDriver, args: Args) -> None:
    """Apply the server-released ``cryptogram`` to the challenge this card gave out."""
    card.external_authenticate(_hex(args, "cryptogram", p.ADMIN_CRYPTOGRAM_LENGTH))


def apply_unblock(slot: CardSlot, args: Args) -> list[Any]:
    """Step 2 of an unlock: apply the server-released ``cryptogram``; the PIN returns to 88888888."""
    card = slot.driver()
    _authenticate(card, args)
    card.reset_retry_counter(AUTHENTICATED)
    return [card_status(slot)]


def renew(slot: CardSlot, args: Args) -> list[Any]:
    """Legal-card renewal: {passwd, cryptogram, certificate}; the key stays, the PIN returns to 88888888.

    The holder's PIN is checked first (the card must be present, unlocked and in the holder's hands);
    then the server-released cryptogram authorises writing the renewed certificate.
    """
    pin = _pin(args, "passwd")
    der = _base64(args, "certificate")
    try:
        new_cert = x509.load_der_x509_certificate(der)
    except ValueError:
        raise InvalidInput("参数 certificate 不是DER证书", "certificate is not a DER certificate",
                           field="certificate") from None
    if not 0 < len(der) <= p.MAX_CERTIFICATE_LENGTH:
        raise InvalidInput("证书过长", "the certificate is too long", field="certificate")
    card = slot.driver()
    key = card.public_key()
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if new_cert.public_key().public_bytes(serialization.Encoding.DER, spki) != key.public_bytes(
            serialization.Encoding.DER, spki):
        raise InvalidInput("新证书的公钥与卡内密钥不符，请确认插入的是要更新的卡",
                           "the new certificate is for another key; insert the card being renewed",
                           field="certificate")
    if new_cert.not_valid_after_utc <= datetime.now(UTC):
        raise InvalidInput("新证书已过期", "the new certificate has already expired", field="certificate")
    card.verify_pin(pin)
    _authenticate(card, args)
    card.write_certificate(AUTHENTICATED, der)  # read back by the driver
    card.reset_retry_counter(AUTHENTICATED)
    return [card_status(slot)]


METHODS: dict[str, Handler] = {
    "cus-sec_SpcSetInitEnvPriority": set_init_env_priority,
    "cus-sec_SpcInitEnvEx": init_env,
    "cus-sec_SpcClearEnv": clear_env,
    "cus-sec_SpcGetCardID": get_card_id,
    "cus-sec_SpcGetCertNo": get_cert_no,
    "cus-sec_SpcGetUName": _subject_read(NameOID.COMMON_NAME),
    "cus-sec_SpcGetEntID": _subject_read(NameOID.ORGANIZATION_IDENTIFIER),
    "cus-sec_SpcGetEntName": _subject_read(NameOID.ORGANIZATION_NAME),
    "cus-sec_SpcGetSignCertAsPEM": get_sign_cert_as_pem,
    "cus-sec_SpcGetValidTimeFromCert": get_valid_time_from_cert,
    "cus-sec_SpcVerifyPIN": verify_pin,
    "cus-sec_SpcVerifyPINAll": verify_pin_all,
    "cus-sec_SpcChangePIN": change_pin,
    "cus-sec_SpcEncodePEM": encode_pem,
    "cus-sec_SpcDecodePEMAsString": decode_pem_as_string,
    "cus-sec_SpcSignDataAsPEM": sign_data_as_pem,
    "cus-sec_SpcSignPemDataAsPem": sign_pem_data_as_pem,
    "cus-sec_SpcVerifySignData": verify_sign_data,
    "cus-sec_SpcSHA1DigestAsPEM": digest_as_pem,
    "cus-sec_SpcSignDataNoHashAsPEM": sign_data_no_hash_as_pem,
    "cus-sec_SpcVerifySignDataNoHash": verify_sign_data_no_hash,
    "cus-sec_SpcSignRandom": sign_random,
    "ver": version,
    "eport-card_Status": status,
    "eport-card_SignChallenge": sign_challenge,
    "eport-card_GetChallenge": get_challenge,
    "eport-card_ApplyUnblock": apply_unblock,
    "eport-card_Renew": renew,
}

# Requests that carry a PIN: the server never logs their args (it never logs any args).
PIN_ARGS = frozenset({"passwd", "oldPin", "newPin"})


class UnsupportedMethod(InvalidInput):
    """A method this agent does not offer (docs/agent.md says which official ones and why)."""

    code = "unsupported_method"


class SignatureInvalid(InvalidInput):
    code = "signature_invalid"


def unknown_method(method: str) -> UnsupportedMethod:
    return UnsupportedMethod(f"本控件不支持方法 {method}（支持的方法见 docs/agent.md）",
                             f"this agent does not offer the method {method} (docs/agent.md lists those it does)",
                             field="_method")


def _error_details(error: EportError) -> dict[str, Any]:
    details = error.as_dict()
    tries = getattr(error, "tries_left", None)
    if tries is not None:
        details["triesLeft"] = tries
    return details


def dispatch(slot: CardSlot, request: protocol.Request) -> dict[str, Any]:
    """Run one request to its reply envelope. Expected failures become ``Result: false``."""
    handler = METHODS.get(request.method)
    try:
        if handler is None:
            raise unknown_method(request.method)
        return protocol.success(request, handler(slot, request.args))
    except EportError as exc:
        return _failure(request, exc)
    except ValueError as exc:  # a certificate on the card that does not parse
        return _failure(request, CardError(SW.WRONG_DATA, f"卡内数据无法解析：{exc}",
                                           f"the data on the card cannot be read: {exc}"))
    except Exception as exc:  # the PC/SC layer failed in a way not foreseen: answer, keep the connection
        log.exception("%s id=%s failed", request.method, request.id)  # the args (PINs) are never logged
        return _failure(request, CardError(0, f"读卡服务异常（{type(exc).__name__}），请稍后重试",
                                           f"the card service failed ({type(exc).__name__}); try again"))


def _failure(request: protocol.Request, error: EportError) -> dict[str, Any]:
    # cus-sec_* keep Data empty on failure as the real control does; our own methods add details.
    data = [_error_details(error)] if request.method.startswith("eport-card_") else []
    return protocol.failure(request.id, request.method, error, data)
