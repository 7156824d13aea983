"""Issue #10's application bugs at the service door: each rule lives once, in the domain or the service."""

from __future__ import annotations

import attrs
import pytest

from core import lifecycle
from core.errors import InvalidInput, Problems
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
