"""Card events without timing: a card that does not answer yet is pushed ``unreadable`` once, offered again
at the watcher's polls while it stays in, and pushed ``inserted`` with its serial when a read succeeds.

The watcher's polls are driven by hand here, so every step happens exactly when the test says.
(test_agent_third_party.py runs the same through pcscd and the real watcher.)
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from core.agent import server
from core.hardware import readers
from core.hardware.readers import CardWatcher, SlotState

from .conftest import DEVICE_NO, SERIAL, AgentRig, Client

ATR = bytes.fromhex("3B8780")


class HandDrivenWatcher:
    """Stands in for the agent's CardWatcher: records the readers whose card the agent wants offered again."""

    def __init__(self) -> None:
        self.offered: list[str] = []

    def offer_again(self, reader: str) -> None:
        self.offered.append(reader)

    def stop(self) -> None:
        pass


def _events(client: Client) -> list[dict]:
    events = [push["_args"]["Data"][0] for push in client.pushes]
    client.pushes.clear()
    return events


class Events:
    """The agent's watcher callbacks, run to completion on the agent's loop one at a time."""

    def __init__(self, rig: AgentRig) -> None:
        assert rig.background is not None and rig.slot is not None
        self.agent = rig.background.agent
        self.loop = rig.background._loop
        self.reader = rig.slot.reader
        self.watcher = HandDrivenWatcher()
        self.agent._watcher = self.watcher

    def inserted(self) -> None:
        asyncio.run_coroutine_threadsafe(self.agent._card_inserted(self.reader, ATR), self.loop).result(timeout=30)

    def removed(self) -> None:
        asyncio.run_coroutine_threadsafe(self.agent._card_removed(self.reader), self.loop).result(timeout=30)


def _sync(client: Client) -> None:
    """Every push sent so far has reached the client: pushes and replies share one ordered connection.
    (An unknown method is answered without touching the card.)"""
    assert client.call("eport-card_NoSuchMethod")["Error"][-1] == "Err:unsupported_method"


@pytest.mark.parametrize("transport", ["inprocess"], indirect=True)
def test_a_card_refusing_its_first_reads_is_pushed_with_its_serial_when_it_answers(make_rig):
    rig = make_rig()
    client = Client(rig.url)
    events = Events(rig)
    assert rig.card_rig.card is not None
    rig.card_rig.card.fail_next(2)
    try:
        events.inserted()
        _sync(client)
        assert _events(client) == [{"event": "unreadable", "reader": events.reader, "atr": "3B8780",
                                    "error": "card_error"}]
        events.inserted()  # refused again: no second unreadable
        events.inserted()
        _sync(client)
        assert _events(client) == [{"event": "inserted", "reader": events.reader, "atr": "3B8780",
                                    "serial": SERIAL, "cardId": DEVICE_NO}]
        assert events.watcher.offered == [events.reader, events.reader]  # after each failed read
    finally:
        client.close()


@pytest.mark.parametrize("transport", ["inprocess"], indirect=True)
def test_a_card_that_never_answers_is_left_alone_until_taken_out(make_rig, monkeypatch, caplog):
    rig = make_rig()
    client = Client(rig.url)
    events = Events(rig)
    assert rig.card_rig.card is not None
    monkeypatch.setattr(server, "NEW_CARD_READ_FOR", 0.0)  # it has not answered for long enough
    rig.card_rig.card.fail_next(1)
    try:
        with caplog.at_level(logging.WARNING, logger="eportcard.agent"):
            events.inserted()
        assert events.watcher.offered == []
        assert "has not answered" in caplog.text
        events.removed()  # taken out: the next insertion starts afresh
        events.inserted()
        _sync(client)
        assert [e["event"] for e in _events(client)] == ["unreadable", "removed", "inserted"]
    finally:
        client.close()


def test_the_watcher_offers_a_card_again_only_while_it_stays_in(monkeypatch):
    present = {"reader": True}
    monkeypatch.setattr(readers, "list_readers", lambda: ["reader"])
    monkeypatch.setattr(readers, "slot_states",
                        lambda names=None: [SlotState("reader", present["reader"], ATR)])
    calls: list[str] = []
    watcher = CardWatcher(lambda reader, atr: calls.append("inserted"), lambda reader: calls.append("removed"))

    watcher.poll_once()
    watcher.poll_once()
    assert calls == ["inserted"]
    watcher.offer_again("reader")
    watcher.poll_once()
    watcher.poll_once()
    assert calls == ["inserted", "inserted"]  # once per offer, not at every poll

    watcher.offer_again("reader")
    present["reader"] = False
    watcher.poll_once()
    present["reader"] = True
    watcher.poll_once()
    watcher.poll_once()
    assert calls == ["inserted", "inserted", "removed", "inserted"]  # the offer went out with the card
