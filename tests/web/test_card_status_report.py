"""The card page reports what the agent read from the card in the reader (``eport-card_Status``), so the
server learns of a PIN the holder changed at the agent and of a card that blocked itself there. Only the
enterprise's own card, only the way the card itself went; bad reports are bilingual 400/403 and change
nothing."""

# ruff: noqa: F811  (pytest fixtures imported from test_card_login are redefined as arguments)
from __future__ import annotations

import pytest
from test_card_login import World, api, card_client, make_world, world  # noqa: F401
from test_card_page import agent, card_login
from webkit import csrf_of

from core.hardware.errors import CardBlocked, WrongPin
from core.hardware.profile import INITIAL_PIN
from core.model import CardState


def report(client, status: dict):
    return api(client, "/portal/cards/status", {k: status[k] for k in ("certNo", "pinIsInitial", "triesLeft")},
               token=csrf_of(client, "/portal/cards"))


def trail(world: World, name: str) -> list[tuple[str, str]]:
    return [(e.action, e.note) for e in world.card(name).history]


def test_a_pin_changed_at_the_agent_is_recorded(world, card_client):
    card_login(world, card_client)
    assert world.card("legal").pin_is_initial
    status = agent(world, "legal", "eport-card_Status")[0]
    before = world.snapshot()
    assert report(card_client, status).status_code == 200  # still the initial PIN: nothing to record
    assert world.snapshot() == before

    agent(world, "legal", "cus-sec_SpcChangePIN", {"oldPin": INITIAL_PIN, "newPin": "24681357"})
    status = agent(world, "legal", "eport-card_Status")[0]
    assert status["pinIsInitial"] is False
    reply = report(card_client, status)
    assert reply.status_code == 200 and reply.json()["card"]["pinIsInitial"] is False
    card = world.card("legal")
    assert not card.pin_is_initial and card.state is CardState.ACTIVE
    assert trail(world, "legal")[-1][0] == "change_pin" and "reported by the card agent" in trail(world, "legal")[-1][1]
    again = world.snapshot()
    assert report(card_client, status).status_code == 200 and world.snapshot() == again  # once only


def test_a_card_that_blocked_itself_is_recorded_as_locked(world, card_client):
    card_login(world, card_client)
    for _ in range(3):
        with pytest.raises((WrongPin, CardBlocked)):
            agent(world, "operator", "cus-sec_SpcVerifyPIN", {"passwd": "00000000"})
    status = agent(world, "operator", "eport-card_Status")[0]
    assert status["triesLeft"] == 0
    assert report(card_client, status).status_code == 200
    assert world.card("operator").state is CardState.LOCKED
    assert trail(world, "operator")[-1][0] == "lock"


def test_reports_for_other_cards_or_with_bad_values_change_nothing(world, card_client):
    card_login(world, card_client)
    status = agent(world, "legal", "eport-card_Status")[0]
    before = world.snapshot()
    for bad, field in (({"triesLeft": -1}, "triesLeft"), ({"triesLeft": "3"}, "triesLeft"),
                       ({"triesLeft": True}, "triesLeft"), ({"pinIsInitial": "no"}, "pinIsInitial")):
        reply = report(card_client, status | bad)
        assert reply.status_code == 400 and reply.json()["error"]["field"] == field
        assert reply.json()["error"]["zh"] and reply.json()["error"]["en"]
    unknown = report(card_client, status | {"certNo": "ab" * 16, "triesLeft": 0})
    assert unknown.status_code == 403 and unknown.json()["error"]["field"] == "certNo"
    assert world.snapshot() == before


def test_a_password_session_cannot_report(world, card_client):
    status = agent(world, "legal", "eport-card_Status")[0]
    before = world.snapshot()
    reply = report(card_client, status | {"triesLeft": 0})
    assert reply.status_code == 403 and world.snapshot() == before
