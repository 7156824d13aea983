"""Issue #10's application bugs at the service door: each rule lives once, in the domain or the service."""

from __future__ import annotations

import re

import attrs
import pytest
from racing import at_once

from core import lifecycle
from core.errors import ConflictError, Forbidden, InvalidInput, Problems, RuleViolation, Unavailable
from core.model import AppState, Delivery, Pickup, RejectionReason
from core.samples import make_enrol
from core.services import Actor, sms
from core.store.accounts import SmsOutbox

SYS = Actor.system("test")
STAFF = Actor(id="rev", kind="staff", region="testland", roles=frozenset({"branch_admin"}))


def ent(app):
    return Actor(id="admin", kind="enterprise", uscc=app.enterprise.uscc)


def draft(services, n=1, **kw):
    app = make_enrol(n, "testland", **kw)
    return services.applications.create(attrs.evolve(app, id=""), ent(app))


# ---- a rejected enrolment holds the enterprise's single enrol slot --------------------------------------------

def test_a_rejected_enrolment_still_holds_the_slot(services):
    svc = services.applications
    first = draft(services)
    svc.accept(svc.submit(first.id, ent(first)).id, STAFF)
    rejected = svc.reject(first.id, STAFF, [RejectionReason.REMARKS])
    assert rejected.state is AppState.REJECTED
    second = draft(services)
    with pytest.raises(Problems, match="another enrolment"):
        svc.submit(second.id, ent(second))
    assert svc.get(second.id, SYS).state is AppState.DRAFT
    assert svc.submit(first.id, ent(first)).state is AppState.SUBMITTED  # the rejected one itself resubmits


def test_the_store_reads_the_domains_open_states(services):
    svc = services.applications
    first = draft(services)
    svc.accept(svc.submit(first.id, ent(first)).id, STAFF)
    svc.reject(first.id, STAFF, [RejectionReason.REMARKS])
    with services.store.transaction(readonly=True) as tx:
        found = tx.applications.open_for(first.enterprise.uscc, first.business)
    assert [a.id for a in found] == [first.id] and AppState.REJECTED in lifecycle.OPEN_STATES


# ---- the making centre never moves an application to another region -------------------------------------------

@pytest.fixture
def two_regions(services):
    """The services with Shenzhen and Xi'an enabled (each with its own making centre)."""
    from core.plugins import get_plugin_manager
    from core.rulebook import Rulebook

    return attrs.evolve(services, rulebook=Rulebook(get_plugin_manager(enabled=["shenzhen", "xian"])))


def test_a_foreign_making_centre_is_refused_and_the_region_stays(two_regions):
    svc = two_regions.applications
    sample = make_enrol(5, "shenzhen")
    me = ent(sample)
    with pytest.raises(InvalidInput, match="making centres: shenzhen_east_hall"):
        svc.create(attrs.evolve(sample, id="", making_centre="xa_service_desk"), me)
    app = svc.create(attrs.evolve(sample, id=""), me)
    for centre in ("xa_service_desk", "hz_centre", "nowhere"):
        with pytest.raises(InvalidInput) as refused:
            svc.edit(app.id, me, making_centre=centre)
        assert refused.value.field == "making_centre" and refused.value.zh
    with pytest.raises(InvalidInput, match="outlets"):
        svc.edit(app.id, me, pickup=attrs.evolve(app.pickup, outlet="xa_service_desk"))
    assert svc.get(app.id, me) == app
    chosen = svc.edit(app.id, me, making_centre="shenzhen_east_hall")
    assert (chosen.region, chosen.issuing_centre, chosen.making_centre) == ("shenzhen", "shenzhen", "shenzhen_east_hall")
    submitted = svc.submit(chosen.id, me)
    assert submitted.region == "shenzhen" and submitted.acceptance_no.startswith("WSZ")


def test_a_stored_foreign_making_centre_stops_the_submission(two_regions):
    """Written before the rule (or by hand): the submission names the problem instead of moving regions."""
    svc = two_regions.applications
    sample = make_enrol(6, "shenzhen")
    app = svc.create(attrs.evolve(sample, id=""), ent(sample))
    with two_regions.store.transaction() as tx:
        tx.applications.update(attrs.evolve(app, making_centre="xa_service_desk"))
    with pytest.raises(Problems) as refused:
        svc.submit(app.id, ent(sample))
    assert [p.field for p in refused.value.problems] == ["making_centre"]
    assert svc.get(app.id, SYS).region == "shenzhen"


# ---- 办结 needs every card made (or an explicit, audited reason) ------------------------------------------------

def in_production(services, n=1, **kw):
    svc = services.applications
    app = draft(services, n, **kw)
    return svc.start_production(svc.accept(svc.submit(app.id, ent(app)).id, STAFF).id, STAFF)


def test_completion_needs_every_card_made(services):
    svc = services.applications
    app = in_production(services, operators=1)
    with pytest.raises(RuleViolation, match=r"card\(s\) 1, 2 not made") as refused:
        svc.complete(app.id, STAFF)
    assert refused.value.field == "items" and "第1、2张卡尚未制作" in refused.value.zh
    made = svc.mark_made(app.id, 0, STAFF)
    with pytest.raises(RuleViolation, match=r"card\(s\) 2 not made"):
        svc.complete(made.id, STAFF)
    assert svc.get(app.id, SYS) == made
    done = svc.complete(svc.mark_made(app.id, 1, STAFF).id, STAFF)
    assert done.state is AppState.COMPLETED


def test_completion_without_a_card_needs_a_reason_that_is_kept_and_audited(services):
    svc = services.applications
    app = in_production(services, operators=1)
    svc.mark_made(app.id, 0, STAFF)
    with pytest.raises(RuleViolation):
        svc.complete(app.id, STAFF, unmade_reason="   ")
    done = svc.complete(app.id, STAFF, note="办结", unmade_reason="企业撤回了操作员卡申请")
    assert done.state is AppState.COMPLETED and not done.items[1].made
    assert "企业撤回了操作员卡申请" in done.history[-1].note and "card(s) 2" in done.history[-1].note
    trail = svc.audit_trail(app.id, STAFF)
    assert trail[-1].action == "complete" and "企业撤回了操作员卡申请" in trail[-1].payload["note"]


def test_an_enrolment_completed_without_its_legal_card_lets_the_enterprise_enrol_again(services):
    """The enterprise really has no legal card then: the reason is on record, and enrolment is open again."""
    svc = services.applications
    app = in_production(services, operators=0)
    svc.complete(app.id, STAFF, unmade_reason="法定代表人未到场领取，申请作废")
    assert svc.may_apply(ent(app), app.business, card_login=False) is None


# ---- every state change takes the expected version, checked inside the transaction ------------------------------

def test_mark_made_checks_the_version_seen(services):
    svc = services.applications
    app = in_production(services, operators=1)
    with pytest.raises(ConflictError, match="changed meanwhile"):
        svc.mark_made(app.id, 0, STAFF, expected_version=app.version - 1)
    assert svc.get(app.id, SYS) == app
    assert svc.mark_made(app.id, 0, STAFF, expected_version=app.version).items[0].made


def test_two_makers_on_the_same_version_exactly_one_wins(services, store_backend):
    svc = services.applications
    app = in_production(services, operators=1)
    results = at_once(lambda: svc.mark_made(app.id, 0, STAFF, expected_version=app.version),
                      lambda: svc.mark_made(app.id, 1, STAFF, expected_version=app.version), expected=ConflictError)
    wins = [r for r in results if not isinstance(r, ConflictError)]
    assert len(wins) == 1 and len(results) == 2
    assert svc.get(app.id, SYS).version == app.version + 1


# ---- the SMS code is used in the submission's own transaction -------------------------------------------------

def sent_code(services, app, gateway, secret="s3cret") -> str:
    sms.send_submission_code(services, gateway, secret, app, sms.Asker(ent(app).label, "127.0.0.1"))
    with services.store.transaction(readonly=True) as tx:
        text = SmsOutbox(tx).recent(1)[0].text
    return re.search(r"验证码为(\d{6})", text).group(1)


def test_a_failed_submission_leaves_the_code_unused(services):
    svc = services.applications
    gateway = sms.OutboxGateway()
    app = draft(services)
    code = sent_code(services, app, gateway)
    with pytest.raises(ConflictError):
        svc.submit_with_code(app.id, ent(app), code, gateway, "s3cret", expected_version=app.version - 1)
    svc.edit(app.id, ent(app), items=(*app.items, app.items[1]))  # the operator twice: a problem
    with pytest.raises(Problems, match="one per person"):
        svc.submit_with_code(app.id, ent(app), code, gateway, "s3cret")
    fixed = svc.edit(app.id, ent(app), items=app.items)
    with pytest.raises(Forbidden, match="wrong"):
        svc.submit_with_code(app.id, ent(app), "000000" if code != "000000" else "111111", gateway, "s3cret")
    done = svc.submit_with_code(app.id, ent(app), code, gateway, "s3cret", expected_version=fixed.version)
    assert done.state is AppState.SUBMITTED
    with services.store.transaction(readonly=True) as tx:
        assert SmsOutbox(tx).latest(f"submit:{app.id}", app.agent.phone).used_at is not None  # used now


def test_without_a_gateway_nothing_is_submitted(services):
    app = draft(services)
    with pytest.raises(Unavailable):
        services.applications.submit_with_code(app.id, ent(app), "123456", sms.NoGateway(), "s3cret")
    assert services.applications.get(app.id, SYS).state is AppState.DRAFT


# ---- delivered, or returned undeliverable ------------------------------------------------------------------------

def test_a_shipped_card_is_delivered_or_returned_and_shipped_again(services):
    svc = services.applications
    app = in_production(services, operators=0, pickup=Pickup.MAIL)
    done = svc.complete(svc.mark_made(app.id, 0, STAFF).id, STAFF)
    clerk = Actor(id="clerk", kind="staff", region="testland", roles=frozenset({"counter_clerk"}))
    assert svc.available_actions(done, clerk) == ["ship", "hand_over"]  # mail, or the counter after all
    shipped = svc.ship(done.id, "SF1", clerk)
    assert svc.available_actions(shipped, clerk) == ["deliver", "return"]
    with pytest.raises(ConflictError):
        svc.perform(app.id, "return", clerk, version=done.version)
    back = svc.perform(app.id, "return", clerk, version=shipped.version, note="查无此人")
    assert back.delivery is Delivery.RETURNED and back.history[-1].note == "查无此人"
    assert svc.available_actions(back, clerk) == ["ship", "hand_over"]
    again = svc.perform(app.id, "ship", clerk, version=back.version, tracking_no="SF2")
    delivered = svc.perform(app.id, "deliver", clerk, version=again.version)
    assert delivered.delivery is Delivery.DELIVERED and svc.available_actions(delivered, clerk) == []
    assert [e.action for e in svc.audit_trail(app.id, clerk)][-4:] == ["ship", "return", "ship", "deliver"]
    reviewer = Actor(id="rev", kind="staff", region="testland", roles=frozenset({"reviewer"}))
    with pytest.raises(Forbidden):
        svc.perform(app.id, "deliver", reviewer, version=delivered.version)


def test_an_enrolment_completed_with_its_cards_made_elsewhere_holds_the_legal_card(services):
    """Recorded as made (not personalised here): the enterprise holds its legal card all the same, so it
    neither enrols again nor is told it has none."""
    svc = services.applications
    app = in_production(services, operators=0)
    svc.complete(svc.mark_made(app.id, 0, STAFF).id, STAFF)
    assert svc.holds_legal_card(app.enterprise.uscc)
    refusal = svc.may_apply(ent(app), app.business, card_login=False)
    assert refusal is not None and "already holds a legal card" in refusal.en
    again = draft(services)
    with pytest.raises(Problems, match="already holds a legal card"):
        svc.submit(again.id, ent(again))


def test_a_legal_card_in_the_register_decides_once_it_is_cancelled():
    from core.model import Card, CardKind, CardState

    app = attrs.evolve(make_enrol(1, operators=0), state=AppState.COMPLETED)
    app = lifecycle.mark_item_made(attrs.evolve(app, state=AppState.IN_PRODUCTION), 0)
    app = attrs.evolve(app, state=AppState.COMPLETED)
    uscc = app.enterprise.uscc
    assert lifecycle.holds_legal_card([], uscc, [app])  # made elsewhere
    card = Card(id="c1", enterprise_uscc=uscc, kind=CardKind.LEGAL, holder=app.enterprise.legal_rep,
                application_id=app.id, state=CardState.ACTIVE)
    assert lifecycle.holds_legal_card([card], uscc, [app])
    assert not lifecycle.holds_legal_card([attrs.evolve(card, state=CardState.CANCELLED)], uscc, [app])
    assert not lifecycle.holds_legal_card([], "91440300MA00000000", [app])  # another enterprise's
