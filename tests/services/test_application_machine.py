"""Random sequences of calls through the service door keep the application invariants (issue #10).

Enterprises, a reviewer, a card maker and a counter clerk act on a few applications in any order, often
with a version they saw before someone else's change. Every refused call changes nothing; every
accepted one is a legal move by someone allowed to make it, bumps the version once and adds one audit
row; an enterprise never has two open enrolments nor two legal cards; acceptance numbers and regions
never change once given. SQLite, a bounded number of examples: it runs in seconds.
"""

from __future__ import annotations

import itertools
from collections import Counter

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from core import lifecycle
from core.errors import EportError
from core.model import Application, AppState, Business, Pickup
from core.samples import make_enrol
from core.services import Actor, Services

SYS = Actor.system("machine")
STAFF = {role: Actor(id=role, kind="staff", region="testland", roles=frozenset({role}))
         for role in ("reviewer", "card_maker", "counter_clerk")}
STAFF_MOVES = ("accept", "reject", "require_medium", "provide_medium", "start_production", "complete", "make",
               "ship", "deliver", "return", "hand_over")
ENTERPRISE_MOVES = ("submit", "withdraw", "edit", "delete")
ENTERPRISES = itertools.count(1)  # the store is shared by every example: each example has its own enterprises


def audit_action(action: str, before: Application) -> str:
    return "resubmit" if action == "submit" and before.state is AppState.REJECTED else action


def legal_move(before: Application, after: Application, action: str) -> bool:
    if before.state is not after.state:
        name = audit_action(action, before)
        move = lifecycle.MOVES.get(name)
        return move is not None and before.state in move.sources and after.state is move.target
    if before.delivery is not after.delivery:
        sources, target = lifecycle.DELIVERY_MOVES[action]
        return before.delivery in sources and after.delivery is target
    return action in ("edit", "make")


class ServiceDoor(RuleBasedStateMachine):
    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.svc = services.applications
        self.apps: list[str] = []
        self.owners: dict[str, Actor] = {}
        self.changes: Counter[str] = Counter()  # accepted changes per application (its audit rows but the first)
        self.numbers: dict[str, str] = {}  # acceptance numbers once given
        self.enterprises: list[int] = []

    @initialize(pickup=st.sampled_from(list(Pickup)), operators=st.integers(0, 2))
    def two_enterprises_and_a_draft(self, pickup: Pickup, operators: int) -> None:
        self.enterprises = [next(ENTERPRISES), next(ENTERPRISES)]
        self.pickup = pickup
        self.the_enterprise_starts_an_enrolment(operators)

    @rule(operators=st.integers(0, 2))
    def the_enterprise_starts_an_enrolment(self, operators: int) -> None:
        """The first enterprise enrols (again and again: only one may be open); the second one only meddles."""
        if sum(self.svc.get(a, SYS).state is not AppState.DELETED for a in self.apps) >= 4:
            return
        sample = make_enrol(self.enterprises[0], "testland", operators=operators, pickup=self.pickup)
        owner = Actor(id=f"e{self.enterprises[0]}", kind="enterprise", uscc=sample.enterprise.uscc)
        app = self.svc.create(attrs.evolve(sample, id=""), owner)
        self.apps.append(app.id)
        self.owners[app.id] = owner

    @rule(data=st.data())
    def the_enterprise_submits_a_new_enrolment(self, data) -> None:
        """A fresh draft submitted at once: refused while another enrolment is open or its legal card held."""
        self.the_enterprise_starts_an_enrolment(1)
        self._try(data, self.svc.get(self.apps[-1], SYS), "owner", "submit", False, "")

    @rule(data=st.data(), days=st.integers(1, 12))
    def the_right_people_make_moves(self, data, days: int) -> None:
        """Moves the application's state allows, each by someone whose role allows it, mostly on the current
        version, sometimes on one someone else has changed since (two pages open at once)."""
        for _ in range(days):
            app = self.svc.get(data.draw(st.sampled_from(self.apps)), SYS)
            moves = [(role, action) for role in STAFF for action in self.svc.available_actions(app, STAFF[role])]
            if app.state in lifecycle.EDITABLE_STATES | {AppState.SUBMITTED}:
                moves += [("owner", a) for a in ENTERPRISE_MOVES]
            if moves:
                who, action = data.draw(st.sampled_from(moves))
                stale = data.draw(st.sampled_from([False, False, False, True])) and app.version > 1
                self._try(data, app, who, action, stale, data.draw(st.sampled_from(["", "企业撤回该卡"])))

    @rule(data=st.data(), action=st.sampled_from(STAFF_MOVES + ENTERPRISE_MOVES),
          who=st.sampled_from(["owner", "other enterprise", *STAFF]), stale=st.booleans(),
          reason=st.sampled_from(["", "企业撤回该卡"]))
    def anyone_tries_anything(self, data, action: str, who: str, stale: bool, reason: str) -> None:
        """Any move by anyone, often on a version someone else has changed since."""
        self._try(data, self.svc.get(data.draw(st.sampled_from(self.apps)), SYS), who, action, stale, reason)

    def _try(self, data, before: Application, who: str, action: str, stale: bool, reason: str) -> None:
        app_id = before.id
        actor = self._actor(who, before)
        version = before.version - 1 if stale else before.version  # stale: someone changed it since
        trail = len(self.svc.audit_trail(app_id, SYS))
        try:
            after = self._call(actor, action, before, version, reason, data)
        except EportError as refused:
            assert refused.zh and refused.en
            assert self.svc.get(app_id, SYS) == before, (action, who)  # nothing changed
            assert len(self.svc.audit_trail(app_id, SYS)) == trail
            return
        assert not stale, f"{action} by {who} on a stale version was accepted"
        assert actor.may(action), (action, who)
        if actor.kind == "enterprise":
            assert actor.uscc == before.enterprise.uscc, "an enterprise acted on another's application"
        assert legal_move(before, after, action), (action, before.state, after.state)
        assert after.version == before.version + 1 and self.svc.get(app_id, SYS) == after
        audit = self.svc.audit_trail(app_id, SYS)
        assert len(audit) == trail + 1 and audit[-1].action == audit_action(action, before)
        self.changes[app_id] += 1

    def _actor(self, who: str, app: Application) -> Actor:
        if who == "owner":
            return self.owners[app.id]
        if who == "other enterprise":
            other = make_enrol(self.enterprises[1], "testland").enterprise
            return Actor(id=f"e{self.enterprises[1]}", kind="enterprise", uscc=other.uscc)
        return STAFF[who]

    def _call(self, actor: Actor, action: str, app: Application, version: int, reason: str, data) -> Application:
        svc = self.svc
        if action == "submit":
            return svc.submit(app.id, actor, expected_version=version)
        if action == "withdraw":
            return svc.withdraw(app.id, actor, expected_version=version)
        if action == "delete":
            return svc.delete(app.id, actor, expected_version=version)
        if action == "edit":
            return svc.edit(app.id, actor, expected_version=version, remarks=f"v{version}")
        item = data.draw(st.integers(0, max(len(app.items) - 1, 0)))
        return svc.perform(app.id, action, actor, version=version, reasons=["remarks"], tracking_no="SF1",
                           acceptance_no=app.acceptance_no, item=item, unmade_reason=reason)

    # ---- invariants ---------------------------------------------------------------------------------------------
    def _all(self) -> list[Application]:
        return [self.svc.get(app_id, SYS) for app_id in self.apps]

    @invariant()
    def one_open_enrolment_and_one_legal_card_per_enterprise(self) -> None:
        open_ones: Counter[str] = Counter()
        legal_cards: Counter[str] = Counter()
        for app in self._all():
            if app.business is Business.ENROL and app.state in lifecycle.OPEN_STATES:
                open_ones[app.enterprise.uscc] += 1
            if app.state is AppState.COMPLETED and any(i.made for i in app.legal_items):
                legal_cards[app.enterprise.uscc] += 1
        assert all(n <= 1 for n in open_ones.values()), open_ones
        assert all(n <= 1 for n in legal_cards.values()), legal_cards
        assert all(open_ones[uscc] + legal_cards[uscc] <= 1 for uscc in open_ones | legal_cards)

    @invariant()
    def every_application_keeps_its_facts(self) -> None:
        for app in self._all():
            state = AppState.DRAFT
            for t in app.history:  # states only by legal moves
                assert t.from_state is state
                state = t.to_state
            assert state is app.state and app.region == "testland"
            if app.acceptance_no:
                assert self.numbers.setdefault(app.id, app.acceptance_no) == app.acceptance_no
            assert len(self.svc.audit_trail(app.id, SYS)) == 1 + self.changes[app.id]  # create + each change
            if app.state is AppState.COMPLETED and lifecycle.unmade_items(app):
                assert "未制卡办结" in next(t.note for t in reversed(app.history) if t.action == "complete")


@pytest.mark.parametrize("store_backend", ["sqlite"])  # the invariants are the services'; SQLite keeps it quick
def test_random_calls_through_the_service_door_keep_the_invariants(services):
    run_state_machine_as_test(lambda: ServiceDoor(services), settings=settings(
        max_examples=50, stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]))
