"""APDU transports: how bytes reach a card. The driver only sees ``Transport``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from core.hardware.errors import CardRemoved, NoReader

if TYPE_CHECKING:
    from core.hardware.virtual_card import VirtualCard


class Transport(Protocol):
    def connect(self) -> None: ...

    def disconnect(self) -> None: ...

    def transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU, return response data + SW1 SW2. Raises CardRemoved."""
        ...


class InProcessTransport:
    """Talks to a VirtualCard in the same process, with no reader in between."""

    def __init__(self, card: VirtualCard) -> None:
        self.card = card
        self.connected = False

    def connect(self) -> None:
        if not self.card.present:
            raise CardRemoved("no card in the in-process slot")
        self.card.power_on()
        self.connected = True

    def disconnect(self) -> None:
        if self.connected and self.card.present:
            self.card.power_off()
        self.connected = False

    def transmit(self, apdu: bytes) -> bytes:
        from core.hardware.virtual_card import PulledOut

        if not self.connected or not self.card.present:
            raise CardRemoved("no card in the in-process slot")
        try:
            return self.card.process(bytes(apdu))
        except PulledOut as exc:
            self.connected = False
            raise CardRemoved(str(exc)) from exc


class PcscTransport:
    """Talks to a card through pcscd with pyscard (T=0 or T=1, whichever the card offers)."""

    def __init__(self, reader_name: str) -> None:
        self.reader_name = reader_name
        self._connection: Any = None

    def connect(self) -> None:
        from smartcard.System import readers

        try:
            matches = [r for r in readers() if str(r) == self.reader_name]
        except Exception as exc:  # EstablishContextException: pcscd is not running (or restarting)
            raise NoReader("(pcscd)") from exc
        if not matches:
            raise NoReader(self.reader_name)
        connection = matches[0].createConnection()
        try:
            connection.connect()
        except Exception as exc:  # pyscard raises NoCardException / CardConnectionException
            raise CardRemoved(str(exc)) from exc
        self._connection = connection

    def disconnect(self) -> None:
        if self._connection is not None:
            try:
                self._connection.disconnect()
                self._connection.release()
            except Exception:
                pass
        self._connection = None

    def transmit(self, apdu: bytes) -> bytes:
        if self._connection is None:
            raise CardRemoved("not connected")
        try:
            data, sw1, sw2 = self._connection.transmit(list(apdu))
        except Exception as exc:  # CardConnectionException: removed, reset or reader gone
            # Leave the (absent) card alone: asking the driver to power down a card that is gone
            # stalls the vpcd slot for ~15 s.
            from smartcard.scard import SCARD_LEAVE_CARD

            self._connection.component.disposition = SCARD_LEAVE_CARD
            self.disconnect()
            raise CardRemoved(str(exc)) from exc
        return bytes(data) + bytes([sw1, sw2])
