"""A PC/SC layer failing in a way nobody foresaw (pyscard while pcscd restarts: "Service not available")
gets a bilingual ``Result:false`` reply; the page's WebSocket stays open and the next call works."""

from __future__ import annotations

from core.agent.server import Agent, VirtualSlot, running_agent
from core.hardware.driver import CardDriver
from core.hardware.virtual_card import VirtualCard

from .conftest import ORIGIN, PIN, Client, personalise


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
            assert failed["Result"] is False and failed["Data"] == [] and failed["Error"][1] == "Err:card_error"
            assert "读卡服务异常" in failed["Error"][0] and "card service failed" in failed["Error"][0]
            again = client.call("cus-sec_SpcGetCertNo")
            assert again["Result"] is True and again["Data"] == [format(certificate.serial_number, "x")]
            assert client.call("cus-sec_SpcVerifyPIN", {"passwd": PIN})["Result"] is True
        finally:
            client.close()
