"""The agent over a real WebSocket: the client-control envelopes and eportcard's own methods.

Each test runs twice: the agent over the in-process virtual card, and over the same card behind a
real pcscd (vpcd reader "Virtual PCD 00 01").
"""

from __future__ import annotations

import base64
import socket
import threading
import time
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from websockets.exceptions import InvalidStatus

from core.agent.server import Agent
from core.errors import ConfigError
from core.hardware.keys import admin_cryptogram, derive_admin_key
from core.hardware.profile import Ins

from .conftest import DEVICE_NO, MASTER_SECRET, ORIGIN, PIN, SERIAL, Client

NEW_PIN = "13572468"


def verify(certificate: x509.Certificate, signature: bytes, data: bytes) -> None:
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(signature, data, ec.ECDSA(hashes.SHA256()))


def server_cryptogram(challenge_data: dict) -> str:
    """What the branch server does to release an operation: HMAC with the card's derived admin key."""
    serial = challenge_data["serial"]
    key = derive_admin_key(MASTER_SECRET, serial)
    return admin_cryptogram(key, bytes.fromhex(challenge_data["challenge"]), serial).hex()


def test_open_is_pushed_first(client):
    assert client.opened["_method"] == "open" and client.opened["_status"] == "00"
    assert client.opened["_id"] == 0 and client.opened["_args"]["Result"] is True
    assert client.opened["_args"]["Error"] == []


@pytest.mark.parametrize("algorithm", ["rsa2048", "ec-p256"])
def test_sign_data_as_pem_verifies_with_the_card_certificate(make_rig, algorithm):
    rig = make_rig(algorithm=algorithm)
    client = Client(rig.url)
    in_data = '<ds:SignedInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">报关单 0001</ds:SignedInfo>'
    reply = client.call("cus-sec_SpcSignDataAsPEM", {"inData": in_data, "passwd": PIN})
    assert reply["Result"] is True and reply["Error"] == []
    signature_b64, cert_no = reply["Data"]
    assert cert_no == format(rig.certificate.serial_number, "x") and cert_no == cert_no.lower()
    verify(rig.certificate, base64.b64decode(signature_b64), in_data.encode("utf-8"))
    client.close()


def test_certificate_methods(rig, client):
    cert = rig.certificate
    pem = client.call("cus-sec_SpcGetSignCertAsPEM")
    assert pem["Result"] is True
    assert "-----" not in pem["Data"][0] and "\n" not in pem["Data"][0]
    assert base64.b64decode(pem["Data"][0]) == cert.public_bytes(serialization.Encoding.DER)

    assert client.call("cus-sec_SpcGetCertNo")["Data"] == [format(cert.serial_number, "x")]
    assert client.call("cus-sec_SpcGetCardID")["Data"] == [DEVICE_NO]

    beijing = timedelta(hours=8)
    valid = client.call("cus-sec_SpcGetValidTimeFromCert")
    assert valid["Data"] == [{
        "szStartTime": (cert.not_valid_before_utc + beijing).strftime("%Y%m%d%H%M%S"),
        "szEndTime": (cert.not_valid_after_utc + beijing).strftime("%Y%m%d%H%M%S"),
    }]
    # With a "cert" argument the control reads that certificate instead of the card's.
    other = client.call("cus-sec_SpcGetValidTimeFromCert", {"cert": pem["Data"][0]})
    assert other["Data"] == valid["Data"]


def test_verify_pin_and_wrong_pin_tries_count_down_to_blocked(client):
    ok = client.call("cus-sec_SpcVerifyPIN", {"passwd": PIN})
    assert ok == {"Result": True, "Data": [], "Error": []}
    for tries_left in (2, 1):
        wrong = client.call("cus-sec_SpcVerifyPIN", {"passwd": "11111111"})
        assert wrong["Result"] is False and wrong["Data"] == []
        message, code = wrong["Error"]
        assert code == "Err:wrong_pin"
        assert f"还可尝试 {tries_left} 次" in message and f"{tries_left} tr" in message
    last = client.call("cus-sec_SpcVerifyPIN", {"passwd": "11111111"})
    assert last["Error"][1] == "Err:wrong_pin" and "the card is now locked" in last["Error"][0]
    # Now even the right PIN is refused: the card is locked.
    blocked = client.call("cus-sec_SpcVerifyPIN", {"passwd": PIN})
    assert blocked["Result"] is False and blocked["Error"][1] == "Err:card_blocked"
    assert "卡已锁定" in blocked["Error"][0] and "locked" in blocked["Error"][0]
    signed = client.call("cus-sec_SpcSignDataAsPEM", {"inData": "x", "passwd": PIN})
    assert signed["Result"] is False and signed["Error"][1] == "Err:card_blocked"
    status = client.call("eport-card_Status")["Data"][0]
    assert status["blocked"] is True and status["triesLeft"] == 0


def test_change_pin_refuses_initial_pin_and_costs_no_try(client):
    refused = client.call("cus-sec_SpcChangePIN", {"oldPin": PIN, "newPin": "88888888"})
    assert refused["Result"] is False and refused["Error"][1] == "Err:pin_refused"
    assert "88888888" in refused["Error"][0]
    malformed = client.call("cus-sec_SpcChangePIN", {"oldPin": PIN, "newPin": "12ab"})
    assert malformed["Result"] is False and malformed["Error"][1] == "Err:pin_refused"
    assert client.call("eport-card_Status")["Data"][0]["triesLeft"] == 3

    assert client.call("cus-sec_SpcChangePIN", {"oldPin": PIN, "newPin": NEW_PIN})["Result"] is True
    assert client.call("cus-sec_SpcVerifyPIN", {"passwd": NEW_PIN})["Result"] is True
    assert client.call("cus-sec_SpcVerifyPIN", {"passwd": PIN})["Error"][1] == "Err:wrong_pin"
    status = client.call("eport-card_Status")["Data"][0]
    assert status["pinIsInitial"] is False and status["triesLeft"] == 2


def test_status_reports_the_card_and_its_certificate(rig, client):
    status = client.call("eport-card_Status")
    assert status["Result"] is True
    data = status["Data"][0]
    assert data["present"] is True and data["cardId"] == DEVICE_NO and data["serial"] == SERIAL
    assert data["certNo"] == format(rig.certificate.serial_number, "x")
    assert data["kind"] == "legal" and data["holder"] == "张三" and data["uscc"] == "91440300MA5EXAMPLA"
    assert data["notAfter"] == rig.certificate.not_valid_after_utc.isoformat()
    assert data["pinIsInitial"] is True and data["retryLimit"] == 3 and data["keyAlgorithm"] == "ec-p256"


def test_status_without_a_card_is_not_an_error(rig, client):
    rig.remove()
    status = client.call("eport-card_Status")
    assert status["Result"] is True and status["Data"][0]["present"] is False
    removed = client.call("cus-sec_SpcGetCertNo")
    # No card: the official "insert a card" code; no reader (pcscd not caught up yet): the reader's.
    assert removed["Result"] is False and removed["Error"][1] in ("Err:Custom51590", "Err:Custom50200")
    rig.insert()
    assert client.call("cus-sec_SpcGetCertNo")["Data"] == [format(rig.certificate.serial_number, "x")]


def test_sign_challenge_for_card_login(rig, client):
    challenge = "eportcard-login:2f1c9a7e:2026-03-02T10:00:00Z"
    reply = client.call("eport-card_SignChallenge", {"challenge": challenge, "passwd": PIN})
    assert reply["Result"] is True
    signature, cert_no, cert_b64 = reply["Data"]
    certificate = x509.load_der_x509_certificate(base64.b64decode(cert_b64))
    assert certificate == rig.certificate and cert_no == format(certificate.serial_number, "x")
    verify(certificate, base64.b64decode(signature), challenge.encode("utf-8"))
    wrong = client.call("eport-card_SignChallenge", {"challenge": challenge, "passwd": "00000000"})
    assert wrong["Result"] is False and wrong["Data"][0]["code"] == "wrong_pin"
    assert wrong["Data"][0]["triesLeft"] == 2 and wrong["Data"][0]["field"] == "pin"


def _block(client: Client) -> None:
    for _ in range(3):
        client.call("cus-sec_SpcVerifyPIN", {"passwd": "11111111"})
    assert client.call("eport-card_Status")["Data"][0]["blocked"] is True


def test_unlock_with_a_server_released_cryptogram(make_rig):
    rig = make_rig(kind="operator")
    client = Client(rig.url)
    client.call("cus-sec_SpcChangePIN", {"oldPin": PIN, "newPin": NEW_PIN})
    _block(client)

    # A cryptogram the server did not release (wrong master secret) is refused and changes nothing.
    challenge = client.call("eport-card_GetChallenge")["Data"][0]
    assert challenge["serial"] and len(challenge["challenge"]) == 16 and challenge["blocked"] is True
    forged = admin_cryptogram(derive_admin_key(b"another branch's secret!", challenge["serial"]),
                              bytes.fromhex(challenge["challenge"]), challenge["serial"]).hex()
    refused = client.call("eport-card_ApplyUnblock", {"cryptogram": forged})
    assert refused["Result"] is False and refused["Data"][0]["code"] == "admin_auth_failed"
    assert client.call("eport-card_Status")["Data"][0]["blocked"] is True

    challenge = client.call("eport-card_GetChallenge")["Data"][0]
    cryptogram = server_cryptogram(challenge)
    unlocked = client.call("eport-card_ApplyUnblock", {"cryptogram": cryptogram})
    assert unlocked["Result"] is True
    status = unlocked["Data"][0]
    assert status["blocked"] is False and status["triesLeft"] == 3 and status["pinIsInitial"] is True
    # Unlock resets the PIN to 88888888; the challenge is one use only, so a replay is refused.
    assert client.call("cus-sec_SpcVerifyPIN", {"passwd": PIN})["Result"] is True
    replay = client.call("eport-card_ApplyUnblock", {"cryptogram": cryptogram})
    assert replay["Result"] is False and replay["Data"][0]["field"] == "cryptogram"
    bad = client.call("eport-card_ApplyUnblock", {"cryptogram": "not hex"})
    assert bad["Result"] is False and bad["Data"][0]["field"] == "cryptogram"
    client.close()


def test_renew_writes_the_new_certificate_and_resets_the_pin(rig, client, ca):
    client.call("cus-sec_SpcChangePIN", {"oldPin": PIN, "newPin": NEW_PIN})
    challenge = client.call("eport-card_GetChallenge")["Data"][0]
    public_key = serialization.load_der_public_key(base64.b64decode(challenge["publicKey"]))
    renewed = ca.renew(rig.certificate, public_key)  # what the server does after checking the window
    der_b64 = base64.b64encode(renewed.public_bytes(serialization.Encoding.DER)).decode()

    # A certificate for another key is refused before anything is written.
    stranger = ca.renew(rig.certificate, ec.generate_private_key(ec.SECP256R1()).public_key())
    refused = client.call("eport-card_Renew", {
        "passwd": NEW_PIN, "cryptogram": server_cryptogram(challenge),
        "certificate": base64.b64encode(stranger.public_bytes(serialization.Encoding.DER)).decode()})
    assert refused["Result"] is False and refused["Data"][0]["field"] == "certificate"
    assert client.call("cus-sec_SpcGetCertNo")["Data"] == [format(rig.certificate.serial_number, "x")]

    wrong_pin = client.call("eport-card_Renew", {"passwd": "00000000", "cryptogram": server_cryptogram(challenge),
                                                 "certificate": der_b64})
    assert wrong_pin["Result"] is False and wrong_pin["Data"][0]["code"] == "wrong_pin"

    challenge = client.call("eport-card_GetChallenge")["Data"][0]
    done = client.call("eport-card_Renew", {"passwd": NEW_PIN, "cryptogram": server_cryptogram(challenge),
                                            "certificate": der_b64})
    assert done["Result"] is True
    status = done["Data"][0]
    assert status["certNo"] == format(renewed.serial_number, "x") != format(rig.certificate.serial_number, "x")
    assert status["pinIsInitial"] is True and status["triesLeft"] == 3
    assert client.call("cus-sec_SpcGetCertNo")["Data"] == [status["certNo"]]
    signed = client.call("cus-sec_SpcSignDataAsPEM", {"inData": "续期后", "passwd": PIN})
    verify(renewed, base64.b64decode(signed["Data"][0]), "续期后".encode())


def test_bad_envelopes_fail_with_result_false_and_status_00(client):
    not_json = client.send_raw("{not json")
    assert not_json["_status"] == "00" and not_json["_args"]["Result"] is False
    assert not_json["_args"]["Error"][1] == "Err:bad_request"

    unknown = client.call("cus-sec_SpcSealEnvelope", {"inData": "x"})
    assert unknown["Result"] is False and unknown["Error"][1] == "Err:unsupported_method"

    no_pin = client.call("cus-sec_SpcSignDataAsPEM", {"inData": "x"})
    assert no_pin["Result"] is False and "请输入卡密码" in no_pin["Error"][0]
    assert no_pin["Error"][1] == "Err:Base50000"  # the official library's code for a missing argument

    bad_args = client.send_raw('{"_method": "cus-sec_SpcVerifyPIN", "_id": "7", "args": [1]}')
    assert bad_args["_id"] == "7" and bad_args["_method"] == "cus-sec_SpcVerifyPIN"
    assert bad_args["_args"]["Result"] is False
    # None of that cost a PIN try.
    assert client.call("eport-card_Status")["Data"][0]["triesLeft"] == 3


def test_origin_not_on_the_allow_list_is_refused_with_403(rig):
    with pytest.raises(InvalidStatus) as refused:
        Client(rig.url, origin="http://evil.example")
    assert refused.value.response.status_code == 403
    assert "allow-list" in refused.value.response.body.decode()
    with pytest.raises(InvalidStatus):
        Client(rig.url, origin="null")  # a sandboxed or file:// page
    # An allowed page and a local program (no Origin header) both get in.
    for origin in (ORIGIN, None):
        client = Client(rig.url, origin=origin)
        assert client.call("cus-sec_SpcGetCardID")["Data"] == [DEVICE_NO]
        client.close()


def test_host_header_must_be_loopback(rig):
    port = int(rig.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: rebound.example:%d\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     b"Sec-WebSocket-Version: 13\r\n\r\n" % port)
        head = sock.recv(1024)
    assert head.startswith(b"HTTP/1.1 403")


def test_agent_binds_loopback_only(rig):
    assert rig.background is not None
    assert {address[0] for address in rig.background.agent.bound_addresses} == {"127.0.0.1"}
    with pytest.raises(ConfigError) as refused:
        Agent(rig.slot, allowed_origins=[ORIGIN], host="0.0.0.0")
    assert refused.value.field == "agent.host" and "127.0.0.1" in refused.value.zh
    assert "loopback" in refused.value.en


def test_one_request_at_a_time_per_card(rig):
    """Several pages signing at once: every APDU sequence reaches the card whole, never interleaved."""
    assert rig.slot is not None
    driver = rig.slot.driver()
    transport = driver.transport
    active, peak, guard = [0], [0], threading.Lock()
    instructions: list[int] = []
    original = transport.transmit

    def counting(apdu: bytes) -> bytes:
        with guard:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            instructions.append(apdu[1])
        try:
            time.sleep(0.002)  # widen the window in which an unlocked agent would interleave requests
            return original(apdu)
        finally:
            with guard:
                active[0] -= 1

    transport.transmit = counting  # type: ignore[method-assign]
    results: list[dict] = []

    def sign(n: int) -> None:
        client = Client(rig.url)
        for i in range(3):
            results.append(client.call("cus-sec_SpcSignDataAsPEM", {"inData": f"{n}-{i}", "passwd": PIN}))
        client.close()

    threads = [threading.Thread(target=sign, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == 12 and all(r["Result"] for r in results)
    assert peak[0] == 1
    # Each signature's VERIFY is followed at once by its own PSO, never by another request's APDU.
    verifies = [i for i, ins in enumerate(instructions) if ins == Ins.VERIFY]
    assert len(verifies) == 12
    assert all(instructions[i + 1] == Ins.PERFORM_SECURITY_OPERATION for i in verifies)


def test_malformed_cert_argument_is_rejected_cleanly(client):
    bad = client.call("cus-sec_SpcGetValidTimeFromCert", {"cert": "bm90IGEgY2VydA=="})
    assert bad["Result"] is False and "DER" in bad["Error"][0]
    assert client.call("cus-sec_SpcGetCardID")["Result"] is True
