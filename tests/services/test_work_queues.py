"""The staff console's work queues, the day's mailings, the history as a person reads it, operators named
before, and an enterprise administrator's registration with its SMS code (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from core import lifecycle
from core.errors import Forbidden, InvalidInput, Problems, Unavailable
from core.model import AppState, CardKind, CardRequest, Delivery, Pickup
from core.samples import make_enrol, make_enterprise, make_person
from core.services import Actor
from core.services.accounts import RegistrationCode
from core.services.sms import NoGateway, OutboxGateway

SYS = Actor.system("test")
ADMIN = Actor(id="boss", kind="staff", region="testland", roles=frozenset({"branch_admin"}))
CLERK = Actor(id="clerk", kind="staff", region="testland", roles=frozenset({"counter_clerk"}))
REVIEWER = Actor(id="rev", kind="staff", region="testland", roles=frozenset({"reviewer"}))
ELSEWHERE = Actor(id="clerk2", kind="staff", region="shenzhen", roles=frozenset({"counter_clerk"}))


def _owner(app):
    return Actor(id="admin", kind="enterprise", uscc=app.enterprise.uscc)


def _at(services, n: int, moves: tuple[str, ...], pickup: Pickup = Pickup.COUNTER):
    """Application ``n`` moved through ``moves`` (completion marks every card made first)."""
    svc = services.applications
    app = make_enrol(n, "testland", pickup=pickup)
    app = svc.create(attrs.evolve(app, id=""), _owner(app))
    for move in moves:
        if move == "submit":
            app = svc.submit(app.id, _owner(app))
        elif move == "complete":
            for index in lifecycle.unmade_items(app):
                app = svc.mark_made(app.id, index, ADMIN)
            app = svc.complete(app.id, ADMIN)
        elif move == "ship":
            app = svc.ship(app.id, f"SF{n:010d}", ADMIN)
        elif move == "return":
            app = svc.mark_delivered(app.id, ADMIN, returned=True)
        elif move == "hand_over":
            app = svc.hand_over(app.id, ADMIN, acceptance_no=app.acceptance_no)
        else:
            app = getattr(svc, move)(app.id, ADMIN)
    return app


MADE = ("submit", "accept", "start_production", "complete")


@pytest.fixture
def branch(services):
    """One application at every stage of the branch's work."""
    return {
        "submitted": _at(services, 1, ("submit",)),
        "accepted": _at(services, 2, ("submit", "accept")),
        "in_production": _at(services, 3, ("submit", "accept", "start_production")),
        "to_hand_over": _at(services, 4, MADE),
        "to_mail": _at(services, 5, MADE, Pickup.MAIL),
        "returned": _at(services, 6, (*MADE, "ship", "return"), Pickup.MAIL),
        "shipped": _at(services, 7, (*MADE, "ship"), Pickup.MAIL),
        "handed_over": _at(services, 8, (*MADE, "hand_over")),
        "draft": _at(services, 9, ()),
    }


def _ids(services, actor, queue):
    rows, more = services.applications.queue_summary_page(actor, queue=queue, per_page=50)
    assert not more
    return {r.summary.id for r in rows}


def test_each_queue_holds_its_own_work_and_the_counts_agree(services, branch):
    ids = {name: app.id for name, app in branch.items()}
    expected = {
        "review": {ids["submitted"], ids["accepted"]},
        "make": {ids["accepted"], ids["in_production"]},
        "hand_over": {ids["to_hand_over"]},
        "mail": {ids["to_mail"], ids["returned"]},
        "shipped": {ids["shipped"]},
        "open": {ids["submitted"], ids["accepted"], ids["in_production"]},
        "done": {ids[n] for n in ("to_hand_over", "to_mail", "returned", "shipped", "handed_over")},
    }
    for code, wanted in expected.items():
        assert _ids(services, ADMIN, code) == wanted, code
    counts = services.applications.queue_counts(ADMIN)
    assert counts == {code: len(wanted) for code, wanted in expected.items() if code != "done"}
    # the rows carry where the cards are, for the delivery column
    rows, _ = services.applications.queue_summary_page(ADMIN, queue="done", per_page=50)
    deliveries = {r.summary.id: r.summary.delivery for r in rows}
    assert deliveries[ids["to_mail"]] is None and deliveries[ids["shipped"]] is Delivery.SHIPPED
    assert deliveries[ids["handed_over"]] is Delivery.HANDED_OVER
    # another branch sees none of it; a state given wins over the queue; an unknown queue is refused
    assert _ids(services, ELSEWHERE, "mail") == set() and services.applications.queue_counts(ELSEWHERE)["mail"] == 0
    rows, _ = services.applications.queue_summary_page(ADMIN, state="submitted", queue="mail")
    assert {r.summary.id for r in rows} == {ids["submitted"]}
    with pytest.raises(InvalidInput) as refused:
        services.applications.queue_summary_page(ADMIN, queue="teleport")
    assert refused.value.field == "queue" and "teleport" in refused.value.zh
    with pytest.raises(Forbidden):
        services.applications.queue_counts(_owner(branch["draft"]))


def test_each_role_opens_on_its_own_work():
    assert lifecycle.first_queue(["reviewer"]).code == "review"
    assert lifecycle.first_queue(["card_maker"]).code == "make"
    assert lifecycle.first_queue(["counter_clerk"]).code == "hand_over"
    assert lifecycle.first_queue(["branch_admin"]).code == "open"
    assert lifecycle.first_queue(["counter_clerk", "reviewer"]).code == "review"  # the role order decides
    assert lifecycle.first_queue([]).code == "open"


def test_the_days_mailings_are_the_cards_still_to_mail(services, branch):
    found = services.applications.mailings(CLERK)
    assert {a.id for a in found} == {branch["to_mail"].id, branch["returned"].id}
    assert all(a.pickup.mail_to and a.pickup.mail_to.address for a in found)
    assert services.applications.mailings(ELSEWHERE) == []
    with pytest.raises(Forbidden):  # a reviewer does not mail cards
        services.applications.mailings(REVIEWER)
    shipped = services.applications.ship(branch["to_mail"].id, "SF1", CLERK)
    assert shipped.id not in {a.id for a in services.applications.mailings(CLERK)}


def test_history_reads_where_the_cards_went_not_completed_to_completed(services, branch):
    app = services.applications.get(branch["returned"].id, SYS)
    stages = [(entry.action, before, after) for entry, before, after in lifecycle.history_stages(app)]
    assert stages[-3:] == [("complete", AppState.IN_PRODUCTION, AppState.COMPLETED),
                           ("ship", None, Delivery.SHIPPED), ("return", Delivery.SHIPPED, Delivery.RETURNED)]
    counter = services.applications.get(branch["handed_over"].id, SYS)
    assert lifecycle.history_stages(counter)[-1][1:] == (Delivery.AWAITING_PICKUP, Delivery.HANDED_OVER)


def test_operators_named_before_without_a_card_are_offered(services):
    svc = services.applications
    first = make_enrol(20, "testland", operators=2)
    owner = _owner(first)
    earlier = svc.create(attrs.evolve(first, id=""), owner)
    # one of the two already holds a live card
    holder = earlier.items[1].holder
    with services.store.transaction() as tx:
        from core.model import Card, CardState

        tx.cards.add(Card(id="c1", enterprise_uscc=first.enterprise.uscc, kind=CardKind.OPERATOR, holder=holder,
                          state=CardState.ACTIVE))
    svc.delete(earlier.id, owner)
    later = attrs.evolve(first, id="", items=(first.items[0], CardRequest(kind=CardKind.OPERATOR,
                                                                          holder=make_person(999, "440304"))))
    current = svc.create(later, owner)
    offered = svc.known_operators(current.id, owner)
    assert [p.id_number for p in offered] == [earlier.items[2].holder.id_number]
    with pytest.raises(Forbidden):  # another enterprise may not read them
        other = make_enterprise(21, "testland")
        svc.known_operators(current.id, Actor(id="x", kind="enterprise", uscc=other.uscc))


def test_portal_filters_by_the_day_made_and_refuses_a_reversed_range(services, clock):
    first = _at(services, 30, ())
    clock.now += timedelta(days=3)
    owner = _owner(first)
    later = services.applications.create(attrs.evolve(make_enrol(30, "testland"), id="", created_at=None,
                                                       items=first.items[:1]), owner)
    day = later.created_at.date()
    assert {a.id for a in services.applications.list_for(owner, created=(day, day))} == {later.id}
    assert {a.id for a in services.applications.list_for(owner, created=(None, day - timedelta(days=1)))} == {first.id}
    with pytest.raises(InvalidInput) as refused:
        services.applications.list_for(owner, created=(day, day - timedelta(days=1)))
    assert refused.value.field == "created_to"


def _enterprise(n: int):
    return make_enterprise(n, "testland")


def test_registration_uses_up_the_sms_code_and_keeps_the_administrators_details(services):
    gateway = OutboxGateway()
    masked = services.accounts.send_registration_code("13800000001", gateway, "k", "127.0.0.1")
    assert masked == "138****0001"
    from core.store.accounts import SmsOutbox

    with services.store.transaction(readonly=True) as tx:
        text = SmsOutbox(tx).recent(1)[0].text
    code = text.split("验证码为")[1][:6]
    wrong = RegistrationCode("000000" if code != "000000" else "111111", gateway, "k")
    with pytest.raises(Forbidden) as refused:
        services.accounts.register_enterprise(_enterprise(40), "ent40", "Passw0rd!x", region="testland",
                                              display_name="管理员", mobile="13800000001", code=wrong)
    assert refused.value.field == "sms_code" and not services.accounts.exists("ent40")
    user = services.accounts.register_enterprise(
        _enterprise(40), "ent40", "Passw0rd!x", region="testland", display_name="管理员", mobile="13800000001",
        id_number="110101199003070011", email="admin@example.com", code=RegistrationCode(code, gateway, "k"))
    assert user.id_number == "110101199003070011" and user.email == "admin@example.com"
    stored = services.accounts.enterprise_accounts(Actor(id="ent40", kind="enterprise", uscc=user.uscc))[0]
    assert (stored.id_number, stored.email) == (user.id_number, user.email)
    with services.store.transaction(readonly=True) as tx:
        [entry] = [e for e in tx.audit.for_entity("user", user.id) if e.action == "register"]
    assert "110101199003070011" not in str(entry.payload)  # masked in the audit
    with pytest.raises(Forbidden):  # the code is spent
        services.accounts.register_enterprise(_enterprise(41), "ent41", "Passw0rd!x", region="testland",
                                              display_name="管理员", mobile="13800000001",
                                              code=RegistrationCode(code, gateway, "k"))
    with pytest.raises(InvalidInput):
        services.accounts.send_registration_code("12345", gateway, "k", "127.0.0.1")
    with pytest.raises(Unavailable):
        services.accounts.register_enterprise(_enterprise(42), "ent42", "Passw0rd!x", region="testland",
                                              display_name="管理员", mobile="13800000001",
                                              code=RegistrationCode(code, NoGateway(), "k"))


def test_a_new_staff_account_reports_every_problem_at_once(services):
    with pytest.raises(Problems) as refused:
        services.accounts.add_staff(ADMIN, "x", "short", "testland", [])
    assert {p.field for p in refused.value.problems} == {"username", "password", "roles"}
    assert not services.accounts.exists("x")
    with pytest.raises(InvalidInput) as one:  # a single problem stays a single error
        services.accounts.add_staff(ADMIN, "wang", "Passw0rd!x", "testland", [])
    assert one.value.field == "roles"


def test_the_delivery_column_follows_the_aggregate(services, branch):
    # written on every save: a stage change moves the application between the clerk's queues
    app = branch["to_hand_over"]
    assert app.id in _ids(services, CLERK, "hand_over")
    services.applications.hand_over(app.id, CLERK, acceptance_no=app.acceptance_no)
    assert app.id not in _ids(services, CLERK, "hand_over")
