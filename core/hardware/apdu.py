"""ISO 7816-4 command and response APDUs.

The card profile uses short APDUs only (Lc <= 255, Le <= 256): certificates and RSA public keys
are longer than that, so they travel in chunks by offset (READ/UPDATE BINARY) or by GET RESPONSE
after ``61xx``. Short APDUs pass every reader and driver, and make a half-written certificate an
explicit, recoverable state instead of a transport detail. Extended lengths are still encoded and
parsed here (cases 2E/3E/4E) for readers that need them, but the profile never relies on them.
"""

from __future__ import annotations

from attrs import field, frozen


def _byte(value: int) -> int:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"not a byte: {value}")
    return value


@frozen
class Command:
    cla: int = field(converter=_byte)
    ins: int = field(converter=_byte)
    p1: int = field(converter=_byte)
    p2: int = field(converter=_byte)
    data: bytes = b""
    # expected response length; None = no Le field; 256 (short) / 65536 (extended) = "any"
    le: int | None = None

    def encode(self, *, extended: bool = False) -> bytes:
        """Serialise; extended length is used when asked for or when the sizes need it."""
        header = bytes([self.cla, self.ins, self.p1, self.p2])
        if self.le is not None and not 0 <= self.le <= 65536:
            raise ValueError(f"Le out of range: {self.le}")
        if len(self.data) > 65535:
            raise ValueError("command data longer than 65535 bytes")
        extended = extended or len(self.data) > 255 or (self.le or 0) > 256
        if not extended:
            body = bytes([len(self.data)]) + self.data if self.data else b""
            if self.le is not None:
                body += bytes([self.le & 0xFF])  # 256 encodes as 00
            return header + body
        body = b""
        if self.data:
            body = b"\x00" + len(self.data).to_bytes(2, "big") + self.data
        if self.le is not None:
            le = (self.le & 0xFFFF).to_bytes(2, "big")  # 65536 encodes as 0000
            body += le if self.data else b"\x00" + le
        return header + body

    @classmethod
    def decode(cls, raw: bytes) -> Command:
        """Parse cases 1, 2S/3S/4S and 2E/3E/4E. Raises ValueError for a malformed APDU."""
        if len(raw) < 4:
            raise ValueError("APDU shorter than its 4-byte header")
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, le=body[0] or 256)
        if body[0] != 0:  # short Lc
            lc = body[0]
            if len(body) == 1 + lc:
                return cls(cla, ins, p1, p2, bytes(body[1:]))
            if len(body) == 2 + lc:
                return cls(cla, ins, p1, p2, bytes(body[1:1 + lc]), le=body[-1] or 256)
            raise ValueError("APDU length does not match Lc")
        # extended: 00 then two bytes
        if len(body) == 3:
            return cls(cla, ins, p1, p2, le=int.from_bytes(body[1:3], "big") or 65536)
        lc = int.from_bytes(body[1:3], "big")
        if lc == 0:
            raise ValueError("extended Lc of zero")
        if len(body) == 3 + lc:
            return cls(cla, ins, p1, p2, bytes(body[3:]))
        if len(body) == 5 + lc:
            return cls(cla, ins, p1, p2, bytes(body[3:3 + lc]),
                       le=int.from_bytes(body[-2:], "big") or 65536)
        raise ValueError("APDU length does not match extended Lc")


@frozen
class Response:
    data: bytes
    sw: int

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    @property
    def ok(self) -> bool:
        return self.sw == 0x9000

    def encode(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    @classmethod
    def decode(cls, raw: bytes) -> Response:
        if len(raw) < 2:
            raise ValueError("response shorter than its status word")
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))
