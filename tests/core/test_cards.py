"""Card lifecycle (DESIGN.md, after Dogtag TPS) and the card rules of the sources."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from core import cards
from core.errors import Forbidden, RuleViolation, TransitionError
from core.model import Card, CardKind, CardState, CertificateRef
from core.rules import CardPolicy
from core.samples import make_person

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
C = CardState
POLICY = CardPolicy()

EXPECTED = {
    ("issue", C.BLANK, C.ACTIVE), ("lock", C.ACTIVE, C.LOCKED), ("unlock", C.LOCKED, C.ACTIVE),
    ("freeze", C.ACTIVE, C.FROZEN), ("unfreeze", C.FROZEN, C.ACTIVE),
    ("report_lost", C.ACTIVE, C.REPORTED_LOST), ("found", C.REPORTED_LOST, C.ACTIVE),
    ("void", C.REPORTED_LOST, C.VOIDED),
    ("cancel", C.ACTIVE, C.CANCELLED), ("cancel", C.LOCKED, C.CANCELLED), ("cancel", C.FROZEN, C.CANCELLED),
    ("renew", C.ACTIVE, C.ACTIVE), ("reset_pin", C.ACTIVE, C.ACTIVE), ("reset_pin", C.LOCKED, C.ACTIVE),
    ("change_pin", C.ACTIVE, C.ACTIVE),
} | {("replace", s, C.REPLACED) for s in (C.BLANK, C.ACTIVE, C.LOCKED, C.FROZEN, C.REPORTED_LOST)}


def cert(days_left: float) -> CertificateRef:
    end = NOW + timedelta(days=days_left)
    return CertificateRef(serial="ab12", not_before=end - timedelta(days=3650), not_after=end)


def card(kind=CardKind.LEGAL, state=C.ACTIVE, days_left=1000.0, uscc="91440300MA00000017") -> Card:
    return Card(id="c1", enterprise_uscc=uscc, kind=kind, holder=make_person(1), state=state,
                certificate=cert(days_left), pin_is_initial=False)


def test_transition_table_is_the_designed_one():
    got = {(a, s, m.target or s) for a, m in cards.CARD_MOVES.items() for s in m.sources}
    assert got == EXPECTED


@pytest.mark.parametrize("state", [s for s in C if s is not C.EXPIRED])
@pytest.mark.parametrize("action", sorted(cards.CARD_MOVES))
def test_every_action_in_every_state(state, action):
    c = card(state=state)
    if state in cards.CARD_MOVES[action].sources:
        new, event, _ = cards.transition(c, action, "u", NOW)
        assert (event.from_state, event.to_state) == (state, new.state)
    else:
        with pytest.raises(TransitionError):
            cards.transition(c, action, "u", NOW)


@pytest.mark.parametrize(("action", "state", "kind", "reason", "on_hold", "revoked"), [
    ("freeze", C.ACTIVE, "hold", "certificate_hold", True, False),
    ("report_lost", C.ACTIVE, "hold", "certificate_hold", True, False),
    ("unfreeze", C.FROZEN, "release", "", False, False),
    ("found", C.REPORTED_LOST, "release", "", False, False),
    ("void", C.REPORTED_LOST, "revoke", "key_compromise", False, True),
    ("cancel", C.ACTIVE, "revoke", "cessation_of_operation", False, True),
    ("replace", C.ACTIVE, "revoke", "superseded", False, True),
])
def test_certificate_side_effects(action, state, kind, reason, on_hold, revoked):
    new, _, effect = cards.transition(card(state=state), action, "u", NOW)
    assert effect is not None and (effect.kind, effect.reason) == (kind, reason)
    assert (new.certificate.on_hold, new.certificate.revoked) == (on_hold, revoked)


@pytest.mark.parametrize("action,state", [("unlock", C.LOCKED), ("renew", C.ACTIVE), ("reset_pin", C.LOCKED)])
def test_unlock_renew_reset_put_pin_back_to_initial(action, state):
    # Shenzhen 000: 解锁/延期成功后密码会恢复为默认的8个8
    new, _, _ = cards.transition(card(state=state), action, "u", NOW)
    assert new.pin_is_initial


def test_change_pin_clears_the_initial_flag_and_is_recorded():
    issued, _, _ = cards.issue(Card(id="c", enterprise_uscc="u", kind=CardKind.OPERATOR, holder=make_person(2)),
                               cert(3650), "CARD1", "", "staff", NOW)
    assert issued.pin_is_initial
    changed, event, effect = cards.transition(issued, "change_pin", "ent:u", NOW)
    assert not changed.pin_is_initial and changed.state is C.ACTIVE and effect is None
    assert changed.history == (*issued.history, event)
    assert (event.action, event.from_state, event.to_state, event.actor) == ("change_pin", C.ACTIVE, C.ACTIVE,
                                                                             "ent:u")
    # Unlock puts 88888888 back, so the holder must change it again.
    locked, _, _ = cards.transition(changed, "lock", "s", NOW)
    assert cards.transition(locked, "unlock", "s", NOW)[0].pin_is_initial


@pytest.mark.parametrize("state", [C.LOCKED, C.FROZEN, C.REPORTED_LOST, C.BLANK, C.CANCELLED])
def test_change_pin_refused_unless_active(state):
    before = card(state=state)
    with pytest.raises(TransitionError) as refused:
        cards.transition(before, "change_pin", "u", NOW)
    assert refused.value.field == "state" and state.value in refused.value.en


def test_expired_is_derived_from_the_certificate():
    assert cards.effective_state(card(days_left=-1), NOW) is C.EXPIRED
    assert cards.effective_state(card(days_left=1), NOW) is C.ACTIVE
    assert cards.effective_state(card(state=C.CANCELLED, days_left=-1), NOW) is C.CANCELLED


@pytest.mark.parametrize("pin,ok", [("88888888", False), ("12345", False), ("12a45678", False),
                                    ("123456", True), ("20261122", True), ("1" * 16, True), ("1" * 17, False)])
def test_new_pin_rules(pin, ok):
    if ok:
        cards.check_new_pin(pin, POLICY)
    else:
        with pytest.raises(RuleViolation) as err:
            cards.check_new_pin(pin, POLICY)
        assert err.value.field == "new_pin"


@pytest.mark.parametrize("days_left,state,kind,ok", [
    (180, C.ACTIVE, CardKind.LEGAL, True),      # inside 0-180
    (0.5, C.ACTIVE, CardKind.LEGAL, True),
    (181, C.ACTIVE, CardKind.LEGAL, False),     # too early
    (-1, C.ACTIVE, CardKind.LEGAL, False),      # expired: 已过期的法人卡无法使用本程序
    (30, C.LOCKED, CardKind.LEGAL, False),      # 已被锁的法人 IC 卡不适用该功能
    (30, C.ACTIVE, CardKind.OPERATOR, False),   # 本程序只应用于法人卡的延期
])
def test_self_service_renewal_window(days_left, state, kind, ok):
    c = card(kind=kind, state=state, days_left=days_left)
    if ok:
        cards.check_self_renewal(c, NOW, POLICY)
    else:
        with pytest.raises(RuleViolation):
            cards.check_self_renewal(c, NOW, POLICY)


def test_legal_card_authorises_its_own_enterprises_operator_cards_only():
    legal, op = card(), card(kind=CardKind.OPERATOR)
    for action in cards.OPERATOR_ACTIONS_BY_LEGAL_CARD:
        cards.authorise_operator_action(legal, op, action, NOW)
    with pytest.raises(Forbidden):
        cards.authorise_operator_action(legal, attrs.evolve(op, enterprise_uscc="other"), "unlock", NOW)
    with pytest.raises(Forbidden):
        cards.authorise_operator_action(card(state=C.LOCKED), op, "unlock", NOW)
    with pytest.raises(Forbidden):
        cards.authorise_operator_action(card(days_left=-1), op, "unlock", NOW)
    with pytest.raises(Forbidden):
        cards.authorise_operator_action(op, op, "unlock", NOW)
    with pytest.raises(Forbidden):
        cards.authorise_operator_action(legal, op, "cancel", NOW)


class CardMachine(RuleBasedStateMachine):
    @initialize()
    def start(self):
        self.card = Card(id="c", enterprise_uscc="u", kind=CardKind.OPERATOR, holder=make_person(2))

    @rule(action=st.sampled_from(sorted(cards.CARD_MOVES)))
    def act(self, action):
        before = self.card
        try:
            if action == "issue":
                self.card, _, _ = cards.issue(before, cert(3650), "CARD1", "1234567890123", "s", NOW)
            else:
                self.card, _, _ = cards.transition(before, action, "s", NOW)
        except TransitionError:
            assert self.card is before

    @invariant()
    def consistent(self):
        c = self.card
        states = [C.BLANK] + [e.to_state for e in c.history]
        assert states[-1] is c.state
        assert all(s not in cards.TERMINAL for s in states[:-1])  # nothing leaves a terminal state
        if c.state not in (C.BLANK, C.REPLACED):  # a blank card may be replaced before personalisation
            assert c.certificate is not None
        if c.certificate is not None and c.state in (C.VOIDED, C.CANCELLED, C.REPLACED):
            assert c.certificate.revoked
        if c.state in (C.FROZEN, C.REPORTED_LOST):
            assert c.certificate.on_hold
        if c.state is C.ACTIVE and c.certificate is not None:
            assert not c.certificate.on_hold and not c.certificate.revoked


CardMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=25, deadline=None)
TestCardMachine = CardMachine.TestCase
