"""Reaching a card: a PC/SC reader through pcscd, or a virtual card's state file in-process.

pyscard is optional (without a reader the rest of the system still works): core.hardware imports it only
when a reader is used, and a machine without it answers as one without readers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from core.errors import InvalidInput
from core.hardware import readers
from core.hardware.driver import CardDriver
from core.hardware.errors import NoReader
from core.hardware.transport import InProcessTransport, PcscTransport, Transport
from core.hardware.virtual_card import VirtualCard


def readers_present() -> list[str]:
    """The PC/SC readers pcscd lists now; none when pcscd or pyscard is missing."""
    try:
        return readers.list_readers()
    except (ImportError, NoReader):
        return []


def first_reader_with_card() -> str:
    try:
        states = readers.slot_states()
    except ImportError:
        states = []
    for state in states:
        if state.card_present:
            return state.reader
    raise NoReader("（没有插卡的读卡器 / no reader with a card）")


@contextmanager
def _connected(transport: Transport) -> Iterator[CardDriver]:
    driver = CardDriver(transport).connect()
    try:
        yield driver
    finally:
        driver.disconnect()


def open_reader(named: str = "") -> AbstractContextManager[CardDriver]:
    """The card in the reader ``named``, or in the first reader holding a card."""
    return _connected(PcscTransport(named or first_reader_with_card()))


def open_virtual(state_file: Path) -> AbstractContextManager[CardDriver]:
    """A virtual card from its state file, in this process (no pcscd)."""
    if not state_file.exists():
        raise InvalidInput(f"虚拟卡文件 {state_file} 不存在", f"no virtual card at {state_file}", field="virtual")
    return _connected(InProcessTransport(VirtualCard.load(state_file)))


__all__ = ["first_reader_with_card", "open_reader", "open_virtual", "readers_present"]
