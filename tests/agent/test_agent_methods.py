"""The official methods beyond the first subset: their error paths (a clear bilingual answer, no PIN try spent,
nothing changed), and docs/agent.md's method table matching what the agent answers."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core.agent.methods import METHODS
from core.pki.profiles import HolderSubject, profile_for

from .conftest import PIN, PKI, ROOT, SUBJECT, Client


@pytest.fixture
def transport() -> str:
    return "inprocess"  # argument checks need no reader; the browser test covers these methods over pcscd

OTHER_HOLDER = HolderSubject(enterprise_name="厦门某贸易有限公司", uscc=SUBJECT.uscc, holder_name="李四")
DOCS = (ROOT / "docs" / "agent.md").read_text(encoding="utf-8")


def _refused(client: Client, method: str, args: dict, code: str = "Err:Base50000") -> str:
    reply = client.call(method, args)
    assert reply["Result"] is False and reply["Data"] == [] and reply["Error"][1] == code, reply
    message = reply["Error"][0]
    zh, en = message.split(" / ", 1)
    assert zh and en and zh != en
    return message


def _tries(client: Client) -> int:
    return client.call("eport-card_Status")["Data"][0]["triesLeft"]


def test_digest_arguments_must_be_the_digest(client):
    for bad in ("not hex", "AB" * 20, "AB" * 33, ""):
        _refused(client, "cus-sec_SpcSignDataNoHashAsPEM", {"inData": bad, "passwd": PIN})
        _refused(client, "cus-sec_SpcVerifySignDataNoHash", {"inData": bad, "signData": "AAAA"})
    assert "SHA1DigestAsPEM" in _refused(client, "cus-sec_SpcSignDataNoHashAsPEM", {"inData": "00", "passwd": PIN})
    assert _tries(client) == 3


def test_a_signature_that_does_not_verify_is_refused(rig, client, ca):
    signature = client.call("cus-sec_SpcSignDataAsPEM", {"inData": "原文", "passwd": PIN})["Data"][0]
    message = _refused(client, "cus-sec_SpcVerifySignData", {"inData": "原文被改", "signData": signature},
                       "Err:signature_invalid")
    assert "签名" in message and "signature" in message
    digest = hashlib.sha256("原文被改".encode()).hexdigest()
    _refused(client, "cus-sec_SpcVerifySignDataNoHash", {"inData": digest, "signData": signature},
             "Err:signature_invalid")
    # Another holder's certificate: the same signature does not verify either.
    other = ca.issue(profile_for("operator", PKI, "ec-p256"), OTHER_HOLDER,
                     public_key=ec.generate_private_key(ec.SECP256R1()).public_key())
    other_pem = base64.b64encode(other.public_bytes(serialization.Encoding.DER)).decode()
    _refused(client, "cus-sec_SpcVerifySignData", {"inData": "原文", "signData": signature, "certDataPEM": other_pem},
             "Err:signature_invalid")
    armoured = other.public_bytes(serialization.Encoding.PEM).decode()  # with the PEM armour it is read too
    _refused(client, "cus-sec_SpcVerifySignData", {"inData": "原文", "signData": signature, "certDataPEM": armoured},
             "Err:signature_invalid")
    _refused(client, "cus-sec_SpcVerifySignData", {"inData": "原文", "signData": signature, "certDataPEM": "bm90IGEgY2VydA=="})
    _refused(client, "cus-sec_SpcVerifySignData", {"inData": "原文", "signData": "!!not base64!!"})


def test_pem_helpers_refuse_what_is_not_base64_or_utf8(client):
    _refused(client, "cus-sec_SpcDecodePEMAsString", {"inData": "not base64!"})
    _refused(client, "cus-sec_SpcDecodePEMAsString", {"inData": base64.b64encode(b"\xff\xfe\x00").decode()})
    _refused(client, "cus-sec_SpcSignPemDataAsPem", {"inData": "not base64!", "passwd": PIN})
    _refused(client, "cus-sec_SpcEncodePEM", {})
    assert _tries(client) == 3


def test_signing_methods_want_their_arguments_and_count_wrong_pins(client):
    _refused(client, "cus-sec_SpcSignRandom", {"passwd": PIN})
    _refused(client, "cus-sec_SpcSignRandom", {"random": "abc"})
    assert _tries(client) == 3
    wrong = client.call("cus-sec_SpcSignRandom", {"random": "abc", "passwd": "11111111"})
    assert wrong["Error"][1] == "Err:wrong_pin" and _tries(client) == 2
    assert client.call("cus-sec_SpcVerifyPINAll", {"passwd": "11111111"})["Error"][1] == "Err:wrong_pin"
    assert client.call("cus-sec_SpcVerifyPINAll", {"passwd": PIN})["Result"] is True
    assert _tries(client) == 3


def test_clear_env_closes_the_session_and_the_next_call_opens_it(rig, client):
    client.call("cus-sec_SpcInitEnvEx")
    before = rig.slot.driver()
    assert client.call("cus-sec_SpcClearEnv")["Result"] is True
    assert client.call("cus-sec_SpcGetCardID")["Result"] is True
    assert rig.slot.driver() is not before  # a new session: the card was closed in between


def _documented() -> dict[str, str]:
    """docs/agent.md's table of official methods: name -> "yes" / "no"."""
    section = DOCS.split("## Official methods", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \| (yes|no)\b", section, flags=re.MULTILINE)
    return dict(rows)


def test_docs_list_every_method_the_agent_answers():
    documented = _documented()
    offered = {m for m in METHODS if not m.startswith("eport-card_")}
    assert offered == {m for m, answer in documented.items() if answer == "yes"}
    assert all(f"`{m}`" in DOCS for m in METHODS if m.startswith("eport-card_"))


def test_every_official_method_documented_as_unsupported_says_so(client):
    refused = [m for m, answer in _documented().items() if answer == "no"]
    assert len(refused) > 50  # the library's whole table, not a sample
    for method in refused:
        name = method.replace("<module>", "cus-sec")
        reply = client.call(name, {})
        assert reply["Result"] is False and reply["Error"][1] == "Err:unsupported_method", (name, reply)
