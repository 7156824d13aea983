"""BLOCKTXT chunked transfer (core/agent/blocks.py): the header and check code of the official library
(client.js v1.3.9: getDataHeader, DIGEST.CheckCode, callbacks._nextBlock), the agent's limits, and a
request above the single-frame size signed through the real agent.
"""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from websockets.exceptions import ConnectionClosed

from core.agent import blocks
from core.agent.server import MAX_FRAME

from .conftest import PIN, Client
from .test_agent_ws import verify

REQUEST = json.dumps({"_method": "cus-sec_SpcSignDataAsPEM", "_id": 4,
                      "args": {"inData": "报关单" * 50, "passwd": PIN}}, ensure_ascii=False)


def frames(text: str, size: int, *, guid: str | None = None) -> list[str]:
    """The request as the library sends it: blocks of ``size`` code units, each behind its header."""
    guid = guid or str(uuid.uuid4())
    parts = [text[i:i + size] for i in range(0, len(text), size)]
    total = blocks.check_code(text)
    return [(f"BLOCKTXT{total}{blocks.check_code(part)}{len(text):016d}{len(part):08d}{len(parts):04d}{guid}"
             f"{number:04d}").ljust(blocks.HEADER_LENGTH, "0") + part for number, part in enumerate(parts)]


def test_check_code_is_the_libraries_crc():
    # CRC-16/MODBUS of "123456789" is 0x4B37 (its catalogue check value); the library prints the bytes swapped.
    assert blocks.check_code("123456789") == "374B"
    assert blocks.check_code("") == "FFFF"
    # Per UTF-16 code unit, low byte only: U+62A5 counts as 0xA5, an emoji as its two surrogates' low bytes.
    assert blocks.check_code("报") == blocks.check_code("\u00a5")
    assert blocks.check_code("😀") == blocks.check_code("\u003d\u0000")


def test_a_request_in_blocks_is_asked_for_block_by_block_then_answered_whole():
    transfer = blocks.Reassembly()
    sent = frames(REQUEST, 64)
    for number, frame in enumerate(sent[:-1]):
        step = transfer.receive(frame, now=0.0)
        (reply,) = step.replies
        assert step.request is None
        assert reply["_method"] == "_nextBlock" and reply["_args"]["Result"] is True and reply["_id"] == 4
        assert reply["_args"]["Data"] == [{"id": 4, "guid": frame[44:80], "next": number + 1, "finish": False}]
    last = transfer.receive(sent[-1], now=1.0)
    assert last.request == REQUEST
    assert last.replies[0]["_args"]["Data"][0]["finish"] is True and not transfer.transfers


def test_a_block_failing_its_check_is_asked_again_and_the_transfer_goes_on():
    transfer = blocks.Reassembly()
    first, second, *rest = frames(REQUEST, 100)
    transfer.receive(first, now=0.0)
    damaged = second[:-1] + ("x" if second[-1] != "x" else "y")
    (again,) = transfer.receive(damaged, now=0.0).replies
    assert again["_args"]["Result"] is False and again["_args"]["Data"][0]["next"] == 1
    message, code = again["_args"]["Error"]
    assert code == "Err:bad_request" and "校验" in message and "check" in message
    transfer.receive(second, now=0.0)
    for frame in rest[:-1]:
        transfer.receive(frame, now=0.0)
    assert transfer.receive(rest[-1], now=0.0).request == REQUEST


def test_blocks_out_of_order_are_refused_by_naming_the_one_expected():
    transfer = blocks.Reassembly()
    sent = frames(REQUEST, 100)
    transfer.receive(sent[0], now=0.0)
    (reply,) = transfer.receive(sent[2], now=0.0).replies
    assert reply["_args"]["Result"] is False and reply["_args"]["Data"][0]["next"] == 1


def test_a_block_that_keeps_failing_ends_the_transfer_with_a_routed_failure():
    transfer = blocks.Reassembly()
    first, second, *_ = frames(REQUEST, 100)
    transfer.receive(first, now=0.0)
    for _ in range(blocks.MAX_RESENDS):
        assert transfer.receive(second[:-1] + "?", now=0.0).replies[0]["_args"]["Result"] is False
    finished, failure = transfer.receive(second[:-1] + "?", now=0.0).replies
    assert finished["_args"]["Data"][0]["finish"] is True and finished["_args"]["Result"] is False
    assert failure["_method"] == "cus-sec_SpcSignDataAsPEM" and failure["_id"] == 4  # routed to its callback
    assert failure["_args"]["Result"] is False and not transfer.transfers


def test_joined_data_failing_the_total_check_is_not_answered():
    sent = frames(REQUEST, 100)
    wrong_total = [frame[:8] + "0000" + frame[12:] for frame in sent]
    transfer = blocks.Reassembly()
    for frame in wrong_total[:-1]:
        transfer.receive(frame, now=0.0)
    step = transfer.receive(wrong_total[-1], now=0.0)
    assert step.request is None
    finished, failure = step.replies
    assert finished["_args"]["Data"][0]["finish"] is True
    assert failure["_method"] == "cus-sec_SpcSignDataAsPEM" and failure["_args"]["Error"][1] == "Err:bad_request"


@pytest.mark.parametrize(("frame", "words"), [
    ("BLOCKTXT" + "0" * 10, ("128", "128")),  # a header cut short
    ("BLOCKTXTFFFFFFFF" + "x" * 16 + "0" * 104, ("total_size", "total_size")),
])
def test_malformed_headers_are_refused_bilingually(frame, words):
    with pytest.raises(blocks.BlockRefused) as refused:
        blocks.Reassembly().receive(frame, now=0.0)
    assert words[0] in refused.value.zh and words[1] in refused.value.en


def test_the_limits():
    guid = str(uuid.uuid4())
    header = frames(REQUEST, 100, guid=guid)[0]
    too_many_blocks = header[:40] + f"{blocks.MAX_BLOCKS + 1:04d}" + header[44:]
    too_large = header[:16] + f"{blocks.MAX_TOTAL_UNITS + 1:016d}" + header[32:]
    later_block = frames(REQUEST, 100)[1]
    for frame, word in ((too_many_blocks, str(blocks.MAX_BLOCKS)), (too_large, str(blocks.MAX_TOTAL_UNITS)),
                        (later_block, "block 0")):
        with pytest.raises(blocks.BlockRefused) as refused:
            blocks.Reassembly().receive(frame, now=0.0)
        assert word in refused.value.en
    busy = blocks.Reassembly()
    for _ in range(blocks.MAX_OPEN):
        busy.receive(frames(REQUEST, 100)[0], now=0.0)
    with pytest.raises(blocks.BlockRefused, match="too many"):
        busy.receive(frames(REQUEST, 100)[0], now=0.0)
    # A transfer not finished in time is dropped: its next block finds nothing to continue.
    slow = blocks.Reassembly()
    first, second, *_ = frames(REQUEST, 100)
    slow.receive(first, now=0.0)
    with pytest.raises(blocks.BlockRefused, match="timed out"):
        slow.receive(second, now=blocks.MAX_SECONDS + 1)
    assert not slow.transfers


def test_above_the_single_frame_size_through_the_agent(rig):
    """Too large for one WebSocket message (the agent closes such a connection, 1009), the same request in
    BLOCKTXT blocks is signed whole, through both the in-process card and the real pcscd."""
    in_data = "<ds:SignedInfo>" + "报关单商品明细" * (MAX_FRAME // 12) + "</ds:SignedInfo>"
    request = json.dumps({"_method": "cus-sec_SpcSignDataAsPEM", "_id": 9,
                          "args": {"inData": in_data, "passwd": PIN}}, ensure_ascii=False)
    assert len(request.encode()) > MAX_FRAME
    client = Client(rig.url)
    for frame in frames(request, 120 * 1024 // 3):
        client.ws.send(frame)
        reply = json.loads(client.ws.recv(timeout=60))
        assert reply["_method"] == "_nextBlock" and reply["_args"]["Result"] is True, reply
    answer = client.receive_reply()
    assert answer["_id"] == 9 and answer["_method"] == "cus-sec_SpcSignDataAsPEM", answer
    signature, _ = answer["_args"]["Data"]
    verify(rig.certificate, base64.b64decode(signature), in_data.encode())
    client.close()

    whole = Client(rig.url)
    whole.ws.send(request)
    with pytest.raises(ConnectionClosed) as closed:
        whole.ws.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # message too big


def test_a_refused_frame_on_the_wire_finishes_the_transfer_and_reaches_the_callback(rig):
    client = Client(rig.url)
    first = frames(REQUEST, 100)[0]
    client.ws.send(first[:40] + f"{blocks.MAX_BLOCKS + 1:04d}" + first[44:])
    finished = json.loads(client.ws.recv(timeout=30))
    assert finished["_method"] == "_nextBlock" and finished["_args"]["Data"][0]["finish"] is True
    failure = json.loads(client.ws.recv(timeout=30))
    assert failure["_method"] == "cus-sec_SpcSignDataAsPEM" and failure["_id"] == 4
    assert failure["_args"]["Error"][1] == "Err:bad_request"
    assert client.call("eport-card_Status")["Data"][0]["triesLeft"] == 3  # nothing reached the card
    client.close()
