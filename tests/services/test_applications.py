"""Application services end to end on a real database: one transaction per action."""

from __future__ import annotations

from datetime import date, timedelta

import attrs
import pytest
from racing import at_once

from core.errors import ConflictError, Forbidden, InvalidInput, NotFound, Problems, TransitionError
from core.model import AppState, Business, CardKind, CardRequest, Delivery, Pickup, RejectionReason
from core.samples import make_enrol, make_person
from core.services import Actor

SYS = Actor.system("test")
STAFF = Actor(id="rev", kind="staff", region="testland", roles={"branch_admin"})
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def ent(app):
    return Actor(id="admin", kind="enterprise", uscc=app.enterprise.uscc)


def draft(services, n=1, **kw):
    app = make_enrol(n, "testland", **kw)
    return services.applications.create(attrs.evolve(app, id=""), ent(app))


def test_whole_flow_with_rejection_and_resubmission(services, clock):
    svc = services.applications
    app = draft(services, operators=2)
    me = ent(app)
    assert app.state is AppState.DRAFT and app.version == 1 and app.region == "testland"
    sub = svc.submit(app.id, me)
    assert sub.state is AppState.SUBMITTED and sub.acceptance_no == "TL0000001"
    acc = svc.accept(sub.id, STAFF)
    assert acc.due == date(2026, 11, 6)  # accepted Mon 2026-11-02 + 4 working days
    rej = svc.reject(acc.id, STAFF, [RejectionReason.REMARKS], note="备注未按要求填写")
    assert rej.state is AppState.REJECTED and rej.due is None
    fixed = svc.edit(rej.id, me, remarks="自取+张三+13900000000")
    again = svc.submit(fixed.id, me)
    assert again.state is AppState.SUBMITTED and again.acceptance_no == "TL0000001"
    clock.now += timedelta(days=1)
    acc = svc.accept(again.id, STAFF)
    prod = svc.start_production(acc.id, STAFF)
    for index in range(len(prod.items)):
        made = svc.mark_made(prod.id, index, STAFF)
    done = svc.complete(made.id, STAFF)
    assert done.state is AppState.COMPLETED and done.delivery is Delivery.AWAITING_PICKUP
    with pytest.raises(Forbidden):
        svc.hand_over(done.id, STAFF, acceptance_no="TL9999999")
    handed = svc.hand_over(done.id, STAFF, acceptance_no="TL0000001")
    assert handed.delivery is Delivery.HANDED_OVER
    actions = [h.action for h in handed.history]
    assert actions == ["submit", "accept", "reject", "resubmit", "accept", "start_production", "complete",
                       "hand_over"]
    with services.store.transaction(readonly=True) as tx:
        trail = [e.action for e in tx.audit.for_entity("application", app.id)]
    assert trail[0] == "create" and trail[-1] == "hand_over" and "reject" in trail
    assert services.store.audit_verify().ok


def test_mail_delivery_needs_tracking_number(services):
    svc = services.applications
    app = draft(services, pickup=Pickup.MAIL)
    me = ent(app)
    for step in (lambda i: svc.submit(i, me), lambda i: svc.accept(i, STAFF),
                 lambda i: svc.start_production(i, STAFF), lambda i: svc.mark_made(i, 0, STAFF),
                 lambda i: svc.mark_made(i, 1, STAFF), lambda i: svc.complete(i, STAFF)):
        app = step(app.id)
    with pytest.raises(Exception, match="tracking"):
        svc.ship(app.id, "  ", STAFF)
    assert svc.ship(app.id, "EMS1234567890", STAFF).tracking_no == "EMS1234567890"


def test_bad_application_gets_every_problem_and_changes_nothing(services):
    app = make_enrol(1, "testland", operators=11)
    bad_rep = attrs.evolve(app.enterprise.legal_rep, id_number="440304198506150000")
    app = attrs.evolve(app, id="", enterprise=attrs.evolve(app.enterprise, uscc="91440300MA0000001X"))
    app = attrs.evolve(app, items=(*app.items, CardRequest(kind=CardKind.OPERATOR, holder=bad_rep)))
    saved = services.applications.create(app, ent(app))
    with pytest.raises(Problems) as err:
        services.applications.submit(saved.id, ent(saved))
    fields = {p.field for p in err.value.problems}
    assert {"uscc", "items", "items[13].holder.id_number"} <= fields
    assert all(p.zh and p.en for p in err.value.problems)
    assert services.applications.get(saved.id, SYS) == saved  # nothing changed


def test_second_open_enrolment_refused(services):
    first = draft(services)
    services.applications.submit(first.id, ent(first))
    second = draft(services)
    with pytest.raises(Problems, match="enrolment"):
        services.applications.submit(second.id, ent(second))


def test_duplicate_operator_refused(services):
    app = make_enrol(1, "testland", operators=1)
    app = attrs.evolve(app, id="", items=(*app.items, app.items[1]))
    saved = services.applications.create(app, ent(app))
    with pytest.raises(Problems, match="one per person"):
        services.applications.submit(saved.id, ent(saved))


def test_illegal_transitions_change_nothing(services):
    app = draft(services)
    with pytest.raises(TransitionError):
        services.applications.accept(app.id, STAFF)
    with pytest.raises(TransitionError):
        services.applications.complete(app.id, STAFF)
    sub = services.applications.submit(app.id, ent(app))
    acc = services.applications.accept(sub.id, STAFF)
    with pytest.raises(TransitionError):
        services.applications.withdraw(acc.id, ent(app))
    assert services.applications.get(app.id, SYS) == acc


def test_stale_version_is_a_conflict(services):
    app = draft(services)
    sub = services.applications.submit(app.id, ent(app))
    services.applications.accept(sub.id, STAFF, expected_version=sub.version)
    with pytest.raises(ConflictError) as err:
        services.applications.reject(sub.id, STAFF, ["remarks"], expected_version=sub.version)
    assert "reload" in err.value.en


def test_concurrent_accept_and_reject_exactly_one_wins(services, store_backend):
    app = draft(services)
    sub = services.applications.submit(app.id, ent(app))
    acc = services.applications.accept(sub.id, STAFF)
    results = at_once(lambda: services.applications.start_production(acc.id, STAFF, expected_version=acc.version),
                      lambda: services.applications.reject(acc.id, STAFF, ["remarks"], expected_version=acc.version),
                      expected=ConflictError)
    wins = [r for r in results if not isinstance(r, ConflictError)]
    assert len(wins) == 1 and len(results) == 2
    stored = services.applications.get(acc.id, SYS)
    assert stored == wins[0] and stored.version == acc.version + 1


def test_authorisation_enterprise_and_branch(services):
    a = draft(services, 1)
    b = draft(services, 2)
    with pytest.raises(Forbidden):
        services.applications.get(b.id, ent(a))
    with pytest.raises(Forbidden):
        services.applications.submit(b.id, ent(a))
    with pytest.raises(Forbidden):
        services.applications.get("does-not-exist", ent(a))  # same answer as someone else's
    services.applications.submit(a.id, ent(a))
    with pytest.raises(Forbidden):
        services.applications.accept(a.id, ent(a))  # enterprises do not review
    other_branch = Actor(id="x", kind="staff", region="xian", roles={"branch_admin"})
    with pytest.raises(Forbidden):
        services.applications.accept(a.id, other_branch)
    maker = Actor(id="m", kind="staff", region="testland", roles={"card_maker"})
    with pytest.raises(Forbidden):
        services.applications.accept(a.id, maker)  # a card maker does not review
    assert [x.id for x in services.applications.list_for(ent(a))] == [a.id]


def test_region_step_blocks_production(services):
    app = make_enrol(3, "testland", operators=1)
    app = attrs.evolve(app, id="", business=Business.ADD_CARD,
                       items=(CardRequest(kind=CardKind.OPERATOR, holder=make_person(999)),))
    saved = services.applications.create(app, ent(app))
    acc = services.applications.accept(services.applications.submit(saved.id, ent(saved)).id, STAFF)
    with pytest.raises(TransitionError, match="AIC review"):
        services.applications.start_production(acc.id, STAFF)
    stepped = services.applications.complete_step(acc.id, "aic_review", STAFF)
    assert services.applications.start_production(stepped.id, STAFF).state is AppState.IN_PRODUCTION


def test_attachments_checked_by_content_and_archived_after_30_days(services, clock):
    app = draft(services)
    me = ent(app)
    att = services.applications.attach(app.id, "licence", "licence.png", PNG, me)
    assert att.media_type == "image/png"
    with pytest.raises(InvalidInput):
        services.applications.attach(app.id, "licence", "licence.pdf", PNG, me)  # not what its name says
    with pytest.raises(InvalidInput):
        services.applications.attach(app.id, "licence", "big.png", PNG + b"\x00" * (2 * 1024 * 1024), me)
    with pytest.raises(InvalidInput):
        services.applications.attach(app.id, "licence", "x.gif", b"GIF89a" + b"\x00" * 10, me)
    stored = services.applications.get(app.id, me)
    assert [a.attachment_id for a in stored.attachments] == [att.id]
    services.applications.submit(app.id, me)
    assert services.applications.attachment(att.id, me)[1] == PNG
    other = draft(services, 2)
    with pytest.raises(Forbidden):
        services.applications.attachment(att.id, ent(other))
    clock.now += timedelta(days=30, seconds=1)
    with pytest.raises(Forbidden, match="archived"):
        services.applications.attachment(att.id, me)


def test_queue_sorted_by_due_and_overdue_flagged(services, clock):
    ids = []
    for n in (1, 2, 3):
        app = draft(services, n)
        sub = services.applications.submit(app.id, ent(app))
        ids.append(services.applications.accept(sub.id, STAFF).id)
        clock.now -= timedelta(days=3)  # each later one was accepted earlier
    rows = services.applications.queue(STAFF)
    assert [r.application.id for r in rows] == list(reversed(ids))
    assert [r.due for r in rows] == sorted(r.due for r in rows)
    clock.now += timedelta(days=20)
    assert all(r.overdue for r in services.applications.queue(STAFF))


def test_progress_query_needs_number_and_uscc(services):
    app = draft(services)
    sub = services.applications.submit(app.id, ent(app))
    assert services.applications.progress(sub.acceptance_no, sub.enterprise.uscc).id == sub.id
    with pytest.raises(NotFound):
        services.applications.progress(sub.acceptance_no, "91440300MA00000000")
