"""The envelopes themselves (pure): parsing requests and the exact bytes of replies and pushes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.agent import protocol
from core.agent.methods import METHODS
from core.hardware.errors import WrongPin


def test_request_as_in_design_md():
    text = '{"_method": "cus-sec_SpcSignDataAsPEM", "_id": 1, "args": {"inData": "x", "passwd": "88888888"}}'
    request = protocol.parse_request(text)
    assert request == protocol.Request("cus-sec_SpcSignDataAsPEM", 1, {"inData": "x", "passwd": "88888888"})
    assert protocol.parse_request(b'{"_method": "cus-sec_SpcGetCardID", "_id": "1"}').args == {}


def test_reply_bytes_match_the_real_control():
    request = protocol.Request("cus-sec_SpcGetCertNo", 1, {})
    assert protocol.encode(protocol.success(request, ["0a1b"])) == (
        '{"_id":1,"_method":"cus-sec_SpcGetCertNo","_status":"00",'
        '"_args":{"Result":true,"Data":["0a1b"],"Error":[]}}')
    failed = protocol.failure(1, "cus-sec_SpcVerifyPIN", WrongPin(2))
    assert failed["_status"] == "00" and failed["_args"]["Result"] is False and failed["_args"]["Data"] == []
    message, code = failed["_args"]["Error"]
    assert code == "Err:wrong_pin" and "还可尝试 2 次" in message and "2 tries left" in message


def test_open_and_card_event_pushes():
    opened = protocol.open_push("1.0")
    assert list(opened) == ["_id", "_method", "_status", "_args"]
    assert opened["_id"] == 0 and opened["_method"] == "open" and opened["_args"]["Result"] is True
    event = protocol.card_event("removed", "Virtual PCD 00 01")
    assert event["_method"] == "cardEvent"
    assert event["_args"]["Data"] == [{"event": "removed", "reader": "Virtual PCD 00 01"}]
    with pytest.raises(ValueError):
        protocol.card_event("exploded", "r")


@pytest.mark.parametrize(("text", "field"), [
    ("not json", "$"),
    ("[1, 2]", "$"),
    ('{"_id": 1}', "_method"),
    ('{"_method": "", "_id": 1}', "_method"),
    ('{"_method": "m", "_id": true}', "_id"),
    ('{"_method": "m", "_id": 1, "args": "passwd"}', "args"),
    (b"\xff\xfe", "$"),
])
def test_bad_requests_are_refused_bilingually(text, field):
    with pytest.raises(protocol.ProtocolError) as refused:
        protocol.parse_request(text)
    assert refused.value.field == field and refused.value.zh and refused.value.en
    assert refused.value.zh != refused.value.en


@given(st.text())
def test_any_text_either_parses_or_raises_protocol_error(text):
    try:
        request = protocol.parse_request(text)
    except protocol.ProtocolError:
        rid, method = protocol.request_id_of(text)
        json.dumps(protocol.failure(rid, method, protocol.ProtocolError("坏", "bad")))
        return
    assert request.method


def test_every_client_control_method_of_design_md_is_offered():
    design = {"cus-sec_SpcSignDataAsPEM", "cus-sec_SpcGetSignCertAsPEM", "cus-sec_SpcGetCertNo",
              "cus-sec_SpcGetCardID", "cus-sec_SpcVerifyPIN", "cus-sec_SpcChangePIN",
              "cus-sec_SpcGetValidTimeFromCert"}
    assert design <= set(METHODS)
