"""Reader discovery and card insertion / removal through pcscd (SCardGetStatusChange)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from attrs import frozen

from core.hardware.errors import NoReader

POLL_MS = 200


@frozen
class SlotState:
    reader: str
    card_present: bool
    atr: bytes = b""


def _context() -> Any:
    from smartcard.scard import SCARD_S_SUCCESS, SCARD_SCOPE_USER, SCardEstablishContext

    hresult, context = SCardEstablishContext(SCARD_SCOPE_USER)
    if hresult != SCARD_S_SUCCESS:
        raise NoReader("(pcscd)")
    return context


def list_readers() -> list[str]:
    """Names of the readers pcscd knows; empty when pcscd has none."""
    from smartcard.System import readers

    try:
        return [str(r) for r in readers()]
    except Exception as exc:  # pcscd not running
        raise NoReader("(pcscd)") from exc


def slot_states(names: list[str] | None = None) -> list[SlotState]:
    from smartcard.scard import (
        SCARD_S_SUCCESS,
        SCARD_STATE_PRESENT,
        SCARD_STATE_UNAWARE,
        SCardGetStatusChange,
        SCardReleaseContext,
    )

    names = names if names is not None else list_readers()
    if not names:
        return []
    context = _context()
    try:
        hresult, states = SCardGetStatusChange(context, 0, [(n, SCARD_STATE_UNAWARE) for n in names])
        if hresult != SCARD_S_SUCCESS:
            raise NoReader(", ".join(names))
        return [SlotState(name, bool(event & SCARD_STATE_PRESENT), bytes(atr)) for name, event, atr in states]
    finally:
        SCardReleaseContext(context)


def wait_for_card(reader: str, *, present: bool = True, timeout: float = 10.0) -> bool:
    """Block until a card is (or is no longer) in ``reader``; False when the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            states = slot_states([reader]) if reader in list_readers() else []
        except NoReader:
            states = []
        if states and states[0].card_present == present:
            return True
        time.sleep(POLL_MS / 1000)
    return False


class CardWatcher:
    """Calls ``on_insert(reader, atr)`` / ``on_remove(reader)`` from a background thread."""

    def __init__(self, on_insert: Callable[[str, bytes], None], on_remove: Callable[[str], None],
                 *, readers: list[str] | None = None, interval: float = POLL_MS / 1000) -> None:
        self.on_insert = on_insert
        self.on_remove = on_remove
        self.readers = readers
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._known: dict[str, bool] = {}
        self._again: set[str] = set()
        self._again_lock = threading.Lock()

    def offer_again(self, reader: str) -> None:
        """Report the card in ``reader`` as inserted once more at the next poll, if it is still in.

        For a consumer that could not use the card yet (one still starting up, a busy reader): it is
        offered the card again at the watcher's own pace, until it stops asking or the card is out.
        """
        with self._again_lock:
            self._again.add(reader)

    def poll_once(self) -> None:
        with self._again_lock:
            again, self._again = self._again, set()
        try:
            names = self.readers if self.readers is not None else list_readers()
            states = {s.reader: s for s in slot_states([n for n in names if n in list_readers()])}
        except NoReader:
            states = {}
        for name, was_present in list(self._known.items()):
            if was_present and not (name in states and states[name].card_present):
                self._known[name] = False
                self.on_remove(name)
        for name, state in states.items():
            if state.card_present and (not self._known.get(name) or name in again):
                self._known[name] = True
                self.on_insert(name, state.atr)
            elif not state.card_present:
                self._known[name] = False

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self.interval)

    def start(self) -> CardWatcher:
        self._thread = threading.Thread(target=self._run, name="card-watcher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
