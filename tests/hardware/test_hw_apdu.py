"""APDU encoding: every ISO case round-trips, short and extended."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.hardware import profile as p
from core.hardware.apdu import Command, Response

header = st.integers(0, 255)


@given(header, header, header, header, st.binary(max_size=300), st.one_of(st.none(), st.integers(1, 65536)),
       st.booleans())
def test_command_round_trips(cla, ins, p1, p2, data, le, extended):
    command = Command(cla, ins, p1, p2, data, le=le)
    raw = command.encode(extended=extended)
    decoded = Command.decode(raw)
    assert decoded.data == data and (decoded.cla, decoded.ins, decoded.p1, decoded.p2) == (cla, ins, p1, p2)
    assert decoded.le == le
    short = not extended and len(data) <= 255 and (le or 0) <= 256
    if short:
        assert len(raw) == 4 + (1 + len(data) if data else 0) + (1 if le else 0)
    else:  # 00 + two-byte Lc before the data; two-byte Le (three without data)
        assert len(raw) == 4 + (3 + len(data) if data else 0) + (0 if le is None else 2 if data else 3)


def test_short_encodings_match_iso_examples():
    assert Command(0, 0xCA, 1, 1, le=256).encode() == bytes.fromhex("00CA010100")
    assert Command(0, 0x20, 0, 0x81, b"\x31\x32").encode() == bytes.fromhex("00200081023132")
    assert Command(0, 0xB0, 0, 0, le=1000).encode() == bytes.fromhex("00B00000" "0003E8")


@pytest.mark.parametrize("raw", ["00", "00A404", "00A4040005AABB", "00A4040000000001"])
def test_malformed_commands_are_rejected(raw):
    with pytest.raises(ValueError):
        Command.decode(bytes.fromhex(raw))


def test_response_split():
    r = Response.decode(bytes.fromhex("0102639C"[:4] + "63C2"))
    assert r.data == b"\x01\x02" and r.sw == 0x63C2 and r.sw1 == 0x63 and r.sw2 == 0xC2 and not r.ok
    with pytest.raises(ValueError):
        Response.decode(b"\x90")


@given(st.text("0123456789", min_size=p.PIN_MIN_LENGTH, max_size=p.PIN_MAX_LENGTH))
def test_pin_block_round_trips(pin):
    block = p.pin_block(pin)
    assert len(block) == p.PIN_BLOCK_LENGTH and p.parse_pin_block(block) == pin


@pytest.mark.parametrize("block", [b"12345" + b"\xff" * 11, b"1234\xff678" + b"\xff" * 8, b"abcdef" + b"\xff" * 10,
                                   b"123456"])
def test_bad_pin_blocks(block):
    assert p.parse_pin_block(block) is None
