"""Application lifecycle: the transition table, core rules, and no reachable illegal state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from core import lifecycle as lc
from core.errors import RuleViolation, TransitionError
from core.model import AppState, Business, CardKind, CardRequest, Delivery, Pickup, RejectionReason
from core.rules import CardPolicy, Step, StepActor, Text
from core.samples import make_enrol, make_person

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
POLICY = CardPolicy()
S = AppState

# (action, source state, target) as DESIGN.md draws the lifecycle
EXPECTED_EDGES = {
    ("submit", S.DRAFT, S.SUBMITTED), ("withdraw", S.SUBMITTED, S.DRAFT), ("accept", S.SUBMITTED, S.ACCEPTED),
    ("reject", S.ACCEPTED, S.REJECTED), ("resubmit", S.REJECTED, S.SUBMITTED),
    ("require_medium", S.ACCEPTED, S.NEEDS_MEDIUM), ("provide_medium", S.NEEDS_MEDIUM, S.MEDIUM_READY),
    ("start_production", S.ACCEPTED, S.IN_PRODUCTION), ("start_production", S.MEDIUM_READY, S.IN_PRODUCTION),
    ("complete", S.IN_PRODUCTION, S.COMPLETED), ("delete", S.DRAFT, S.DELETED),
}


def test_transition_table_is_the_designed_one():
    edges = {(a, src, m.target) for a, m in lc.MOVES.items() for src in m.sources}
    assert edges == EXPECTED_EDGES


def all_made(app):
    return attrs.evolve(app, items=tuple(attrs.evolve(i, made=True) for i in app.items))


def run(app, action):
    at = T0
    match action:
        case "submit":
            return lc.submit(app, "u", at, "X0000001")
        case "resubmit":
            return lc.resubmit(app, "u", at)
        case "reject":
            return lc.reject(app, "u", at, [RejectionReason.REMARKS])
        case "complete":
            return lc.complete(all_made(app), "u", at)
        case _:
            return getattr(lc, action)(app, "u", at)


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("action", sorted(lc.MOVES))
def test_every_action_in_every_state(state, action):
    app = attrs.evolve(make_enrol(1), state=state)
    move = lc.MOVES[action]
    if state in move.sources:
        assert run(app, action).state is move.target
    else:
        with pytest.raises(TransitionError) as err:
            run(app, action)
        assert err.value.zh and err.value.en and err.value.field == "state"


def test_reject_needs_a_reason_and_other_needs_text():
    app = attrs.evolve(make_enrol(1), state=S.ACCEPTED)
    with pytest.raises(RuleViolation, match="at least one reason"):
        lc.reject(app, "r", T0, [])
    with pytest.raises(RuleViolation, match="explanation"):
        lc.reject(app, "r", T0, [RejectionReason.OTHER])
    done = lc.reject(app, "r", T0, ["remarks", RejectionReason.OTHER], note="备注缺少联系电话")
    assert done.last_reasons == (RejectionReason.REMARKS, RejectionReason.OTHER)
    assert done.last_rejection_note == "备注缺少联系电话"


def test_withdraw_only_before_acceptance_and_history_records_who_when_why():
    app = lc.submit(make_enrol(1), "ent", T0, "SZ0000001")
    back = lc.withdraw(app, "ent", T0 + timedelta(minutes=5), note="改为现场办理")
    assert back.state is S.DRAFT and back.history[-1].note == "改为现场办理"
    assert [(h.action, h.actor) for h in back.history] == [("submit", "ent"), ("withdraw", "ent")]
    accepted = lc.accept(app, "staff", T0)
    with pytest.raises(TransitionError):
        lc.withdraw(accepted, "ent", T0)


@pytest.mark.parametrize("state", [s for s in S if s not in lc.EDITABLE_STATES])
def test_edit_only_in_draft_or_rejected(state):
    app = attrs.evolve(make_enrol(1), state=state)
    with pytest.raises(TransitionError):
        lc.edit(app, remarks="x")


def test_edit_in_draft_and_rejected_and_unknown_fields_refused():
    app = make_enrol(1)
    assert lc.edit(app, remarks="自取+张三+13900000000").remarks.startswith("自取")
    assert lc.edit(attrs.evolve(app, state=S.REJECTED), remarks="x").remarks == "x"
    with pytest.raises(TransitionError):
        lc.edit(app, state=S.COMPLETED)


def test_acceptance_number_kept_on_resubmission():
    app = lc.submit(make_enrol(1), "e", T0, "SZ0000007")
    app = lc.reject(lc.accept(app, "s", T0), "s", T0, ["remarks"])
    again = lc.resubmit(app, "e", T0 + timedelta(days=1))
    assert again.acceptance_no == "SZ0000007" and again.history[-1].action == "resubmit"
    assert again.submitted_at == T0


# ---- core content rules ---------------------------------------------------------------------------------

def problems(app, ctx=None, policy=POLICY):
    ctx = ctx or lc.EnterpriseContext()
    return {(p.field, type(p).__name__) for p in lc.check_content(app, ctx, policy)}


def test_complete_enrolment_has_no_problems():
    assert lc.check_content(make_enrol(1, operators=10), lc.EnterpriseContext(), POLICY) == []


def test_eleventh_operator_card_refused():
    errs = lc.check_content(make_enrol(1, operators=11), lc.EnterpriseContext(), POLICY)
    assert [e.field for e in errs] == ["items"] and "10" in errs[0].zh and "at most 10" in errs[0].en


def test_one_legal_card_per_enterprise():
    app = make_enrol(1)
    two = lc.edit(app, items=(*app.items, CardRequest(kind=CardKind.LEGAL, holder=app.enterprise.legal_rep)))
    assert ("items", "RuleViolation") in problems(two)


def test_legal_rep_holds_no_operator_card_unless_region_says_otherwise():
    app = make_enrol(1)
    rep_op = CardRequest(kind=CardKind.OPERATOR, holder=app.enterprise.legal_rep)
    bad = lc.edit(app, items=(*app.items, rep_op))
    assert ("items[3].holder", "RuleViolation") in problems(bad)
    assert problems(bad, policy=CardPolicy(legal_rep_may_hold_operator=True)) == set()


def test_one_operator_card_per_person_per_enterprise():
    app = make_enrol(1, operators=1)
    dup = lc.edit(app, items=(*app.items, app.items[1]))
    assert ("items[3].holder", "RuleViolation") in problems(dup)


def test_unconfirmed_operator_row_and_declarant_number():
    app = make_enrol(1, operators=0)
    rows = (CardRequest(kind=CardKind.OPERATOR, holder=make_person(500), confirmed=False),
            CardRequest(kind=CardKind.DECLARANT, holder=make_person(501)))
    got = problems(lc.edit(app, items=(*app.items, *rows)))
    assert {"items[2].confirmed", "items[3].declarant_no"} <= {f for f, _ in got}


def test_only_one_open_enrolment_per_enterprise():
    first = lc.submit(make_enrol(1), "e", T0, "SZ1")
    second = attrs.evolve(make_enrol(1), id="other")
    assert ("business", "RuleViolation") in problems(second, lc.EnterpriseContext(open_applications=(first,)))
    finished = attrs.evolve(first, state=S.COMPLETED)
    assert problems(second, lc.EnterpriseContext(open_applications=(finished,))) == set()


def test_mail_pickup_needs_an_address_and_an_agent_is_required():
    app = attrs.evolve(make_enrol(1), agent=None)
    app = lc.edit(app, pickup=attrs.evolve(app.pickup, method=Pickup.MAIL, mail_to=None))
    assert {"agent", "pickup.mail_to"} <= {f for f, _ in problems(app)}


# ---- region steps -----------------------------------------------------------------------------------------

AIC = Step(code="aic_review", name=Text("工商局审核", "AIC review"), after=S.ACCEPTED, actor=StepActor.EXTERNAL)


def test_region_step_blocks_forward_moves_until_done():
    app = lc.accept(lc.submit(make_enrol(1), "e", T0, "X1"), "s", T0, [AIC])
    with pytest.raises(TransitionError, match="AIC review"):
        lc.start_production(app, "s", T0, [AIC])
    rejected = lc.reject(app, "s", T0, ["other"], note="工商审核未通过")  # backward moves are not blocked
    assert rejected.state is S.REJECTED
    done = lc.complete_step(app, "aic_review", [AIC], "s", T0)
    assert lc.start_production(done, "s", T0, [AIC]).state is S.IN_PRODUCTION
    with pytest.raises(TransitionError):
        lc.complete_step(done, "aic_review", [AIC], "s", T0)


def test_completion_needs_every_card_made_or_a_reason():
    app = attrs.evolve(make_enrol(1, operators=2), state=S.IN_PRODUCTION)
    with pytest.raises(RuleViolation, match=r"card\(s\) 1, 2, 3 not made") as refused:
        lc.complete(app, "s", T0)
    assert refused.value.field == "items" and "第1、2、3张卡尚未制作" in refused.value.zh
    app = lc.mark_item_made(lc.mark_item_made(app, 0), 2)
    with pytest.raises(RuleViolation, match=r"card\(s\) 2 not made"):
        lc.complete(app, "s", T0, unmade_reason=" ")
    done = lc.complete(app, "s", T0, note="已通知企业", unmade_reason="操作员离职，企业撤回该卡")
    assert done.state is S.COMPLETED
    assert done.history[-1].note == "已通知企业；未制卡办结 / completed without card(s) 2：操作员离职，企业撤回该卡"
    assert lc.complete(lc.mark_item_made(app, 1), "s", T0).history[-1].note == ""


def test_delivery_after_completion():
    app = make_enrol(1, pickup=Pickup.MAIL)
    app = all_made(attrs.evolve(app, state=S.IN_PRODUCTION))
    done = lc.complete(app, "s", T0)
    assert done.delivery is None
    with pytest.raises(Exception, match="tracking"):
        lc.deliver(done, "ship", "s", T0, tracking_no=" ")
    shipped = lc.deliver(done, "ship", "s", T0, tracking_no="EMS123456789CN")
    assert shipped.delivery is Delivery.SHIPPED and shipped.tracking_no == "EMS123456789CN"
    returned = lc.deliver(shipped, "return", "s", T0)
    assert lc.deliver(returned, "hand_over", "s", T0).delivery is Delivery.HANDED_OVER
    counter = lc.complete(all_made(attrs.evolve(make_enrol(2), state=S.IN_PRODUCTION)), "s", T0)
    assert counter.delivery is Delivery.AWAITING_PICKUP
    with pytest.raises(TransitionError):
        lc.deliver(counter, "ship", "s", T0, tracking_no="X")


# ---- property: no sequence of actions reaches an illegal state ------------------------------------------

ACTIONS = [*sorted(lc.MOVES), "edit", "step", "make", "ship", "hand_over", "deliver", "return"]


class ApplicationMachine(RuleBasedStateMachine):
    @initialize(operators=st.integers(0, 3), aic=st.booleans())
    def start(self, operators, aic):
        self.steps = [AIC] if aic else []
        self.app = make_enrol(1, operators=operators)
        self.clock = T0

    @rule(action=st.sampled_from(ACTIONS), reasons=st.lists(st.sampled_from(list(RejectionReason)), max_size=2))
    def act(self, action, reasons):
        before = self.app
        self.clock += timedelta(minutes=1)
        try:
            if action == "submit":
                after = lc.submit(before, "e", self.clock, "X0000001", self.steps)
            elif action == "resubmit":
                after = lc.resubmit(before, "e", self.clock, self.steps)
            elif action == "reject":
                after = lc.reject(before, "s", self.clock, reasons, note="说明")
            elif action == "edit":
                after = lc.edit(before, remarks=f"r{self.clock.minute}")
            elif action == "step":
                after = lc.complete_step(before, "aic_review", self.steps, "s", self.clock)
            elif action == "make":
                after = lc.mark_item_made(before, (lc.unmade_items(before) or [0])[0])
            elif action in lc.DELIVERY_MOVES:
                after = lc.deliver(before, action, "s", self.clock, tracking_no="T1")
            else:
                after = getattr(lc, action)(before, "s", self.clock, *([self.steps] if action != "delete" and
                                                                       lc.MOVES[action].forward else []))
        except (TransitionError, RuleViolation) as exc:
            assert exc.zh and exc.en
            assert self.app is before  # nothing changed
            return
        self.app = after

    @invariant()
    def history_is_a_chain(self):
        state = S.DRAFT
        for t in self.app.history:
            assert t.from_state is state
            state = t.to_state
        assert state is self.app.state

    @invariant()
    def state_facts_hold(self):
        app = self.app
        if app.state is S.REJECTED:
            assert app.last_reasons
        if app.state not in (S.DRAFT, S.DELETED) or app.submitted_at:
            assert app.acceptance_no or app.state is S.DRAFT
        if app.delivery is not None:
            assert app.state is S.COMPLETED
        if app.state in (S.IN_PRODUCTION, S.COMPLETED) and self.steps:
            assert "aic_review" in app.steps_done
        if app.state is S.COMPLETED:
            assert not lc.unmade_items(app)  # no reason given here: every card was made
        if any(t.to_state is S.DELETED for t in app.history):
            assert app.state is S.DELETED
        reached = [t.to_state for t in app.history]
        if S.IN_PRODUCTION in reached:
            first = reached.index(S.IN_PRODUCTION)
            assert S.ACCEPTED in reached[:first]


ApplicationMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
TestApplicationMachine = ApplicationMachine.TestCase


@given(st.integers(0, 12))
def test_operator_limit_property(n):
    errs = lc.check_content(make_enrol(1, operators=n), lc.EnterpriseContext(), POLICY)
    assert bool(errs) == (n > 10)


def test_add_card_may_not_carry_a_legal_card():
    app = attrs.evolve(make_enrol(1), business=Business.ADD_CARD)
    assert ("items", "RuleViolation") in problems(app)
