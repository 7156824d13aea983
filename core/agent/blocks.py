"""``BLOCKTXT`` chunked transfer: the official library's way of sending a request too large for one frame.

Source: the official JavaScript library v1.3.9 (Weasley-J/chinaport-data-signature,
``src/main/resources/static/client.js``: ``getDataHeader``, ``splitStrData``, ``sendFrames``,
``swcPostData``, ``callbacks._nextBlock``, ``DIGEST.CheckCode``). A frame is a 128-character header and
a slice of the request's JSON text::

    "BLOCKTXT" | total check (4) | block check (4) | total size (16) | block size (8)
    | block count (4) | group guid (36) | block number (4) | zeros up to 128

Numbers are decimal, left-padded with "0"; sizes count UTF-16 code units (JavaScript's ``length``).
The library sends block 0, then one block for each ``_nextBlock`` reply naming the ``next`` block it
wants; ``finish: true`` tells it the transfer is over (it then frees the blocks). A ``_nextBlock`` with
``Result: false`` makes it send the named block again. After the last block the agent answers the
whole request as if it had come in one frame.

Limits (docs/agent.md): the whole request at most MAX_TOTAL_UNITS, at most MAX_BLOCKS frames, done
within MAX_SECONDS of its first frame, at most MAX_OPEN transfers at once on a connection, and at most
MAX_RESENDS resends of blocks that failed their check. Pure: the caller passes the clock.
"""

from __future__ import annotations

from typing import Any

from attrs import define, field

from . import protocol

MARK = "BLOCKTXT"
HEADER_LENGTH = 128
MAX_TOTAL_UNITS = 8 * 1024 * 1024  # the library cuts blocks of about 120 KiB; 8 Mi units is ~70 blocks
MAX_BLOCKS = 128
MAX_SECONDS = 60.0
MAX_OPEN = 4
MAX_RESENDS = 8
NEXT_BLOCK = "_nextBlock"

# (name, width) of the header's fields after the mark, in order (client.js getDataHeader).
_FIELDS = (("total_check", 4), ("block_check", 4), ("total_size", 16), ("block_size", 8),
           ("block_count", 4), ("guid", 36), ("number", 4))
_GUID_AT = len(MARK) + 4 + 4 + 16 + 8 + 4


def is_block(message: str) -> bool:
    return message.startswith(MARK)


def utf16_units(text: str) -> bytes:
    """JavaScript's view of a string: its UTF-16 code units (little-endian pairs)."""
    return text.encode("utf-16-le", errors="surrogatepass")


def check_code(text: str) -> str:
    """The library's ``DIGEST.CheckCode``: CRC-16/MODBUS (reflected polynomial 0xA001, start 0xFFFF;
    Modbus over Serial Line V1.02, 6.2.2) over the low byte of each UTF-16 code unit, as four upper-case
    hex digits with its two bytes swapped, as the library's table form returns ``hi << 8 | lo``."""
    crc = 0xFFFF
    for byte in utf16_units(text)[0::2]:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return f"{((crc & 0xFF) << 8) | (crc >> 8):04X}"


class BlockRefused(protocol.ProtocolError):
    """A BLOCKTXT frame the agent will not take (malformed, over a limit, too late)."""


def _refused(zh: str, en: str) -> BlockRefused:
    return BlockRefused(zh, en, field="BLOCKTXT")


@define
class Header:
    total_check: str
    block_check: str
    total_size: int
    block_size: int
    block_count: int
    guid: str
    number: int


def parse_header(frame: str) -> tuple[Header, str]:
    if len(frame) < HEADER_LENGTH:
        raise _refused("BLOCKTXT分块头不足128个字符", "the BLOCKTXT header is shorter than 128 characters")
    values: dict[str, str] = {}
    at = len(MARK)
    for name, width in _FIELDS:
        values[name] = frame[at:at + width]
        at += width
    numbers = {}
    for name in ("total_size", "block_size", "block_count", "number"):
        if not values[name].isascii() or not values[name].isdigit():
            raise _refused(f"BLOCKTXT分块头的 {name} 不是十进制数", f"the BLOCKTXT header's {name} is not a number")
        numbers[name] = int(values[name])
    return Header(values["total_check"].upper(), values["block_check"].upper(), numbers["total_size"],
                  numbers["block_size"], numbers["block_count"], values["guid"], numbers["number"]), frame[HEADER_LENGTH:]


@define
class Transfer:
    """One request arriving in blocks."""

    header: Header
    started: float
    request_id: int | str = 0
    method: str = ""
    blocks: list[str] = field(factory=list)
    resends: int = 0


@define
class Step:
    """What the agent does with one frame: send ``replies``, then answer ``request`` if it is whole."""

    replies: list[dict[str, Any]]
    request: str | None = None


def next_block(transfer: Transfer, next_number: int, *, finish: bool = False, ok: bool = True,
               error: protocol.ProtocolError | None = None) -> dict[str, Any]:
    """The ``_nextBlock`` reply: ``Data[0] = {id, guid, next, finish}`` as the library's callback reads it
    (``id`` is the request's ``_id`` where the first block showed it)."""
    data = [{"id": transfer.request_id, "guid": transfer.header.guid, "next": next_number, "finish": finish}]
    errors = protocol.error_list(error) if error is not None else []
    return protocol.envelope(transfer.request_id, NEXT_BLOCK, ok, data, errors)


@define
class Reassembly:
    """The transfers in progress on one connection."""

    transfers: dict[str, Transfer] = field(factory=dict)

    def receive(self, frame: str, now: float) -> Step:
        self._drop_expired(now)
        header, body = parse_header(frame)
        transfer = self.transfers.get(header.guid)
        if transfer is None:
            transfer = self._start(header, body, now)
        expected = len(transfer.blocks)
        problem = self._problem(transfer, header, body, expected)
        if problem is not None:
            transfer.resends += 1
            if transfer.resends > MAX_RESENDS:
                return self._give_up(transfer, _refused("BLOCKTXT分块多次校验失败，已放弃本次传输",
                                                        "BLOCKTXT blocks kept failing their check; the "
                                                        "transfer was abandoned"))
            return Step([next_block(transfer, expected, ok=False, error=problem)])
        transfer.blocks.append(body)
        if len(transfer.blocks) < transfer.header.block_count:
            return Step([next_block(transfer, len(transfer.blocks))])
        del self.transfers[header.guid]
        text = "".join(transfer.blocks)
        if len(utf16_units(text)) // 2 != transfer.header.total_size or check_code(text) != transfer.header.total_check:
            error = _refused("BLOCKTXT分块拼合后的数据校验失败", "the joined BLOCKTXT data failed its check")
            return Step([next_block(transfer, 0, finish=True, ok=False, error=error),
                         protocol.failure(transfer.request_id, transfer.method, error)])
        return Step([next_block(transfer, transfer.header.block_count, finish=True)], request=text)

    def _start(self, header: Header, body: str, now: float) -> Transfer:
        if header.number != 0:
            raise _refused("BLOCKTXT传输须从第0块开始（或已超时被丢弃）",
                           "a BLOCKTXT transfer starts with block 0 (or it timed out and was dropped)")
        if not 0 < header.block_count <= MAX_BLOCKS:
            raise _refused(f"BLOCKTXT分块数须为1至{MAX_BLOCKS}", f"a BLOCKTXT transfer has 1 to {MAX_BLOCKS} blocks")
        if header.total_size > MAX_TOTAL_UNITS:
            raise _refused(f"BLOCKTXT数据过大（上限{MAX_TOTAL_UNITS}字符）",
                           f"the BLOCKTXT data is too large (at most {MAX_TOTAL_UNITS} characters)")
        if len(self.transfers) >= MAX_OPEN:
            raise _refused(f"同时进行的BLOCKTXT传输过多（上限{MAX_OPEN}个）",
                           f"too many BLOCKTXT transfers at once (at most {MAX_OPEN})")
        request_id, method = protocol.request_id_of(body)
        transfer = Transfer(header, now, request_id, method)
        self.transfers[header.guid] = transfer
        return transfer

    @staticmethod
    def _problem(transfer: Transfer, header: Header, body: str, expected: int) -> protocol.ProtocolError | None:
        units = len(utf16_units(body)) // 2
        if header.number != expected:
            return _refused(f"BLOCKTXT分块次序不符：应为第{expected}块", f"BLOCKTXT block {expected} was expected")
        if (header.block_count, header.total_size, header.total_check) != (
                transfer.header.block_count, transfer.header.total_size, transfer.header.total_check):
            return _refused("BLOCKTXT分块头与第0块不一致", "the BLOCKTXT header differs from block 0's")
        if units != header.block_size or check_code(body) != header.block_check:
            return _refused(f"BLOCKTXT第{expected}块校验失败", f"BLOCKTXT block {expected} failed its check")
        if sum(len(utf16_units(b)) // 2 for b in transfer.blocks) + units > header.total_size:
            return _refused("BLOCKTXT分块超出声明的总大小", "the BLOCKTXT blocks exceed the declared size")
        return None

    def _give_up(self, transfer: Transfer, error: BlockRefused) -> Step:
        self.transfers.pop(transfer.header.guid, None)
        return Step([next_block(transfer, 0, finish=True, ok=False, error=error),
                     protocol.failure(transfer.request_id, transfer.method, error)])

    def _drop_expired(self, now: float) -> None:
        for guid, transfer in list(self.transfers.items()):
            if now - transfer.started > MAX_SECONDS:
                del self.transfers[guid]

    def refusal(self, frame: str, error: protocol.ProtocolError) -> list[dict[str, Any]]:
        """The replies to a frame that could not start or continue a transfer: ``finish`` (so the library
        frees its copy) and a failure routed to the request's method where the frame shows it."""
        request_id, method = protocol.request_id_of(frame[HEADER_LENGTH:])
        guid = frame[_GUID_AT:_GUID_AT + 36] if len(frame) >= HEADER_LENGTH else ""
        known = self.transfers.pop(guid, None)
        if known is not None:
            request_id, method = known.request_id, known.method
        data = [{"id": request_id, "guid": guid, "next": 0, "finish": True}]
        return [protocol.envelope(request_id, NEXT_BLOCK, False, data, protocol.error_list(error)),
                protocol.failure(request_id, method, error)]
