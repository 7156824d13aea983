"""The vpcd socket protocol, card side (vsmartcard's "vpicc" role).

pcscd loads Debian's vsmartcard-vpcd driver, which listens on 127.0.0.1:35963 (reader
"Virtual PCD 00 00"; 35964 is "... 00 01"). The virtual card connects as a TCP client; a card is
"inserted" while the connection is open. Every message either way is a 2-byte big-endian length
and a payload. From vpcd, a 1-byte payload is a control code -- 0 power off, 1 power on, 2 reset
(no answer to these three), 4 get ATR (answer: the ATR) -- and anything longer is a command APDU
whose answer is the response APDU.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

from core.hardware.virtual_card import ATR, PulledOut, VirtualCard

log = logging.getLogger(__name__)

CTRL_OFF, CTRL_ON, CTRL_RESET, CTRL_ATR = 0, 1, 2, 4
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 35963


def _quickack(sock: socket.socket) -> None:
    # vpcd writes the length and the payload in two sends with Nagle on; if we delay our ACK of
    # the first, the second waits ~40 ms. Linux clears QUICKACK after use, so set it every time.
    if hasattr(socket, "TCP_QUICKACK"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        _quickack(sock)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf.extend(chunk)
    return bytes(buf)


def _send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(len(payload).to_bytes(2, "big") + payload)


def connect(host: str, port: int, *, timeout: float = 10.0) -> socket.socket:
    """Connect to vpcd, retrying while pcscd is still starting. Raises OSError when it never answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=2)
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def serve(card: VirtualCard, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          stop: threading.Event | None = None, *, connect_timeout: float = 10.0) -> None:
    """Present ``card`` in the vpcd reader until vpcd hangs up, ``stop`` is set or the card is pulled."""
    sock = connect(host, port, timeout=connect_timeout)
    if stop is not None:
        sock.settimeout(0.2)
    log.info("virtual card %s inserted at %s:%d", card.serial, host, port)
    try:
        while stop is None or not stop.is_set():
            try:
                header = _recv_exact(sock, 2)
            except TimeoutError:
                continue
            if header is None:
                return
            length = int.from_bytes(header, "big")
            sock.settimeout(None)
            payload = _recv_exact(sock, length)
            if stop is not None:
                sock.settimeout(0.2)
            if payload is None:
                return
            if len(payload) == 1:
                code = payload[0]
                if code == CTRL_ATR:
                    _send(sock, ATR)
                elif code in (CTRL_OFF, CTRL_RESET):
                    card.power_off() if code == CTRL_OFF else card.reset()
                elif code == CTRL_ON:
                    card.power_on()
                continue
            try:
                response = card.process(payload)  # APDU contents are never logged: they carry PINs
            except PulledOut:
                log.info("virtual card %s pulled out", card.serial)
                return
            _send(sock, response)
    finally:
        sock.close()
