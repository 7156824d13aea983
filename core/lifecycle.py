"""The application state machine (pure: no I/O).

Every action takes an :class:`Application` and returns a new one; an illegal action
raises :class:`TransitionError` or :class:`RuleViolation` and returns nothing, so
the caller's object is never half-changed.

``draft -> submitted -> accepted -> [needs_medium -> medium_ready] -> in_production -> completed``;
``submitted -> draft`` (withdraw), ``accepted -> rejected -> submitted`` (resubmit), ``draft -> deleted``.
Region steps (``core.rules.Step``) block the forward actions out of their ``after`` state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import attrs
from attrs import frozen

from core.errors import EportError, RuleViolation, TransitionError
from core.labels import pair
from core.model import (
    Application,
    AppState,
    Business,
    Card,
    CardKind,
    CardState,
    Delivery,
    Person,
    Pickup,
    RejectionReason,
    Transition,
)
from core.model.limits import overlong, overlong_fields, refuse_overlong
from core.rules import CardPolicy, Problem, Step

S = AppState


@frozen
class Move:
    sources: frozenset[AppState]
    target: AppState
    forward: bool  # gated by region steps of the source state


MOVES: dict[str, Move] = {
    "submit": Move(frozenset({S.DRAFT}), S.SUBMITTED, True),
    "withdraw": Move(frozenset({S.SUBMITTED}), S.DRAFT, False),
    "accept": Move(frozenset({S.SUBMITTED}), S.ACCEPTED, True),
    "reject": Move(frozenset({S.ACCEPTED}), S.REJECTED, False),
    "resubmit": Move(frozenset({S.REJECTED}), S.SUBMITTED, True),
    "require_medium": Move(frozenset({S.ACCEPTED}), S.NEEDS_MEDIUM, True),
    "provide_medium": Move(frozenset({S.NEEDS_MEDIUM}), S.MEDIUM_READY, True),
    "start_production": Move(frozenset({S.ACCEPTED, S.MEDIUM_READY}), S.IN_PRODUCTION, True),
    "complete": Move(frozenset({S.IN_PRODUCTION}), S.COMPLETED, True),
    "delete": Move(frozenset({S.DRAFT}), S.DELETED, False),
}

EDITABLE_STATES = frozenset({S.DRAFT, S.REJECTED})
EDITABLE_FIELDS = frozenset({"items", "agent", "pickup", "remarks", "attachments", "making_centre",
                             "issuing_centre", "home_branch", "also", "channel", "enterprise"})
# Applications that still hold the enterprise's single enrol slot; also the staff queue's default
# ("all open": every application still needing staff work before completion).
OPEN_STATES = frozenset({S.SUBMITTED, S.ACCEPTED, S.NEEDS_MEDIUM, S.MEDIUM_READY, S.IN_PRODUCTION,
                         S.REJECTED})
# The states the staff queue can be filtered by: the open ones and the completed (for delivery). A draft
# is still the enterprise's own; a deleted draft is gone.
QUEUE_STATES = tuple(s for s in AppState if s in OPEN_STATES or s is S.COMPLETED)
LIVE_CARD_STATES = frozenset({CardState.BLANK, CardState.ACTIVE, CardState.LOCKED, CardState.FROZEN,
                              CardState.REPORTED_LOST})


def state_name(state: AppState) -> str:
    zh, en = pair(state)
    return f"{zh}({en})"


def allowed_actions(app: Application) -> list[str]:
    return [name for name, move in MOVES.items() if app.state in move.sources]


def _move(app: Application, action: str, actor: str, at: datetime, steps: Sequence[Step] = (),
          reasons: Iterable[RejectionReason] = (), note: str = "", **changes) -> Application:
    move = MOVES[action]
    if app.state not in move.sources:
        allowed = "、".join(state_name(s) for s in sorted(move.sources))
        raise TransitionError(
            f"申请单当前状态为{state_name(app.state)}，不能执行“{action}”（仅限：{allowed}）",
            f"cannot {action} an application that is {app.state.value}; allowed from: "
            f"{', '.join(sorted(s.value for s in move.sources))}",
            field="state")
    if move.forward:
        pending = pending_steps(app, steps)
        if pending:
            names = "、".join(s.name.zh for s in pending)
            raise TransitionError(
                f"请先完成本分中心规定的步骤：{names}",
                f"first complete the region's step(s): {', '.join(s.name.en or s.code for s in pending)}",
                field="steps")
    entry = Transition(action=action, from_state=app.state, to_state=move.target, actor=actor, at=at,
                       reasons=tuple(reasons), note=note)
    refuse_overlong(overlong(entry))
    return attrs.evolve(app, state=move.target, history=(*app.history, entry), **changes)


def pending_steps(app: Application, steps: Sequence[Step]) -> list[Step]:
    """Region steps that block leaving the current state."""
    return [s for s in steps if s.after is app.state and s.code not in app.steps_done]


def complete_step(app: Application, code: str, steps: Sequence[Step], actor: str, at: datetime,
                  note: str = "") -> Application:
    step = next((s for s in steps if s.code == code), None)
    if step is None:
        raise TransitionError(f"本业务没有步骤“{code}”", f"this business has no step {code!r}", field="step")
    if step.after is not app.state:
        raise TransitionError(
            f"步骤“{step.name.zh}”应在{state_name(step.after)}时完成，当前为{state_name(app.state)}",
            f"step {code!r} belongs to state {step.after.value}, the application is {app.state.value}",
            field="step")
    if code in app.steps_done:
        raise TransitionError(f"步骤“{step.name.zh}”已完成", f"step {code!r} is already done", field="step")
    entry = Transition(action=f"step:{code}", from_state=app.state, to_state=app.state, actor=actor, at=at,
                       note=note)
    refuse_overlong(overlong(entry))
    return attrs.evolve(app, steps_done=(*app.steps_done, code), history=(*app.history, entry))


# ---- content rules ---------------------------------------------------------------------------------


@frozen
class EnterpriseContext:
    """What the store knows about the enterprise, passed in so the rules stay pure."""

    cards: tuple[Card, ...] = ()
    open_applications: tuple[Application, ...] = ()
    completed_enrolments: tuple[Application, ...] = ()


def _err(field: str, zh: str, en: str) -> EportError:
    return RuleViolation(zh, en, field=field)


def _is_operator(kind: CardKind) -> bool:
    return kind is not CardKind.LEGAL


def holds_legal_card(cards: Iterable[Card], uscc: str, completed_enrolments: Iterable[Application] = ()) -> bool:
    """Whether the enterprise holds its (one) legal card: a live one in the card register, or one a
    completed enrolment recorded as made elsewhere (made outside this system's register; a card the
    register knows is held while the register says it is live)."""
    legal = [c for c in cards if c.kind is CardKind.LEGAL and c.enterprise_uscc == uscc]
    if any(c.state in LIVE_CARD_STATES for c in legal):
        return True
    registered = {c.application_id for c in legal}
    return any(a.enterprise.uscc == uscc and a.business is Business.ENROL and a.state is S.COMPLETED
               and a.id not in registered and any(i.made for i in a.legal_items) for a in completed_enrolments)


def legal_card_refusal(business: Business, holds_legal: bool, card_login: bool = True,
                       card_login_required: bool = False) -> EportError | None:
    """The legal-card rule (one legal card per enterprise): why ``business`` may not be applied for, or None.

    Enrolment (新入网) requests the legal card, so only an enterprise without one enrols; every other
    business is for an enterprise that holds it. A password login may apply for part of the businesses,
    a legal-card login for all (001_56e603108c85a312.txt, 2.3 有卡用户); which part is the region's to say:
    ``card_login_required`` when every channel the region offers for the business needs the legal card
    (``Channel.requires_legal_card``), and then a password login (``card_login`` False) is refused.
    A submission checks the enrolment half (``check_content``), the portal both halves before a draft is made.
    """
    if business is Business.ENROL:
        if holds_legal:
            return _err("business", "本单位已有法人卡，不能再办理新入网。",
                        "The enterprise already holds a legal card; enrolment is not possible.")
        return None
    if not holds_legal:
        return _err("business", "本单位尚未办理法人卡，请先办理新入网。",
                    "The enterprise has no legal card yet; apply for enrolment first.")
    if card_login_required and not card_login:
        return _err("business", "本分中心办理此业务须使用法人卡登录。",
                    "This branch centre takes this business only from a legal-card login.")
    return None


def check_content(app: Application, ctx: EnterpriseContext, policy: CardPolicy) -> list[EportError]:
    """Core business rules an application must satisfy to be submitted. All problems, not the first."""
    problems: list[EportError] = []
    rep_id = app.enterprise.legal_rep.id_number
    live = [c for c in ctx.cards if c.state in LIVE_CARD_STATES and c.enterprise_uscc == app.enterprise.uscc]
    card_business = app.business in {Business.ENROL, Business.ADD_CARD}

    if card_business and not app.items:
        problems.append(_err("items", "请至少填写一张卡的信息", "add at least one card"))
    if len(app.legal_items) > 1:
        problems.append(_err("items", "每个单位只能办理1张法人卡", "an enterprise has one legal card only"))
    if app.business is Business.ENROL:
        if not app.legal_items:
            problems.append(_err("items", "新入网须申请1张法人卡", "enrolment must request the legal card"))
        holds = holds_legal_card(ctx.cards, app.enterprise.uscc, ctx.completed_enrolments)
        refusal = legal_card_refusal(app.business, holds)
        if refusal is not None:
            problems.append(refusal)
        limit = policy.max_operators_first_application
        if len(app.operators) > limit:
            problems.append(_err("items", f"首次申请最多办理{limit}张操作员卡（当前{len(app.operators)}张）",
                                 f"at most {limit} operator cards in a first application "
                                 f"(got {len(app.operators)})"))
        others = [a for a in ctx.open_applications
                  if a.id != app.id and a.business is Business.ENROL and a.state in OPEN_STATES]
        if others:
            problems.append(_err("business", "当前有未办结的新办申请单，请等待其办结后再提交",
                                 f"another enrolment ({others[0].acceptance_no or others[0].id}) is still open; "
                                 "wait until it is finished"))
    if app.business is Business.ADD_CARD and app.legal_items:
        problems.append(_err("items", "新增卡业务只能办理操作员卡或报关员卡",
                             "additional cards are operator or declarant cards only"))

    seen: set[str] = set()
    existing = {c.holder.id_number for c in live if _is_operator(c.kind)}
    for n, item in enumerate(app.items, start=1):
        field = f"items[{n}]"
        if not _is_operator(item.kind):
            continue
        holder = item.holder.id_number
        if holder == rep_id and not policy.legal_rep_may_hold_operator:
            problems.append(_err(f"{field}.holder", "法定代表人仅可办理法人卡，不能办理操作员卡",
                                 "the legal representative holds the legal card only, not an operator card"))
        if holder in seen or (card_business and holder in existing):
            problems.append(_err(f"{field}.holder",
                                 f"操作员{item.holder.name}在本单位已有或重复录入操作员卡，每人仅可办理1张",
                                 f"operator {item.holder.name} already has or is entered twice for an operator "
                                 "card; one per person per enterprise"))
        seen.add(holder)
        if not item.confirmed:
            problems.append(_err(f"{field}.confirmed", "“暂存”状态的操作员卡信息不能提交，请先确认录入",
                                 "an operator row that is only saved (暂存) must be confirmed before submitting"))
        if item.kind is CardKind.DECLARANT and not item.declarant_no.strip():
            problems.append(_err(f"{field}.declarant_no", "报关员卡须填写报关人员备案证明号",
                                 "a declarant card needs the customs declarant record number"))
    if app.agent is None:
        problems.append(_err("agent", "请指定经办人", "choose the agent handling the application"))
    if app.pickup.method is Pickup.MAIL and app.pickup.mail_to is None:
        problems.append(_err("pickup.mail_to", "选择邮寄领卡时须填写收件人、电话和地址",
                             "mail pickup needs recipient, phone and address"))
    return problems


def problems_as_errors(problems: Iterable[Problem]) -> list[EportError]:
    return [RuleViolation(p.zh, p.en, field=p.field) for p in problems]


# ---- actions -----------------------------------------------------------------------------------------


def submit(app: Application, actor: str, at: datetime, acceptance_no: str, steps: Sequence[Step] = ()
           ) -> Application:
    """``draft -> submitted``. Content checks happen before, in the service."""
    return _lodge(app, "submit", actor, at, acceptance_no, steps)


def resubmit(app: Application, actor: str, at: datetime, steps: Sequence[Step] = ()) -> Application:
    """``rejected -> submitted`` after editing; the acceptance number is kept."""
    return _lodge(app, "resubmit", actor, at, app.acceptance_no, steps)


def _lodge(app: Application, action: str, actor: str, at: datetime, acceptance_no: str,
           steps: Sequence[Step]) -> Application:
    # Steps after submission are redone on every submission; steps done while drafting are kept.
    kept = tuple(c for c in app.steps_done if _step_after(c, steps) is S.DRAFT)
    return _move(app, action, actor, at, steps, submitted_at=app.submitted_at or at,
                 acceptance_no=app.acceptance_no or acceptance_no, steps_done=kept)


def _step_after(code: str, steps: Sequence[Step]) -> AppState | None:
    return next((s.after for s in steps if s.code == code), None)


def withdraw(app: Application, actor: str, at: datetime, note: str = "") -> Application:
    return _move(app, "withdraw", actor, at, note=note)


def accept(app: Application, actor: str, at: datetime, steps: Sequence[Step] = (), note: str = ""
           ) -> Application:
    return _move(app, "accept", actor, at, steps, note=note, accepted_at=at)


def reject(app: Application, actor: str, at: datetime, reasons: Iterable[RejectionReason | str],
           note: str = "") -> Application:
    chosen = tuple(RejectionReason(r) for r in reasons)
    if not chosen:
        raise RuleViolation("退单须至少选择一条退单原因", "a rejection needs at least one reason", field="reasons")
    if RejectionReason.OTHER in chosen and not note.strip():
        raise RuleViolation("选择“其他”原因时须填写说明", "reason 'other' needs an explanation", field="note")
    return _move(app, "reject", actor, at, reasons=chosen, note=note)


def require_medium(app: Application, actor: str, at: datetime, steps: Sequence[Step] = (), note: str = ""
                   ) -> Application:
    return _move(app, "require_medium", actor, at, steps, note=note)


def provide_medium(app: Application, actor: str, at: datetime, steps: Sequence[Step] = (), note: str = ""
                   ) -> Application:
    return _move(app, "provide_medium", actor, at, steps, note=note)


def start_production(app: Application, actor: str, at: datetime, steps: Sequence[Step] = (), note: str = ""
                     ) -> Application:
    return _move(app, "start_production", actor, at, steps, note=note)


def unmade_items(app: Application) -> list[int]:
    """The (0-based) items whose card is not made yet."""
    return [n for n, item in enumerate(app.items) if not item.made]


def complete(app: Application, actor: str, at: datetime, steps: Sequence[Step] = (), note: str = "",
             unmade_reason: str = "") -> Application:
    """``in_production -> completed`` (办结) once every requested card is made; with cards still unmade only
    with ``unmade_reason``, which the history records (e.g. the enterprise cancelled a card)."""
    unmade = ", ".join(str(n + 1) for n in unmade_items(app))
    reason = unmade_reason.strip()
    if unmade and app.state is S.IN_PRODUCTION and not reason:
        raise RuleViolation(
            f"第{unmade.replace(', ', '、')}张卡尚未制作，不能办结：请先登记制卡，或填写未制卡即办结的原因",
            f"card(s) {unmade} not made yet: mark them made before completing, or give the reason for completing "
            "without them", field="items")
    if unmade and reason:
        why = f"未制卡办结 / completed without card(s) {unmade}：{reason}"
        note = f"{note}；{why}" if note.strip() else why
    delivery = Delivery.AWAITING_PICKUP if app.pickup.method is Pickup.COUNTER else None
    return _move(app, "complete", actor, at, steps, note=note, delivery=delivery)


def delete(app: Application, actor: str, at: datetime) -> Application:
    return _move(app, "delete", actor, at)


def edit(app: Application, **changes) -> Application:
    """Change the content of a draft or rejected application (编辑只有在暂存或退单状态下可以)."""
    if app.state not in EDITABLE_STATES:
        raise TransitionError(f"申请单当前状态为{state_name(app.state)}，只有暂存或已退单的申请单可以编辑",
                              f"only draft or rejected applications can be edited (this one is {app.state.value})",
                              field="state")
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise TransitionError(f"这些内容不可编辑：{sorted(unknown)}", f"not editable: {sorted(unknown)}",
                              field=sorted(unknown)[0])
    refuse_overlong(overlong_fields(Application, changes))
    return attrs.evolve(app, **changes)


def mark_item_made(app: Application, index: int) -> Application:
    if app.state is not S.IN_PRODUCTION:
        raise TransitionError("只有制卡中的申请单可以登记制卡", "cards are made only while in production",
                              field="state")
    if not 0 <= index < len(app.items):
        raise TransitionError(f"申请单没有第{index + 1}项", f"the application has no item {index + 1}",
                              field="items")
    items = list(app.items)
    items[index] = attrs.evolve(items[index], made=True)
    return attrs.evolve(app, items=tuple(items))


# ---- delivery after completion -------------------------------------------------------------------------

DELIVERY_MOVES: dict[str, tuple[frozenset[Delivery | None], Delivery]] = {
    "ship": (frozenset({None, Delivery.RETURNED}), Delivery.SHIPPED),
    "deliver": (frozenset({Delivery.SHIPPED}), Delivery.DELIVERED),
    "return": (frozenset({Delivery.SHIPPED}), Delivery.RETURNED),
    "hand_over": (frozenset({Delivery.AWAITING_PICKUP, Delivery.RETURNED, None}), Delivery.HANDED_OVER),
}


def deliver(app: Application, action: str, actor: str, at: datetime, tracking_no: str = "", note: str = ""
            ) -> Application:
    if app.state is not S.COMPLETED:
        raise TransitionError("申请单办结后才能寄出或交付", "cards are shipped or handed over after completion",
                              field="state")
    sources, target = DELIVERY_MOVES[action]
    if app.delivery not in sources:
        now = app.delivery.value if app.delivery else "awaiting dispatch"
        raise TransitionError(f"当前交付状态（{now}）不能执行“{action}”", f"cannot {action} when delivery is {now}",
                              field="delivery")
    if action == "ship":
        if app.pickup.method is not Pickup.MAIL:
            raise TransitionError("该申请单选择窗口领卡，不能邮寄", "this application chose counter pickup",
                                  field="pickup")
        if not tracking_no.strip():
            raise RuleViolation("寄出须填写快递单号", "shipping needs a tracking number", field="tracking_no")
    entry = Transition(action=action, from_state=app.state, to_state=app.state, actor=actor, at=at,
                       note=note or tracking_no)
    refuse_overlong(overlong_fields(Application, {"tracking_no": tracking_no.strip()}) or overlong(entry))
    return attrs.evolve(app, delivery=target, tracking_no=tracking_no.strip() or app.tracking_no,
                        history=(*app.history, entry))


# ---- the staff console's work queues and the history as a person reads it --------------------------------

@frozen
class WorkQueue:
    """A tab of the staff queue: the applications in ``states`` (completed ones: with their cards in one of
    ``deliveries``, None meaning "to be mailed"; no ``deliveries``: wherever they are)."""

    code: str
    states: frozenset[AppState]
    deliveries: frozenset[Delivery | None] | None = None


WORK_QUEUES: tuple[WorkQueue, ...] = (
    WorkQueue("review", frozenset({S.SUBMITTED, S.ACCEPTED})),  # the reviewer accepts, then accepts or returns
    WorkQueue("make", frozenset({S.ACCEPTED, S.NEEDS_MEDIUM, S.MEDIUM_READY, S.IN_PRODUCTION})),
    WorkQueue("hand_over", frozenset({S.COMPLETED}), frozenset({Delivery.AWAITING_PICKUP})),
    # a returned parcel is sent again or handed over at the counter (DELIVERY_MOVES)
    WorkQueue("mail", frozenset({S.COMPLETED}), frozenset({None, Delivery.RETURNED})),
    WorkQueue("shipped", frozenset({S.COMPLETED}), frozenset({Delivery.SHIPPED})),
    WorkQueue("open", OPEN_STATES),
    WorkQueue("done", frozenset({S.COMPLETED})),
)
QUEUES_BY_CODE = {q.code: q for q in WORK_QUEUES}
# The tab each role opens on (the first of the person's roles in this order wins).
ROLE_QUEUES = (("reviewer", "review"), ("card_maker", "make"), ("counter_clerk", "hand_over"),
               ("branch_admin", "open"))


def first_queue(roles: Iterable[str]) -> WorkQueue:
    """The queue a person with ``roles`` opens the console on: their own work."""
    held = set(roles)
    return QUEUES_BY_CODE[next((code for role, code in ROLE_QUEUES if role in held), "open")]


def in_queue(queue: WorkQueue, state: AppState, delivery: Delivery | None) -> bool:
    return state in queue.states and (queue.deliveries is None or delivery in queue.deliveries)


def awaiting_mail(app: Application) -> bool:
    """Completed, to be mailed, and not (or no longer) on its way: a day's mailing list holds these."""
    return (app.state is S.COMPLETED and app.pickup.method is Pickup.MAIL
            and app.delivery in QUEUES_BY_CODE["mail"].deliveries)  # type: ignore[operator]


Stage = AppState | Delivery | None  # None: completed, to be mailed


def history_stages(app: Application) -> list[tuple[Transition, Stage, Stage]]:
    """Each history entry with where the application was before and after it. A delivery step leaves
    the state at completed, so its before and after are where the cards were (to be mailed, shipped,
    handed over ...), never "completed -> completed"."""
    lines: list[tuple[Transition, Stage, Stage]] = []
    delivery: Delivery | None = None
    for entry in app.history:
        if entry.action in DELIVERY_MOVES:
            after = DELIVERY_MOVES[entry.action][1]
            lines.append((entry, delivery, after))
            delivery = after
        else:
            if entry.action == "complete":
                delivery = Delivery.AWAITING_PICKUP if app.pickup.method is Pickup.COUNTER else None
            lines.append((entry, entry.from_state, entry.to_state))
    return lines


def operators_without_card(applications: Iterable[Application], live_holders: Iterable[str],
                           taken: Iterable[str]) -> list[Person]:
    """Operators and declarants an enterprise named in earlier applications who hold no live card
    (``live_holders``: ID numbers of the holders of its live cards) and are not already ``taken`` (in
    the application being filled in): the national system's "选择已有未制卡操作员". Latest details first."""
    skip = set(live_holders) | set(taken)
    found: dict[str, Person] = {}
    for app in applications:
        for item in app.items:
            number = item.holder.id_number
            if item.kind is not CardKind.LEGAL and number not in skip and number not in found:
                found[number] = item.holder
    return list(found.values())
