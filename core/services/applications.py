"""Application services: load -> domain transition -> persist -> audit -> notify.

Each public method is one transaction, which also queues the change's notice in the outbox
(core/services/notify.py), so a notice is never lost nor announces a change that was rolled back.
Hook events fire after the commit.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, Any

import attrs
from attrs import frozen

from core import ids, lifecycle
from core.deadlines import Due, due_dates, final_due, is_overdue
from core.errors import ConflictError, EportError, Forbidden, InvalidInput, NotFound, Problems
from core.model import (
    Application,
    AppState,
    Attachment,
    AttachmentRef,
    Business,
    CardKind,
    CardRequest,
    Delivery,
    Person,
    Pickup,
    RejectionReason,
)
from core.model.limits import overlong, refuse_overlong
from core.privacy import mask_id
from core.rules import BusinessOffer, Step
from core.services import sms
from core.services.actors import Actor, authorise, require_role
from core.services.paging import decode_cursor, encode_cursor
from core.store.archive import Archive
from core.store.blobs import check_upload, is_archived
from core.store.records import ApplicationProgress, ApplicationSummary, AuditEntry

if TYPE_CHECKING:
    from core.services.context import Services
    from core.store.store import Transaction


@frozen
class QueueRow:
    application: Application
    due: date | None
    overdue: bool


@frozen
class QueueSummary:
    summary: ApplicationSummary
    overdue: bool


# The transitions staff perform, in the order the console shows them.
MOVE_ACTIONS = ("accept", "reject", "require_medium", "provide_medium", "start_production", "complete")
DELIVERY_ACTIONS = ("ship", "deliver", "return", "hand_over")
STAFF_ACTIONS = (*MOVE_ACTIONS, *DELIVERY_ACTIONS, "step", "make")


def new_id() -> str:
    return secrets.token_hex(8)  # unguessable: ids are not an authorisation boundary, but no help either


def _summary(app: Application) -> dict:
    """Audit payload: what changed, with identity numbers masked."""
    last = app.history[-1] if app.history else None
    return {
        "state": app.state.value, "version": app.version, "acceptance_no": app.acceptance_no,
        "uscc": app.enterprise.uscc, "business": app.business.value, "region": app.region,
        "action": last.action if last else "create", "reasons": [r.value for r in last.reasons] if last else [],
        "note": last.note if last else "", "agent": mask_id(app.agent.id_number) if app.agent else "",
    }


def check_version(app: Application, expected_version: int | None) -> None:
    """Refuse unless the application is still at the version the person saw (None: not checked)."""
    if expected_version is not None and expected_version != app.version:
        raise ConflictError(
            f"申请单已被他人修改（版本 {app.version}，您看到的是 {expected_version}），请刷新后重试",
            f"the application changed meanwhile (version {app.version}, you saw {expected_version}); "
            "reload and try again", field="version")


class ApplicationService:
    def __init__(self, services: Services) -> None:
        self.s = services
        self.rules = services.rulebook

    # ---- helpers ----------------------------------------------------------------------------------------
    def _load(self, tx: Transaction, app_id: str, actor: Actor, action: str,
              expected_version: int | None) -> Application:
        try:
            app = tx.applications.get(app_id)
        except NotFound:
            # Same answer as a forbidden one: ids cannot be probed.
            raise Forbidden("无权查看或办理此申请单", "you may not view or act on this application",
                            field="application") from None
        authorise(actor, action, app)
        check_version(app, expected_version)
        return app

    def region_steps(self, app: Application) -> list[Step]:
        """The region's steps for this business that apply to the channel the application came through."""
        return [s for s in self.rules.steps(app.region, app.business) if s.applies_to(app.channel)]

    def pending_steps(self, app: Application) -> list[Step]:
        """The region's steps that block leaving the application's current state."""
        return lifecycle.pending_steps(app, self.region_steps(app))

    def _with_due(self, app: Application) -> Application:
        timeframe = self.rules.timeframe(app.region, app.business)
        return attrs.evolve(app, due=final_due(app, timeframe, self.s.calendar, self.s.today()))

    def _save(self, tx: Transaction, actor: Actor, app: Application, action: str) -> Application:
        saved = tx.applications.update(self._with_due(app))
        tx.audit.append(actor.label, action, "application", saved.id, _summary(saved))
        self.s.notifications.queue_application(tx, saved, action)  # the notice commits with the change
        return saved

    def _transition(self, app_id: str, actor: Actor, action: str, change, expected_version: int | None
                    ) -> Application:
        with self.s.store.transaction() as tx:
            app = self._load(tx, app_id, actor, action, expected_version)
            steps = self.region_steps(app)
            saved = self._save(tx, actor, change(app, steps), action)
        self.rules.transitioned(saved, saved.history[-1])
        return saved

    def _derive_centres(self, app: Application) -> Application:
        """Home branch from the business address; the issuing centre is the application's region, whose
        making centre it is. The region itself (and with it the acceptance number) is fixed at creation."""
        home = self.rules.home_branch(app.enterprise.business_address)
        return attrs.evolve(app, home_branch=home, issuing_centre=app.region)

    def _choice_problems(self, app: Application) -> list[EportError]:
        """A making centre or pickup outlet that is not one the application's own region offers."""
        problems: list[EportError] = []
        if app.pickup.outlet and app.pickup.outlet not in {o.code for o in self.rules.outlets(app.region)}:
            problems.append(InvalidInput("请选择本分中心的领卡网点。", "Choose one of this centre's outlets.",
                                        field="outlet"))
        centres = self.rules.making_centres(app.region)
        if app.making_centre and app.making_centre not in {o.code for o in centres}:
            problems.append(InvalidInput(
                "请选择本分中心的制卡机构：" + "、".join(f"{o.code}（{o.name.zh}）" for o in centres),
                "Choose one of this branch centre's making centres: "
                + ", ".join(f"{o.code} ({o.name.en or o.name.zh})" for o in centres), field="making_centre"))
        return problems

    def _refuse_foreign_choices(self, app: Application) -> None:
        problems = self._choice_problems(app)
        if len(problems) == 1:
            raise problems[0]
        if problems:
            raise Problems(problems)

    @staticmethod
    def _enterprise_context(tx: Transaction, uscc: str) -> lifecycle.EnterpriseContext:
        """What the store knows about the enterprise that the content rules need."""
        return lifecycle.EnterpriseContext(
            cards=tuple(tx.cards.for_enterprise(uscc)),
            open_applications=tuple(tx.applications.open_for(uscc, Business.ENROL)),
            completed_enrolments=tuple(tx.applications.find(enterprise=uscc, business=Business.ENROL,
                                                            states=[AppState.COMPLETED])))

    def preflight(self, app: Application) -> list[EportError]:
        """Everything that would stop ``app`` (saved or not) from being submitted; changes nothing."""
        with self.s.store.transaction(readonly=True) as tx:
            return self.check(tx, self._derive_centres(app))

    def check(self, tx: Transaction, app: Application) -> list[EportError]:
        """Every problem that stops ``app`` from being submitted: identifiers, core rules, region rules."""
        self.rules.offer(app.region, app.business)
        problems: list[EportError] = [*overlong(app), *ids.validate_enterprise(app.enterprise)]
        problems += self._choice_problems(app)
        for n, item in enumerate(app.items, start=1):
            problems += ids.validate_person(item.holder, f"items[{n}].holder")
        if app.agent is not None:
            problems += ids.validate_person(app.agent, "agent")
        problems += lifecycle.check_content(app, self._enterprise_context(tx, app.enterprise.uscc),
                                            self.rules.card_policy(app.region))
        problems += lifecycle.problems_as_errors(self.rules.validate(app.region, app))
        return problems

    # ---- enterprise side ----------------------------------------------------------------------------------
    def create(self, app: Application, actor: Actor) -> Application:
        """Save a new draft (暂存). Identifiers are checked at submission, so a draft may be incomplete."""
        refuse_overlong(overlong(app))  # but never too long: a draft is stored as it is
        app = attrs.evolve(app, id=app.id or new_id(), state=AppState.DRAFT, history=(), version=0,
                           created_at=app.created_at or self.s.clock())
        app = self._derive_centres(app)
        authorise(actor, "create", app)
        self.rules.region(app.region)
        self._refuse_foreign_choices(app)
        with self.s.store.transaction() as tx:
            if tx.enterprises.get(app.enterprise.uscc) is None:
                tx.enterprises.save(app.enterprise)
            saved = tx.applications.add(app)
            tx.audit.append(actor.label, "create", "application", saved.id, _summary(saved))
        return saved

    def edit(self, app_id: str, actor: Actor, expected_version: int | None = None, **changes) -> Application:
        with self.s.store.transaction() as tx:
            app = self._load(tx, app_id, actor, "edit", expected_version)
            edited = self._derive_centres(lifecycle.edit(app, **changes))
            self._refuse_foreign_choices(edited)
            return self._save(tx, actor, edited, "edit")

    def submit(self, app_id: str, actor: Actor, expected_version: int | None = None) -> Application:
        """Submit a draft, or resubmit a rejected application after editing."""
        with self.s.store.transaction() as tx:
            saved = self._submit(tx, self._load(tx, app_id, actor, "submit", expected_version), actor)
        self.rules.submitted(saved)
        self.rules.transitioned(saved, saved.history[-1])
        return saved

    def submit_with_code(self, app_id: str, actor: Actor, code: str, gateway: sms.SmsGateway, secret: str,
                         expected_version: int | None = None) -> Application:
        """:meth:`submit`, signed with the SMS code sent to the agent's mobile: the code is used up in the
        submission's own transaction, so a submission that fails (a problem, someone else's change)
        leaves the code unused. A wrong code is counted, and nothing else changes."""
        sms.require_gateway(gateway)
        with self.s.store.transaction() as tx:
            app = self._load(tx, app_id, actor, "submit", expected_version)
            self._refuse_unsubmittable(app, actor)
            self._check_submittable(tx, app, actor)  # every problem first: the code stays unused
            refused = sms.use_code(tx, secret, app.agent.phone if app.agent else "", f"submit:{app.id}", code,
                                   self.s.clock())
            saved = None if refused else self._lodge(tx, app, actor)
        if saved is None:
            assert refused is not None
            raise refused
        self.rules.submitted(saved)
        self.rules.transitioned(saved, saved.history[-1])
        return saved

    def send_submission_code(self, app_id: str, actor: Actor, gateway: sms.SmsGateway, secret: str,
                             asker: sms.Asker) -> str:
        """Send the code that signs the submission of the actor's own draft or rejected application to its
        agent's mobile (whatever number a form carries); returns the number masked, to show where it went."""
        app = self.get(app_id, actor)
        self._refuse_unsubmittable(app, actor)
        return sms.send_submission_code(self.s, gateway, secret, app, asker)

    @staticmethod
    def _refuse_unsubmittable(app: Application, actor: Actor) -> None:
        if not actor.may("submit") or app.state not in lifecycle.EDITABLE_STATES:
            raise Forbidden("只有本单位暂存或已退单的申请单可以提交",
                            "only the enterprise's own draft or rejected applications can be submitted",
                            field="application")

    def _check_submittable(self, tx: Transaction, app: Application, actor: Actor) -> None:
        if app.state not in (AppState.DRAFT, AppState.REJECTED):
            lifecycle.submit(app, actor.label, self.s.clock(), "")  # raises the clear transition error
        problems = self.check(tx, app)
        if problems:
            raise Problems(problems)

    def _submit(self, tx: Transaction, app: Application, actor: Actor) -> Application:
        """Submit or resubmit ``app`` (loaded and authorised) inside ``tx``."""
        self._check_submittable(tx, app, actor)
        return self._lodge(tx, app, actor)

    def _lodge(self, tx: Transaction, app: Application, actor: Actor) -> Application:
        steps = self.region_steps(app)
        now = self.s.clock()
        if app.state is AppState.REJECTED:
            new = lifecycle.resubmit(app, actor.label, now, steps)
            action = "resubmit"
        else:
            number = app.acceptance_no or self._acceptance_number(tx, app)
            new = lifecycle.submit(app, actor.label, now, number, steps)
            action = "submit"
        return self._save(tx, actor, new, action)

    def _acceptance_number(self, tx: Transaction, app: Application) -> str:
        """The next number of the application's series. A series is a number without its trailing digits
        (Shenzhen's WSZ… and SZ…): each counts on its own, the region's first series (its
        ``acceptance_prefix``, else the default format's) on the counter every series once shared. A number
        another application already holds (given while the series still shared that counter) is passed over."""
        series = self.rules.acceptance_number(app.region, app, 0).rstrip(string.digits)
        region = self.rules.region(app.region)
        first = region.acceptance_prefix or app.region[:3].upper()
        counter = f"acceptance:{app.region}" + ("" if series == first else f":{series}")
        while True:
            number = self.rules.acceptance_number(app.region, app, tx.next_sequence(counter))
            if tx.applications.by_acceptance_no(number) is None:
                return number

    def withdraw(self, app_id: str, actor: Actor, note: str = "", expected_version: int | None = None
                 ) -> Application:
        return self._transition(app_id, actor, "withdraw",
                                lambda a, _s: lifecycle.withdraw(a, actor.label, self.s.clock(), note),
                                expected_version)

    def delete(self, app_id: str, actor: Actor, expected_version: int | None = None) -> Application:
        return self._transition(app_id, actor, "delete",
                                lambda a, _s: lifecycle.delete(a, actor.label, self.s.clock()), expected_version)

    # ---- staff side -----------------------------------------------------------------------------------------
    def accept(self, app_id: str, actor: Actor, note: str = "", expected_version: int | None = None
               ) -> Application:
        return self._transition(app_id, actor, "accept",
                                lambda a, s: lifecycle.accept(a, actor.label, self.s.clock(), s, note),
                                expected_version)

    def reject(self, app_id: str, actor: Actor, reasons: Iterable[RejectionReason | str], note: str = "",
               expected_version: int | None = None) -> Application:
        chosen = list(reasons)
        return self._transition(app_id, actor, "reject",
                                lambda a, _s: lifecycle.reject(a, actor.label, self.s.clock(), chosen, note),
                                expected_version)

    def _forward(self, name: str):
        def run(app_id: str, actor: Actor, note: str = "", expected_version: int | None = None) -> Application:
            move = getattr(lifecycle, name)
            return self._transition(app_id, actor, name,
                                     lambda a, s: move(a, actor.label, self.s.clock(), s, note), expected_version)
        return run

    def require_medium(self, app_id: str, actor: Actor, note: str = "", expected_version: int | None = None
                       ) -> Application:
        return self._forward("require_medium")(app_id, actor, note, expected_version)

    def provide_medium(self, app_id: str, actor: Actor, note: str = "", expected_version: int | None = None
                       ) -> Application:
        return self._forward("provide_medium")(app_id, actor, note, expected_version)

    def start_production(self, app_id: str, actor: Actor, note: str = "", expected_version: int | None = None
                         ) -> Application:
        return self._forward("start_production")(app_id, actor, note, expected_version)

    def complete(self, app_id: str, actor: Actor, note: str = "", expected_version: int | None = None,
                 unmade_reason: str = "") -> Application:
        """办结: every requested card made, or ``unmade_reason`` saying why not (kept in the history and
        the audit trail)."""
        return self._transition(
            app_id, actor, "complete",
            lambda a, s: lifecycle.complete(a, actor.label, self.s.clock(), s, note, unmade_reason),
            expected_version)

    def complete_step(self, app_id: str, code: str, actor: Actor, note: str = "",
                      expected_version: int | None = None) -> Application:
        return self._transition(app_id, actor, "step",
                                lambda a, s: lifecycle.complete_step(a, code, s, actor.label, self.s.clock(), note),
                                expected_version)

    def mark_made(self, app_id: str, index: int, actor: Actor, expected_version: int | None = None
                  ) -> Application:
        """Record that the card of item ``index`` (0-based) was made (登记制卡), e.g. made elsewhere."""
        with self.s.store.transaction() as tx:
            app = self._load(tx, app_id, actor, "make", expected_version)
            return self._save(tx, actor, lifecycle.mark_item_made(app, index), "make")

    def ship(self, app_id: str, tracking_no: str, actor: Actor, expected_version: int | None = None
             ) -> Application:
        return self._delivery(app_id, "ship", actor, tracking_no, expected_version)

    def hand_over(self, app_id: str, actor: Actor, acceptance_no: str = "", expected_version: int | None = None
                  ) -> Application:
        """Hand the cards over at the counter after checking the receipt's acceptance number."""
        def check_receipt(app: Application) -> None:
            if acceptance_no and app.acceptance_no != acceptance_no.strip():
                raise Forbidden("回执上的受理编号与申请单不符", "the receipt's acceptance number does not match",
                                field="acceptance_no")
        return self._delivery(app_id, "hand_over", actor, "", expected_version, check=check_receipt)

    def mark_delivered(self, app_id: str, actor: Actor, returned: bool = False, note: str = "",
                       expected_version: int | None = None) -> Application:
        """A shipped card arrived (``deliver``), or came back undeliverable (``return``: it may be shipped
        again or handed over at the counter)."""
        return self._delivery(app_id, "return" if returned else "deliver", actor, "", expected_version, note)

    def _delivery(self, app_id: str, action: str, actor: Actor, tracking_no: str, expected_version: int | None,
                  note: str = "", check=None) -> Application:
        def change(app: Application, _steps: list[Step]) -> Application:
            if check is not None:
                check(app)
            return lifecycle.deliver(app, action, actor.label, self.s.clock(), tracking_no=tracking_no, note=note)
        return self._transition(app_id, actor, action, change, expected_version)

    # ---- attachments ------------------------------------------------------------------------------------------
    def attach(self, app_id: str, material: str, filename: str, content: bytes, actor: Actor) -> Attachment:
        """Store an upload for one of the materials the region defines for the application's business,
        after checking it by content (type and size) against the region's policy."""
        with self.s.store.transaction() as tx:
            app = self._load(tx, app_id, actor, "attach", None)
            self._check_material(app, material)
            refuse_overlong(overlong(AttachmentRef("", material, filename)))
            policy = self.rules.upload(app.region, app.business)
            limit = min(policy.max_bytes, self.s.settings.storage.max_upload_bytes)
            media_type = check_upload(content, filename, attrs.evolve(policy, max_bytes=limit))
            sha = self.s.store.blobs.put(content)
            attachment = tx.attachments.add(Attachment(
                id=new_id(), sha256=sha, filename=filename, media_type=media_type, size=len(content),
                uploaded_at=self.s.clock(), owner_uscc=app.enterprise.uscc, application_id=app.id,
                material=material))
            ref = AttachmentRef(attachment.id, material, filename)
            self._save(tx, actor, lifecycle.edit(app, attachments=(*app.attachments, ref)), "attach")
        return attachment

    def _check_material(self, app: Application, material: str) -> None:
        """Only a material the region's rules define for the application's business (or the further
        businesses lodged with it); conditional ones count, as the enterprise may upload them early."""
        defined = {m.code: m for business in (app.business, *app.also)
                   for m in self.rules.materials(app.region, business)}
        if material in defined:
            return
        if not defined:
            raise InvalidInput("本业务无需上传证明材料。", "This business takes no uploaded materials.",
                               field="material")
        raise InvalidInput(
            "请选择本分中心为此业务规定的材料：" + "、".join(f"{code}（{m.name.zh}）" for code, m in defined.items()),
            "Choose one of the materials the branch centre defines for this business: "
            + ", ".join(f"{code} ({m.name.en or m.name.zh})" for code, m in defined.items()), field="material")

    def attachment(self, att_id: str, actor: Actor) -> tuple[Attachment, bytes]:
        """An attachment's content; refused once archived (30 days after submission, or moved into the
        archive: core/services/archive.py)."""
        with self.s.store.transaction(readonly=True) as tx:
            try:
                att = tx.attachments.get(att_id)
            except NotFound:
                raise Forbidden("无权查看此附件", "you may not view this attachment", field="attachment") from None
            app = self._load(tx, att.application_id, actor, "view", None)
            moved = Archive(tx).archived_at(att.id) is not None
        if moved or self.attachments_archived(app):
            raise Forbidden("证明材料已于提交30天后归档留存，不能查看",
                            "attachments are archived 30 days after submission and can no longer be viewed",
                            field="attachment")
        return att, self.s.store.blobs.get(att.sha256)

    # ---- reading -------------------------------------------------------------------------------------------------
    def get(self, app_id: str, actor: Actor) -> Application:
        with self.s.store.transaction(readonly=True) as tx:
            return self._load(tx, app_id, actor, "view", None)

    def get_existing(self, app_id: str, actor: Actor) -> Application:
        """:meth:`get`, except that a deleted draft is gone: ``NotFound`` to those who may see it (anyone
        else gets :meth:`get`'s refusal). The history and the audit trail keep it."""
        app = self.get(app_id, actor)
        if app.state is AppState.DELETED:
            raise NotFound("此申请单已删除", "this application was deleted", field="application")
        return app

    def progress(self, acceptance_no: str, uscc: str) -> Application:
        """Public progress query: both the acceptance number and the USCC must match."""
        with self.s.store.transaction(readonly=True) as tx:
            app = tx.applications.by_acceptance_no(acceptance_no.strip().upper())
        if app is None or app.enterprise.uscc != uscc.strip().upper():
            raise NotFound("未查到该受理编号与统一社会信用代码对应的申请单",
                           "no application matches this acceptance number and USCC", field="acceptance_no")
        return app

    def progress_record(self, acceptance_no: str, uscc: str) -> ApplicationProgress:
        """:meth:`progress` without the whole aggregate: what the public JSON query shows."""
        found = self.s.store.quick.progress_of(acceptance_no.strip().upper())
        if found is None or found.enterprise_uscc != uscc.strip().upper():
            raise NotFound("未查到该受理编号与统一社会信用代码对应的申请单",
                           "no application matches this acceptance number and USCC", field="acceptance_no")
        return found

    def attachments_archived(self, app: Application) -> bool:
        """Whether the application's attachments are archived (30 days after submission): kept, not shown."""
        return is_archived(app.submitted_at, self.s.clock(), self.s.settings.storage.archive_after_days)

    def overdue(self, app: Application) -> bool:
        """Past its final due date and not finished."""
        return is_overdue(app, self.s.today())

    def deadlines(self, app: Application) -> list[Due]:
        return due_dates(app, self.rules.timeframe(app.region, app.business), self.s.calendar, self.s.today())

    @staticmethod
    def _scope(actor: Actor) -> dict[str, Any]:
        if actor.kind == "enterprise":
            return {"enterprise": actor.uscc}
        if actor.kind == "staff":
            return {"region": actor.region}
        return {}

    def list_for(self, actor: Actor, states: Iterable[AppState] | None = None, limit: int = 100, offset: int = 0,
                 search: str | None = None, business: Business | None = None,
                 created: tuple[date | None, date | None] | None = None, order: str = "due") -> list[Application]:
        """Applications the actor may see: an enterprise its own, staff their branch's (``created``: made
        from the first to the last day given, either open)."""
        if created is not None and None not in created and created[0] > created[1]:  # type: ignore[operator]
            raise InvalidInput("起始日期不能晚于结束日期。", "The first date cannot be after the last.", field="created_to")
        with self.s.store.transaction(readonly=True) as tx:
            return tx.applications.find(states=states, search=search, business=business, limit=limit,
                                        offset=offset, order=order, created=created, **self._scope(actor))

    def summaries_for(self, actor: Actor, states: Iterable[AppState] | None = None, limit: int = 100,
                      offset: int = 0, search: str | None = None,
                      business: Business | None = None) -> list[ApplicationSummary]:
        """The rows of :meth:`list_for` as list-row summaries: what list pages need, much faster to read."""
        return self.s.store.quick.find_summaries(states=states, search=search, business=business, limit=limit,
                                                 offset=offset, order="due", **self._scope(actor))

    def queue(self, actor: Actor, states: Iterable[AppState] | None = None, limit: int = 100, offset: int = 0,
              search: str | None = None) -> list[QueueRow]:
        """The staff queue, sorted by due date, overdue flagged."""
        today = self.s.today()
        return [QueueRow(a, a.due, is_overdue(a, today))
                for a in self.list_for(actor, states or lifecycle.OPEN_STATES, limit, offset, search)]

    def queue_summaries(self, actor: Actor, states: Iterable[AppState] | None = None, limit: int = 100,
                        offset: int = 0, search: str | None = None,
                        deliveries: Iterable[Delivery | None] | None = None) -> list[QueueSummary]:
        """:meth:`queue` as list-row summaries (the same rows, order and overdue flags)."""
        today = self.s.today()
        scope = self._scope(actor)
        rows = self.s.store.quick.find_summaries(states=states or lifecycle.OPEN_STATES, search=search, limit=limit,
                                                 offset=offset, order="due", deliveries=deliveries,
                                                 region=scope.get("region"), enterprise=scope.get("enterprise"))
        return [QueueSummary(a, is_overdue(a, today)) for a in rows]

    def queue_page(self, actor: Actor, state: AppState | str | None = None, search: str = "", page: int = 1,
                   per_page: int = 20) -> tuple[list[QueueRow], bool]:
        """One page of the branch queue (sorted by due date; ``state`` filters, none: every open state)
        and whether another page follows."""
        rows = self.queue(actor, _states(state), limit=per_page + 1, offset=(page - 1) * per_page,
                          search=search or None)
        return rows[:per_page], len(rows) > per_page

    def queue_summary_page(self, actor: Actor, state: AppState | str | None = None, search: str = "",
                           page: int = 1, per_page: int = 20, queue: str | None = None
                           ) -> tuple[list[QueueSummary], bool]:
        """:meth:`queue_page` as list-row summaries (the JSON queue and the console need no whole aggregates).
        ``queue``: one of ``lifecycle.WORK_QUEUES`` by code (a ``state`` given wins over it)."""
        states, deliveries = _states(state), None
        if states is None and queue:
            chosen = work_queue(queue)
            states, deliveries = list(chosen.states), chosen.deliveries
        rows = self.queue_summaries(actor, states, limit=per_page + 1, offset=(page - 1) * per_page,
                                    search=search or None, deliveries=deliveries)
        return rows[:per_page], len(rows) > per_page

    # ---- keyset pages (``?after=``): as fast deep in a list as at its start ---------------------------------
    def queue_page_after(self, actor: Actor, state: AppState | str | None = None, search: str = "",
                         after: str = "", per_page: int = 20, queue: str | None = None
                         ) -> tuple[list[QueueSummary], str | None]:
        """The queue page of :meth:`queue_summary_page` that follows the cursor ``after`` ("" for the first),
        and the cursor of the page after it (None: this is the last)."""
        states, deliveries = _states(state), None
        if states is None and queue:
            chosen = work_queue(queue)
            states, deliveries = list(chosen.states), chosen.deliveries
        today = self.s.today()
        rows, cursor = self._page_after(actor, states or lifecycle.OPEN_STATES, after, per_page, search or None,
                                        deliveries)
        return [QueueSummary(r, is_overdue(r, today)) for r in rows], cursor

    def summaries_page_after(self, actor: Actor, states: Iterable[AppState] | None, after: str = "",
                             per_page: int = 20) -> tuple[list[ApplicationSummary], str | None]:
        """The page of :meth:`summaries_for` that follows the cursor ``after``, and the next page's cursor."""
        return self._page_after(actor, states, after, per_page, None, None)

    def _page_after(self, actor: Actor, states: Iterable[AppState] | None, after: str, per_page: int,
                    search: str | None, deliveries: Iterable[Delivery | None] | None
                    ) -> tuple[list[ApplicationSummary], str | None]:
        start = decode_cursor(after) if after else None
        scope = self._scope(actor)
        with self.s.store.transaction(readonly=True) as tx:
            found = tx.applications.summaries_after(start, per_page + 1, states=states, search=search,
                                                    deliveries=deliveries, region=scope.get("region"),
                                                    enterprise=scope.get("enterprise"))
        page = found[:per_page]
        return [row for row, _key in page], encode_cursor(page[-1][1]) if len(found) > per_page else None

    def queue_counts(self, actor: Actor) -> dict[str, int]:
        """How many applications of the actor's branch each work queue holds (the finished "done" one is
        not counted: it only grows)."""
        if actor.kind != "staff":
            raise Forbidden("仅限工作人员", "staff only", field="roles")
        counted = [q for q in lifecycle.WORK_QUEUES if q.code != "done"]
        states = set().union(*(q.states for q in counted))
        with self.s.store.transaction(readonly=True) as tx:
            stages = tx.applications.stage_counts(actor.region, states)
        return {q.code: sum(n for (state, delivery), n in stages.items() if lifecycle.in_queue(q, state, delivery))
                for q in counted}

    def mailings(self, actor: Actor, limit: int = 500) -> list[Application]:
        """The branch's completed applications whose cards are to be mailed (not yet sent, or returned),
        soonest due first: a day's mailing list and its address labels. Whoever may ship may read it."""
        require_role(actor, "ship")
        queue = lifecycle.QUEUES_BY_CODE["mail"]
        with self.s.store.transaction(readonly=True) as tx:
            found = tx.applications.find(states=queue.states, deliveries=queue.deliveries, limit=limit, order="due",
                                         region=self._scope(actor).get("region"))
        return [a for a in found if lifecycle.awaiting_mail(a)]

    def known_operators(self, app_id: str, actor: Actor) -> list[Person]:
        """Operators the enterprise named in earlier applications who hold no live card yet and are not in
        this application: offered to pick instead of typing them again."""
        with self.s.store.transaction(readonly=True) as tx:
            app = self._load(tx, app_id, actor, "edit", None)
            earlier = tx.applications.find(enterprise=app.enterprise.uscc, order="updated", limit=200)
            holders = [c.holder.id_number for c in tx.cards.for_enterprise(app.enterprise.uscc)
                       if c.state in lifecycle.LIVE_CARD_STATES]
        return lifecycle.operators_without_card([a for a in earlier if a.id != app.id], holders,
                                                [i.holder.id_number for i in app.items]
                                                + [app.enterprise.legal_rep.id_number])

    def find(self, key: str, actor: Actor) -> Application:
        """An application by its acceptance number (as on the receipt) or its id."""
        with self.s.store.transaction(readonly=True) as tx:
            by_no = tx.applications.by_acceptance_no(key.strip().upper())
            return self._load(tx, by_no.id if by_no else key.strip(), actor, "view", None)

    def attachments_of(self, app_id: str, actor: Actor) -> list[Attachment]:
        """The application's attachments (their metadata), to whoever may see the application."""
        with self.s.store.transaction(readonly=True) as tx:
            app = self._load(tx, app_id, actor, "view", None)
            return tx.attachments.for_application(app.id)

    def audit_trail(self, app_id: str, actor: Actor) -> list[AuditEntry]:
        """The application's audit entries (payloads are PII-masked when written); staff of its branch only."""
        if actor.kind not in ("staff", "system"):
            raise Forbidden("审计记录仅供工作人员查看", "only staff may read the audit trail", field="application")
        with self.s.store.transaction(readonly=True) as tx:
            app = self._load(tx, app_id, actor, "view", None)  # branch scope, same refusal for unknown ids
            return tx.audit.for_entity("application", app.id)

    # ---- what an enterprise may start -------------------------------------------------------------------------
    def holds_legal_card(self, uscc: str) -> bool:
        with self.s.store.transaction(readonly=True) as tx:
            context = self._enterprise_context(tx, uscc)
        return lifecycle.holds_legal_card(context.cards, uscc, context.completed_enrolments)

    def offers_for(self, actor: Actor, card_login: bool) -> list[tuple[BusinessOffer, EportError | None]]:
        """The businesses the enterprise's branch offers, each with why this session may not start it (or
        None). ``card_login``: the session logged in with the legal card."""
        holds = self.holds_legal_card(actor.uscc)
        return [(o, lifecycle.legal_card_refusal(o.business, holds, card_login, _card_login_required(o)))
                for o in self.rules.offers(actor.region)]

    def may_apply(self, actor: Actor, business: Business, card_login: bool) -> EportError | None:
        """Why this session may not start ``business`` (None: it may); see ``lifecycle.legal_card_refusal``."""
        try:
            required = _card_login_required(self.rules.offer(actor.region, business))
        except NotFound:
            required = False  # a business the region does not offer is refused by the caller
        return lifecycle.legal_card_refusal(business, self.holds_legal_card(actor.uscc), card_login, required)

    def start(self, actor: Actor, business: Business | str, card_login: bool, **changes) -> Application:
        """A new draft of ``business`` for the actor's own enterprise, if its branch offers the business and
        the session may start it; an enrolment starts with the legal card for the legal representative."""
        if actor.kind != "enterprise":
            raise Forbidden("只有企业可以新建申请单", "only enterprises create applications", field="business")
        try:
            chosen = Business(business)
            self.rules.offer(actor.region, chosen)
        except (ValueError, EportError):
            raise InvalidInput("请选择本分中心办理的业务。", "Choose a business this branch centre offers.",
                               field="business") from None
        refusal = self.may_apply(actor, chosen, card_login)
        if refusal is not None:
            raise Forbidden(refusal.zh, refusal.en, field="business")
        with self.s.store.transaction(readonly=True) as tx:
            enterprise = tx.enterprises.get(actor.uscc)
        if enterprise is None:
            raise Forbidden("未找到本单位的注册信息。", "The enterprise's registration was not found.", field="uscc")
        if "items" not in changes and chosen is Business.ENROL:
            changes["items"] = (CardRequest(kind=CardKind.LEGAL, holder=enterprise.legal_rep),)
        return self.create(Application(id="", enterprise=enterprise, business=chosen, region=actor.region,
                                       **changes), actor)

    # ---- the staff console's actions ------------------------------------------------------------------------
    def available_actions(self, app: Application, actor: Actor) -> list[str]:
        """The staff actions the actor's roles allow that the application's state allows too.

        Region steps that block a move are still shown as a step action; the move itself is offered and
        explains what is missing if it is tried too early.
        """
        if actor.kind == "staff" and actor.region != app.region:
            return []
        actions = [a for a in MOVE_ACTIONS if app.state in lifecycle.MOVES[a].sources and actor.may(a)]
        if app.state is AppState.COMPLETED:
            for action in DELIVERY_ACTIONS:
                sources, _target = lifecycle.DELIVERY_MOVES[action]
                if app.delivery in sources and actor.may(action) \
                        and (action != "ship" or app.pickup.method is Pickup.MAIL):
                    actions.append(action)
        if self.pending_steps(app) and actor.may("step"):
            actions.append("step")
        if app.state is AppState.IN_PRODUCTION and actor.may("make") and lifecycle.unmade_items(app):
            actions.append("make")
        return actions

    def perform(self, app_id: str, action: str, actor: Actor, *, version: int | None, note: str = "",
                reasons: Iterable[str] = (), tracking_no: str = "", acceptance_no: str = "", step: str = "",
                item: int | None = None, unmade_reason: str = "") -> Application:
        """One staff action by name (the console's forms and the JSON API both come here). The role is
        checked first: a role that may not act gets 403 whatever else is wrong with the request."""
        if action not in STAFF_ACTIONS:
            raise InvalidInput(f"未知的操作：{action}", f"unknown action {action!r}", field="action")
        require_role(actor, action)
        if action == "accept":
            return self.accept(app_id, actor, note, expected_version=version)
        if action == "reject":
            chosen = list(reasons)
            unknown = [r for r in chosen if r not in RejectionReason._value2member_map_]
            if unknown:
                raise InvalidInput(f"未知的退单原因：{', '.join(unknown)}",
                                   f"unknown rejection reasons: {', '.join(unknown)}", field="reasons")
            return self.reject(app_id, actor, chosen, note, expected_version=version)
        if action in ("require_medium", "provide_medium", "start_production"):
            return self._forward(action)(app_id, actor, note, version)
        if action == "complete":
            return self.complete(app_id, actor, note, expected_version=version, unmade_reason=unmade_reason)
        if action == "ship":
            return self.ship(app_id, tracking_no.strip(), actor, expected_version=version)
        if action in ("deliver", "return"):
            return self.mark_delivered(app_id, actor, returned=action == "return", note=note,
                                       expected_version=version)
        if action == "hand_over":
            if not acceptance_no.strip():
                raise InvalidInput("请核对并填写回执上的受理编号。", "Check the receipt and enter its acceptance number.",
                                   field="acceptance_no")
            return self.hand_over(app_id, actor, acceptance_no.strip().upper(), expected_version=version)
        if action == "step":
            if not step:
                raise InvalidInput("请选择要完成的步骤。", "Choose the step to complete.", field="step")
            return self.complete_step(app_id, step, actor, note, expected_version=version)
        if item is None or item < 0:  # make
            raise InvalidInput("请选择要登记制卡的卡。", "Choose the card that was made.", field="item")
        return self.mark_made(app_id, item, actor, expected_version=version)


def work_queue(code: str) -> lifecycle.WorkQueue:
    found = lifecycle.QUEUES_BY_CODE.get(code)
    if found is None:
        raise InvalidInput(f"未知的队列：{code}", f"unknown queue {code!r}", field="queue")
    return found


def _states(state: AppState | str | None) -> list[AppState] | None:
    """The queue filter: one state (by value), or None for every open one."""
    if not state:
        return None
    try:
        return [AppState(state)]
    except ValueError:
        raise InvalidInput(f"未知的状态：{state}", f"unknown state {state!r}", field="state") from None


def _card_login_required(offer: BusinessOffer) -> bool:
    """Whether the region takes ``offer`` only from a legal-card login: every channel it offers needs the card."""
    return bool(offer.channels) and all(c.requires_legal_card for c in offer.channels)


# The read models the pages and the API show come through this door too.
__all__ = ["DELIVERY_ACTIONS", "MOVE_ACTIONS", "STAFF_ACTIONS", "ApplicationProgress", "ApplicationService",
           "ApplicationSummary", "AuditEntry", "QueueRow", "QueueSummary", "check_version", "is_archived", "new_id"]
