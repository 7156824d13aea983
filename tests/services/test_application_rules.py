"""Issue #10's application bugs at the service door: each rule lives once, in the domain or the service."""

from __future__ import annotations

import attrs
import pytest

from core import lifecycle
from core.errors import Problems
from core.model import AppState, RejectionReason
from core.samples import make_enrol
from core.services import Actor

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
