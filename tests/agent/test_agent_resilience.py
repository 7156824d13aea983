"""A PC/SC layer failing in a way nobody foresaw (pyscard while pcscd restarts: "Service not available")
gets a bilingual ``Result:false`` reply; the page's WebSocket stays open and the next call works."""

from __future__ import annotations

import asyncio

import pytest

from core.agent.server import Agent, VirtualSlot, running_agent
from core.hardware.driver import CardDriver
from core.hardware.testing import start_pcscd, stop_pcscd
from core.hardware.virtual_card import VirtualCard

from .conftest import ORIGIN, PIN, Client, personalise
from .test_agent_ws import server_cryptogram


class RestartingPcscdSlot(VirtualSlot):
    """The in-process card, whose first driver() fails as pyscard does while pcscd restarts."""

    failures = 1

    def driver(self) -> CardDriver:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("Failed to establish context: Service not available. (0x8010001D)")
        return super().driver()


def test_an_unforeseen_failure_is_answered_and_the_connection_stays(tmp_path, ca):
    certificate = personalise(tmp_path / "card.json", ca)
    slot = RestartingPcscdSlot(VirtualCard.load(tmp_path / "card.json"))
    with running_agent(Agent(slot, allowed_origins=[ORIGIN], port=0, watch=False)) as agent:
        client = Client(agent.url)
        try:
            failed = client.call("cus-sec_SpcGetCertNo")
            assert failed["Result"] is False and failed["Data"] == [] and failed["Error"][1] == "Err:Custom50070"
            assert "读卡服务异常" in failed["Error"][0] and "card service failed" in failed["Error"][0]
            assert failed["Error"][0].startswith("[读卡器底层库]复位读卡器失败:错误码=50070")
            again = client.call("cus-sec_SpcGetCertNo")
            assert again["Result"] is True and again["Data"] == [format(certificate.serial_number, "x")]
            assert client.call("cus-sec_SpcVerifyPIN", {"passwd": PIN})["Result"] is True
        finally:
            client.close()


@pytest.mark.parametrize("transport", ["pcsc"], indirect=True)
def test_the_agent_carries_on_after_pcscd_restarts(make_rig):
    """The card out, pcscd restarted (a crash, an update, socket activation's idle exit), the card in
    again: the page's connection still answers and is told of the card."""
    rig = make_rig(watch=True)
    client = Client(rig.url)
    try:
        first = client.call("cus-sec_SpcGetCertNo")
        assert first["Result"] is True
        rig.remove()
        client.wait_push("removed")
        stop_pcscd()
        try:  # the page asks while pcscd is away: an answer, not a dropped connection
            down = client.call("cus-sec_SpcGetCertNo")
            assert down["Result"] is False and down["Error"][1] in ("Err:Custom50200", "Err:Custom51590"), down
        finally:
            start_pcscd()
        rig.insert()
        client.wait_push("inserted")
        assert client.call("cus-sec_SpcGetCertNo") == first
        assert client.call("cus-sec_SpcVerifyPIN", {"passwd": PIN})["Result"] is True
    finally:
        client.close()


def test_a_late_removal_event_does_not_reset_the_card_now_in_use(make_rig):
    """A removal event handled after the next card is already in (a busy agent, a slow poll) must not drop
    that card's session: it would reset the card and lose the challenge a released unlock answers."""
    rig = make_rig(kind="operator")
    client = Client(rig.url)
    try:
        challenge = client.call("eport-card_GetChallenge")["Data"][0]
        background = rig.background
        assert background is not None and rig.slot is not None
        asyncio.run_coroutine_threadsafe(background.agent._card_removed(rig.slot.reader),
                                         background._loop).result(timeout=30)
        unlocked = client.call("eport-card_ApplyUnblock", {"cryptogram": server_cryptogram(challenge)})
        assert unlocked["Result"] is True, unlocked
    finally:
        client.close()
