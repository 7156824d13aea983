"""End to end in real Chromium: the web app (uvicorn thread, SQLite, a CA on disk), the local card agent
over the REAL pcscd + vpcd reader, and virtual cards swapped in and out of that reader like at a desk.

The enterprise logs in with its legal card through the page; an operator card is locked by wrong PINs
(the page's PIN change) and unlocked from the card page (legal-card grant, then the operator card's
own challenge answered by the server) and renewed (legal-card grant, the operator card's PIN for the
agent's write, then the server's confirmation); the legal card is renewed inside its window. The same page
served from an origin not on the agent's allow-list cannot reach the agent and says so.
Without chromium, pcscd or vpcd this FAILS. Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from browserkit import free_port, serving, shot
from playwright.sync_api import Browser, Page, expect
from test_card_login import World, make_world

from core.agent.server import Agent, ReaderSlot, running_agent
from core.config import AgentSettings
from core.hardware.profile import INITIAL_PIN
from core.hardware.testing import FIRST_SLOT, CardRig, pcscd  # noqa: F401  (pcscd: the reader fixture)
from core.model import CardState
from core.services import Services
from core.web.app import create_app

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
WAIT_MS = 30_000



class Desk:
    """One vpcd reader; ``insert`` takes whatever card is in it out first (each card's file keeps its state)."""

    def __init__(self) -> None:
        self.current: CardRig | None = None

    def insert(self, state: Path) -> None:
        self.remove()
        self.current = CardRig("pcsc", state, slot=FIRST_SLOT)
        self.current.insert()

    def remove(self) -> None:
        if self.current is not None:
            self.current.stop()
            self.current = None


@attrs.define
class Rig:
    world: World
    base: str
    desk: Desk


@pytest.fixture
def rig(pcscd, services: Services, tmp_path: Path) -> Iterator[Rig]:  # noqa: F811
    world = make_world(services, tmp_path, n=41)
    for driver in world.drivers.values():
        driver.disconnect()  # from here on the cards live in the reader, from their state files
    legal = world.card("legal")
    services.clock.now = legal.certificate.not_after - timedelta(days=100)  # inside the renewal window

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    desk = Desk()
    agent = Agent(ReaderSlot(FIRST_SLOT.name), allowed_origins=[base], port=0, watch=True)
    with running_agent(agent) as background:
        world.services.settings = attrs.evolve(world.services.settings, agent=AgentSettings(
            port=background.agent.port, allowed_origins=(base,)))
        try:
            with serving(create_app(world.services), port):
                yield Rig(world, base, desk)
        finally:
            desk.remove()





def wait_for_card_in_page(page: Page, serial: str) -> None:
    """The page learnt of the card through the agent's cardEvent push (no reload)."""
    expect(page.locator(f'#card-status[data-state="present"][data-serial="{serial}"]')).to_be_visible(
        timeout=WAIT_MS)


def message(page: Page):
    return page.locator("#card-message")


def test_card_login_unlock_and_renewal_through_the_agent_in_chromium(rig: Rig, browser: Browser):
    world, desk = rig.world, rig.desk
    legal, op = world.card("legal"), world.card("operator")
    page = browser.new_page()

    # ---- log in with the legal card --------------------------------------------------------------------
    desk.insert(world.workdir / "legal.json")
    page.goto(f"{rig.base}/portal/card-login")
    wait_for_card_in_page(page, legal.card_no)
    shot(page, "card-01-login")
    page.fill("#card-pin", INITIAL_PIN)
    page.click("#card-login-button")
    page.wait_for_url(f"{rig.base}/portal/cards", timeout=WAIT_MS)
    expect(page.locator("#card-app")).to_have_attribute("data-card-session", "yes")
    wait_for_card_in_page(page, legal.card_no)
    shot(page, "card-02-cards")

    # ---- lock the operator card with wrong PINs (the page's PIN change) --------------------------------
    desk.insert(world.workdir / "operator.json")
    wait_for_card_in_page(page, op.card_no)
    for tries_left in ("2", "1", "0"):
        page.fill("#old-pin", "11112222")
        page.fill("#new-pin", "13572468")
        page.click("#change-pin")
        expect(page.locator("#card-status")).to_contain_text(
            "已锁定" if tries_left == "0" else f"剩余尝试次数 {tries_left}", timeout=WAIT_MS)
        expect(message(page)).to_have_attribute("data-kind", "error")
    expect(page.locator("#card-status")).to_contain_text("已锁定", timeout=WAIT_MS)
    shot(page, "card-03-operator-locked")
    # the page passed on what the agent read from the card: the server knows it blocked itself
    deadline = time.monotonic() + WAIT_MS / 1000
    while world.card("operator").state is not CardState.LOCKED:
        assert time.monotonic() < deadline, "the server never learnt that the operator card blocked itself"
        time.sleep(0.1)

    # ---- unlock it: the legal card authorises, the operator card's challenge is answered ---------------
    desk.insert(world.workdir / "legal.json")
    wait_for_card_in_page(page, legal.card_no)
    page.fill("#legal-pin", INITIAL_PIN)
    page.click(f'tr[data-card-id="{op.id}"] button[data-action="unlock"]')
    expect(page.locator("#unlock-continue")).to_be_visible(timeout=WAIT_MS)
    expect(message(page)).to_contain_text("操作员卡", timeout=WAIT_MS)
    desk.insert(world.workdir / "operator.json")
    wait_for_card_in_page(page, op.card_no)
    page.click("#unlock-continue")
    expect(message(page)).to_contain_text("已解锁", timeout=WAIT_MS)
    wait_for_card_in_page(page, op.card_no)
    expect(page.locator("#card-status")).to_contain_text("剩余尝试次数 3", timeout=WAIT_MS)
    shot(page, "card-04-operator-unlocked")
    assert world.card("operator").pin_is_initial

    # ---- renew the operator card: the legal card grants, the operator card's PIN lets the agent write --
    desk.insert(world.workdir / "legal.json")
    wait_for_card_in_page(page, legal.card_no)
    page.fill("#legal-pin", INITIAL_PIN)
    page.click(f'tr[data-card-id="{op.id}"] button[data-action="renew"]')
    expect(page.locator("#renew-continue")).to_be_visible(timeout=WAIT_MS)
    desk.insert(world.workdir / "operator.json")
    wait_for_card_in_page(page, op.card_no)
    page.fill("#operator-pin", "11112222")  # a wrong operator PIN: refused, the retry needs no new grant
    page.click("#renew-continue")
    expect(message(page)).to_contain_text("密码错误", timeout=WAIT_MS)
    assert world.card("operator").certificate.serial == op.certificate.serial
    page.fill("#operator-pin", INITIAL_PIN)
    page.click("#renew-continue")
    expect(message(page)).to_contain_text("操作员卡证书已延期", timeout=WAIT_MS)
    shot(page, "card-04b-operator-renewed")
    renewed_op = world.card("operator")
    assert renewed_op.certificate.serial != op.certificate.serial and renewed_op.pin_is_initial
    with world.services.store.transaction(readonly=True) as tx:
        assert tx.certificates.get(op.certificate.serial).reason == "superseded"
        assert tx.certificates.get(renewed_op.certificate.serial).status == "good"

    # ---- renew the legal card inside its window -----------------------------------------------------------
    desk.insert(world.workdir / "legal.json")
    wait_for_card_in_page(page, legal.card_no)
    expect(page.locator("#renewal-window")).to_have_attribute("data-open", "yes")
    page.fill("#legal-pin", INITIAL_PIN)
    page.click("#renew-legal")
    expect(message(page)).to_contain_text("已延期", timeout=WAIT_MS)
    shot(page, "card-05-renewed")
    renewed = world.card("legal")
    assert renewed.certificate.serial != legal.certificate.serial and renewed.pin_is_initial
    with world.services.store.transaction(readonly=True) as tx:
        assert tx.certificates.get(legal.certificate.serial).reason == "superseded"
        assert tx.certificates.get(renewed.certificate.serial).status == "good"
    page.close()


def test_a_page_from_an_origin_not_on_the_allow_list_cannot_reach_the_agent(rig: Rig, browser: Browser):
    world = rig.world
    rig.desk.insert(world.workdir / "legal.json")
    page = browser.new_page()
    # The same app under another origin (localhost is not 127.0.0.1 to the browser or the agent).
    page.goto(rig.base.replace("127.0.0.1", "localhost") + "/portal/card-login")
    expect(page.locator("#card-status")).to_have_attribute("data-state", "down", timeout=WAIT_MS)
    expect(page.locator("#agent-help")).to_be_visible()
    expect(page.locator("#card-login-button")).to_be_disabled()
    shot(page, "card-06-origin-refused")
    # The allowed origin reaches the same agent and sees the card.
    page.goto(f"{rig.base}/portal/card-login")
    wait_for_card_in_page(page, world.card("legal").card_no)
    page.close()
