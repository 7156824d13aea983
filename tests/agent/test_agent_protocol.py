"""The envelopes themselves (pure): parsing requests and the exact bytes of replies and pushes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.agent import protocol
from core.agent.methods import METHODS, unknown_method
from core.errors import InvalidInput
from core.hardware.errors import CardBlocked, CardError, CardRemoved, NoReader, WrongPin, initial_pin_refused


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


# -- the official codes (docs/agent.md, "Error codes", gives the source of each) ---------------------------


@pytest.mark.parametrize(("error", "code", "number"), [
    (NoReader(), "Err:Custom50200", "50200"),  # UkeyError.java OPEN_THE_CARD_READER_FAILED
    (CardRemoved(), "Err:Custom51590", "51590"),  # websocket.js: 51590 in Error = insert a card
    (CardError(0x6F00), "Err:Custom50070", "50070"),  # UkeyError.java RESETTING_CARD_READER_FAILED
])
def test_reader_and_card_failures_carry_the_official_code_and_number(error, code, number):
    message, sent = protocol.error_list(error)
    assert sent == code
    # The login page tests JSON.stringify(Error).indexOf("51590") > 0; the bilingual text stays.
    assert json.dumps([message, sent]).index(number) > 0
    assert error.zh in message and error.en in message


def test_official_wording_comes_first_where_a_source_gives_it():
    assert protocol.error_list(NoReader())[0].startswith("[读卡器底层库]打开读卡器失败:错误码=50200")
    assert protocol.error_list(CardError(0x6F00))[0].startswith("[读卡器底层库]复位读卡器失败:错误码=50070")


def test_bad_arguments_get_the_librarys_code_and_the_rest_keep_their_own():
    assert protocol.error_list(InvalidInput("缺少参数 inData", "the argument inData is required"))[1] == "Err:Base50000"
    assert protocol.error_list(WrongPin(1))[1] == "Err:wrong_pin"
    assert protocol.error_list(CardBlocked())[1] == "Err:card_blocked"
    assert protocol.error_list(initial_pin_refused())[1] == "Err:pin_refused"
    assert protocol.error_list(unknown_method("cus-sec_SpcRSADecrypt"))[1] == "Err:unsupported_method"
    assert protocol.error_list(protocol.ProtocolError("坏", "bad"))[1] == "Err:bad_request"


@pytest.mark.parametrize(("text", "expected"), [
    ('{"_method":"cus-sec_SpcGetCertNo","_id":3,"args":{', (3, "cus-sec_SpcGetCertNo")),  # cut short
    ('{"_method": "cus-sec_SpcVerifyPIN", "_id": "7", "args": [1]', ("7", "cus-sec_SpcVerifyPIN")),
    ('BLOCKTXT...{"_method":"cus-sec_SpcSignDataAsPEM","_id":12,"args":{"inData":"', (12, "cus-sec_SpcSignDataAsPEM")),
    ("not json at all", (0, "")),
    (b"\xff\xfe", (0, "")),
    ('{"_method": 5, "_id": 1}', (1, "")),
])
def test_a_broken_frame_still_names_its_method_when_it_can(text, expected):
    assert protocol.request_id_of(text) == expected
