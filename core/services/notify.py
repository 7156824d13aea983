"""Notifications: what happened, told to the enterprise by SMS, e-mail or both, through the outbox.

Flow (a transactional outbox): the service transaction that makes a change also puts its notice in the
outbox (``notify_messages``) with its audit row (:meth:`Notifications.queue_application` from
``ApplicationService._save``, :meth:`Notifications.queue_card` from the card services' saves), so the
change and its notice commit together or not at all: a crash after the commit finds the notice queued,
a failure before it leaves neither. The events (``application_transitioned``, ``card_transitioned``)
still fire after the commit, for plugins. Nothing is sent in the change's transaction: ``eportcard
jobs run-due`` (the ``deliver_messages`` job) claims each due message, sends it through the configured
gateway and records the outcome. A gateway that is down costs a retry (after ``[notify]
retry_after_seconds``, doubling up to ``max_retry_seconds``), never the message; after ``max_attempts`` tries, or an answer that says trying again cannot help, the message is a dead
letter that staff see and can retry. Each message has an idempotency key (the event and the channel):
queued twice it is one row; the key also goes to the gateway (webhook header, e-mail Message-ID,
Tencent SessionContext) so the far end can drop a repeat after a crash between its answer and our record.

The facts of each notice are core's (:mod:`core.notices`), the words the region's (``notice_wording``);
the audit trail names the kind, the channel, the masked recipient and the key, never the text.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from attrs import frozen

from core import ids
from core.config import Settings, gateway_secret
from core.deadlines import china_date
from core.errors import ConfigError, EportError, Forbidden, InvalidInput, NotFound, Problems
from core.labels import pair
from core.model import Application, Card, CardEvent, Pickup, Transition
from core.notices import (
    DEFAULT_WORDING,
    NoticeKind,
    Rendered,
    Wording,
    WordingProblem,
    check_wording,
    render,
)
from core.notify.base import CHANNELS, Gateway, GatewayContext, Outgoing, SendError
from core.notify.dev import NoGateway, OutboxGateway
from core.notify.registry import kinds_by_name
from core.privacy import mask_phone
from core.rules import Text
from core.services.actors import Actor
from core.store.accounts import Accounts, SmsOutbox
from core.store.notify import Message, NewMessage, NotifyChoice, NotifyChoices, Outbox

if TYPE_CHECKING:
    import pluggy

    from core.services.context import Services
    from core.store.store import Transaction

log = logging.getLogger(__name__)

SYSTEM = "system:notify"
CHOICES = ("sms", "mail", "both")
LANGUAGES = ("zh", "en")
HOLD = timedelta(minutes=5)  # a claimed message is another worker's again after this (a gateway times out sooner)
STAFF_ROLES = frozenset({"branch_admin", "reviewer", "card_maker", "counter_clerk"})

# Which event tells the enterprise what.
APPLICATION_NOTICES = {"accept": NoticeKind.APPLICATION_ACCEPTED, "reject": NoticeKind.APPLICATION_RETURNED,
                       "ship": NoticeKind.SHIPPED}
CARD_NOTICES = {"lock": NoticeKind.CARD_LOCKED, "renew": NoticeKind.CERTIFICATE_RENEWED,
                "freeze": NoticeKind.CARD_FROZEN, "report_lost": NoticeKind.CARD_REPORTED_LOST}


# ---- gateways ------------------------------------------------------------------------------------------------

def make_gateway(settings: Settings, channel: str, pm: pluggy.PluginManager | None = None) -> Gateway:
    """The gateway ``[sms] gateway`` / ``[mail] gateway`` names; the outbox only in development mode.
    ``pm``: the plugin manager whose ``register_gateways`` may add more (made from the settings if needed)."""
    section = settings.sms if channel == "sms" else settings.mail
    name = section.gateway
    if name == "none":
        return NoGateway(channel)
    if name == "outbox":
        if not settings.web.development:
            raise ConfigError(
                f"{_channel_zh(channel)}网关 outbox 仅用于开发（消息全文含验证码都留在本机）：正式部署请设置 [{channel}] "
                f"gateway = \"none\"（不发送）或配置真实网关，见 docs/deployment.md；开发机请设置 [web] development = true",
                f"the outbox {channel} gateway is for development only (it shows every message, codes included, at "
                f"/dev/outbox): on a deployment set [{channel}] gateway = \"none\" (nothing is sent) or configure a "
                "real gateway, see docs/deployment.md; on a developer's machine set [web] development = true",
                field=f"{channel}.gateway")
        return OutboxGateway(channel)
    if pm is None:
        from core.plugins import get_plugin_manager

        pm = get_plugin_manager(settings.regions.enabled)
    extra = [kind for found in pm.hook.register_gateways() or () for kind in found or ()]
    kinds = kinds_by_name(extra)
    kind = kinds.get((channel, name))
    if kind is None:
        choices = ", ".join(["none", "outbox", *sorted(n for c, n in kinds if c == channel)])
        raise ConfigError(f"未知的{_channel_zh(channel)}网关：{name}（可选 {choices}）",
                          f"unknown {channel} gateway: {name} (choose {choices})", field=f"{channel}.gateway")
    context = GatewayContext(channel, section.options, lambda secret: gateway_secret(settings, channel, secret),
                             settings.web.development)
    return kind.make(context)


def check_gateways(settings: Settings, pm: pluggy.PluginManager | None = None) -> None:
    """``serve``'s start-up check: the ``[sms]`` and ``[mail]`` gateways are made as the first send would
    make them (a known name, options complete and valid, secrets and files readable), nothing sent; the
    first problem raised as its one-line ConfigError."""
    for channel in CHANNELS:
        make_gateway(settings, channel, pm)


def _channel_zh(channel: str) -> str:
    return "短信" if channel == "sms" else "邮件"


def mask_recipient(recipient: str) -> str:
    """A phone as the audit trail shows every phone; an e-mail address with its local part hidden."""
    if "@" in recipient:
        local, _, domain = recipient.partition("@")
        return f"{local[:1]}***@{domain}"
    return mask_phone(recipient)


# ---- the enterprise's choice ------------------------------------------------------------------------------------

@frozen
class Choice:
    channels: str  # "sms" | "mail" | "both"
    mobile: str  # "" : the enterprise account's registered mobile
    email: str
    sms_language: str
    saved: bool  # False: nothing chosen yet (SMS to the account's mobile)
    account_mobile: str


def _valid_email(value: str) -> bool:
    local, at, domain = value.partition("@")
    return bool(at and local and "." in domain and " " not in value and len(value) <= 254)


@frozen
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0

    def summary(self) -> str:
        return f"sent {self.sent}, to retry {self.retried}, dead {self.dead}"


class Notifications:
    def __init__(self, services: Services) -> None:
        self.s = services
        self._gateways: dict[str, Gateway] = {}

    def gateway(self, channel: str) -> Gateway:
        if channel not in self._gateways:
            self._gateways[channel] = make_gateway(self.s.settings, channel, self.s.rulebook.pm)
        return self._gateways[channel]

    def enabled_channels(self) -> set[str]:
        """The channels whose gateway is configured (a notice for another channel is not queued)."""
        return {c for c, section in (("sms", self.s.settings.sms), ("mail", self.s.settings.mail))
                if section.gateway != "none"}

    # ---- what the enterprise chose ------------------------------------------------------------------------
    def choice(self, actor: Actor) -> Choice:
        uscc = _own_enterprise(actor)
        with self.s.store.transaction(readonly=True) as tx:
            return self._choice(tx, uscc)

    def _choice(self, tx: Transaction, uscc: str) -> Choice:
        saved = NotifyChoices(tx).get(uscc)
        account = next((u.mobile for u in Accounts(tx).for_enterprise(uscc) if u.mobile and not u.disabled), "")
        if saved is None:
            return Choice("sms", "", "", "zh", False, account)
        return Choice(saved.channels, saved.mobile, saved.email, saved.sms_language, True, account)

    def set_choice(self, actor: Actor, channels: str, mobile: str, email: str, sms_language: str) -> Choice:
        """Save how the enterprise wants to be told; every problem at once, and nothing saved with one."""
        uscc = _own_enterprise(actor)
        mobile, email = mobile.strip(), email.strip()
        problems: list[EportError] = []
        if channels not in CHOICES:
            problems.append(InvalidInput("请选择短信、邮件或两者。", "Choose SMS, e-mail or both.", field="channels"))
        if mobile:
            try:
                mobile = ids.validate_mobile(mobile, "mobile")
            except InvalidInput as exc:
                problems.append(exc)
        if email and not _valid_email(email):
            problems.append(InvalidInput("电子邮箱地址格式不正确。", "The e-mail address is not valid.", field="email"))
        if channels in ("mail", "both") and not email:
            problems.append(InvalidInput("选择邮件通知须填写电子邮箱。", "E-mail notices need an e-mail address.",
                                         field="email"))
        if sms_language not in LANGUAGES:
            problems.append(InvalidInput("短信语言只能是中文或英文。", "The SMS language is Chinese or English.",
                                         field="sms_language"))
        if problems:
            raise Problems(problems)
        now = self.s.clock()
        with self.s.store.transaction() as tx:
            if channels in ("sms", "both") and not (mobile or self._choice(tx, uscc).account_mobile):
                raise InvalidInput("选择短信通知须填写手机号码。", "SMS notices need a mobile number.", field="mobile")
            NotifyChoices(tx).put(NotifyChoice(uscc, channels, mobile, email, sms_language, now))
            tx.audit.append(actor.label, "notify_choice", "enterprise", uscc,
                            {"channels": channels, "mobile": mask_phone(mobile) if mobile else "",
                             "email": mask_recipient(email) if email else "", "sms_language": sms_language}, at=now)
            return self._choice(tx, uscc)

    # ---- queueing ------------------------------------------------------------------------------------------
    def wording(self, region: str, kind: NoticeKind) -> Wording:
        """The region's words for ``kind`` when they keep core's facts; core's own otherwise (and a warning)."""
        if not region:
            return DEFAULT_WORDING[kind]
        found = self.s.rulebook.route("notice_wording", region)(region=region, kind=kind)
        if found is None:
            return DEFAULT_WORDING[kind]
        try:
            check_wording(kind, found)
        except WordingProblem as problem:
            log.warning("region %s: its wording of %s is not used: %s", region, kind, problem)
            return DEFAULT_WORDING[kind]
        return found

    def render(self, region: str, kind: NoticeKind, facts: Mapping[str, Text]) -> Rendered:
        common = self.region_facts(region)
        return render(kind, self.wording(region, kind), {**common, **facts}, self.s.settings.sms.signature)

    def region_facts(self, region: str) -> dict[str, Text]:
        if not region:
            return {"centre": Text("电子口岸数据分中心", "E-Port data branch centre"), "hotline": Text("")}
        found = self.s.rulebook.region(region)
        return {"centre": found.centre, "hotline": Text(found.hotlines[0] if found.hotlines else "")}

    def queue(self, tx: Transaction, *, kind: NoticeKind, region: str, uscc: str, facts: Mapping[str, Text],
              key: str, fallback_mobile: str = "") -> list[int]:
        """Put the notice in the outbox for each channel the enterprise chose (and a gateway serves), inside
        ``tx``, with one audit row each; an event already queued (same ``key``) adds nothing."""
        channels = self.enabled_channels()
        if not channels:
            return []
        choice = self._choice(tx, uscc)
        wanted = {"sms", "mail"} if choice.channels == "both" else {choice.channels}
        rendered = self.render(region, kind, facts)
        now = self.s.clock()
        messages = []
        if "sms" in wanted & channels and (mobile := choice.mobile or choice.account_mobile or fallback_mobile):
            lang = choice.sms_language
            messages.append(NewMessage(f"{key}:sms", "sms", kind.value, mobile, rendered.sms.get(lang), uscc, region,
                                       lang, params=rendered.sms_params[0 if lang == "zh" else 1]))
        if "mail" in wanted & channels and choice.email:
            body = f"{rendered.body.zh}\n\n——————————\n\n{rendered.body.en}"
            messages.append(NewMessage(f"{key}:mail", "mail", kind.value, choice.email, body, uscc, region, "zh+en",
                                       subject=f"{rendered.subject.zh} / {rendered.subject.en}"))
        made = Outbox(tx).enqueue(messages, now)
        for message, message_id in zip(messages, made, strict=True):
            if message_id is not None:  # None: queued before (the same event, seen again)
                tx.audit.append(SYSTEM, "notify_queued", "notify", str(message_id),
                                {"kind": kind.value, "channel": message.channel,
                                 "to": mask_recipient(message.recipient), "key": message.idem_key}, at=now)
        return [m for m in made if m is not None]

    # ---- the events, queued in the transaction that makes the change --------------------------------------
    def queue_application(self, tx: Transaction, app: Application, action: str) -> list[int]:
        """Inside the transaction that saves ``app`` after ``action``: the notice the action gives the
        enterprise (none for most), in the outbox with the change, so that both commit or neither."""
        transition = app.history[-1] if app.history else None
        if transition is None or transition.action != action:
            return []  # a save that moved nothing (an edit, an upload)
        kind = APPLICATION_NOTICES.get(action)
        if action == "complete":
            kind = NoticeKind.READY_FOR_PICKUP if app.pickup.method is Pickup.COUNTER else NoticeKind.COMPLETED
        if kind is None or not self.enabled_channels():
            return []
        key = f"app:{app.id}:{len(app.history)}:{kind.value}"
        return self.queue(tx, kind=kind, region=app.region, uscc=app.enterprise.uscc,
                          facts=self.application_facts(app, transition), key=key,
                          fallback_mobile=app.agent.phone if app.agent else "")

    def application_facts(self, app: Application, transition: Transition) -> dict[str, Text]:
        rules = self.s.rulebook
        facts = {"enterprise": Text(app.enterprise.name, app.enterprise.name_en or app.enterprise.name),
                 "acceptance_no": Text(app.acceptance_no), "business": Text(*pair(app.business)),
                 "due": Text(app.due.isoformat() if app.due else "—")}
        if transition.reasons:
            labels = [pair(r) for r in transition.reasons]
            facts["reasons"] = Text("；".join(z for z, _ in labels), "; ".join(e for _, e in labels))
            facts["note"] = Text(transition.note or "—")
        courier = rules.courier(app.region, app.business)
        outbound = courier.outbound
        carrier = outbound.carrier
        facts["carrier"] = carrier if isinstance(carrier, Text) and carrier.zh else Text(
            str(carrier or "") or "快递", str(carrier or "") or "courier")
        facts["tracking_no"] = Text(app.tracking_no)
        outlet_code = app.pickup.outlet or app.making_centre
        outlet = next((o for o in rules.outlets(app.region) if o.code == outlet_code), None)
        if outlet is None:
            outlet = next(iter(rules.making_centres(app.region)), None)
        if outlet is not None:
            facts["outlet"], facts["address"] = outlet.name, outlet.address
            facts["hours"] = outlet.hours or Text("工作日", "working days")
        facts["bring"] = outbound.counter_pickup or Text("受理回执及领卡人身份证原件", "the receipt and the collector's ID")
        return facts

    def queue_card(self, tx: Transaction, card: Card, events: Iterable[CardEvent]) -> list[int]:
        """Inside the transaction that saves ``card`` after ``events``: the notices they give (locked, renewed,
        frozen, reported lost), in the outbox with the change."""
        made: list[int] = []
        for event in events:
            kind = CARD_NOTICES.get(event.action)
            if kind is None or not self.enabled_channels():
                continue
            key = f"card:{card.id}:{len(card.history)}:{kind.value}"
            made += self.queue(tx, kind=kind, region=self.card_region(tx, card), uscc=card.enterprise_uscc,
                               facts=self.card_facts(tx, card), key=key, fallback_mobile=card.holder.phone)
        return made

    def card_region(self, tx: Transaction, card: Card) -> str:
        """The card's region: its application's, else the deployment's default (as the card rules are found)."""
        if card.application_id:
            try:
                return tx.applications.get(card.application_id).region
            except NotFound:
                pass
        return self.s.settings.regions.default

    def card_facts(self, tx: Transaction, card: Card) -> dict[str, Text]:
        kind_zh, kind_en = pair(card.kind)
        enterprise = tx.enterprises.get(card.enterprise_uscc) if _has_enterprise(tx, card.enterprise_uscc) else None
        name = enterprise.name if enterprise else card.enterprise_uscc
        not_after = china_date(card.certificate.not_after).isoformat() if card.certificate else "—"
        return {"enterprise": Text(name, (enterprise.name_en if enterprise else "") or name),
                "card": Text(f"{card.holder.name}的{kind_zh}", f"{card.holder.name}'s {kind_en}"),
                "device_no": Text(card.device_no or "—"), "not_after": Text(not_after)}

    # ---- delivering ----------------------------------------------------------------------------------------
    def retry_at(self, attempts_before: int, now: datetime) -> datetime | None:
        """When a message that failed its ``attempts_before + 1``-th try is tried again; None: never (dead)."""
        settings = self.s.settings.notify
        if attempts_before + 1 >= settings.max_attempts:
            return None
        wait = min(settings.retry_after_seconds * 2 ** attempts_before, settings.max_retry_seconds)
        return now + timedelta(seconds=wait)

    def deliver_due(self, limit: int = 500) -> DeliveryReport:
        """Send every due message (at most ``limit``) through its gateway, each claimed first, so that of several
        runners each message goes out once. A misconfigured gateway stops the run (ConfigError) before any send."""
        gateways = {channel: self.gateway(channel) for channel in ("sms", "mail")}
        with self.s.store.transaction(readonly=True) as tx:
            due = Outbox(tx).due_ids(self.s.clock(), limit)
        sent = retried = dead = 0
        for message_id in due:
            with self.s.store.transaction() as tx:
                message = Outbox(tx).claim(message_id, self.s.clock(), HOLD)
            if message is None:
                continue  # another runner holds it, or sent it meanwhile
            outcome = self._deliver(message, gateways[message.channel])
            sent += outcome == "sent"
            retried += outcome == "retry"
            dead += outcome == "dead"
        return DeliveryReport(sent, retried, dead)

    def _deliver(self, message: Message, gateway: Gateway) -> str:
        outgoing = Outgoing(message.channel, message.kind, message.recipient, message.body, message.idem_key,
                            message.subject, message.params, message.language)
        try:
            reference = gateway.send(outgoing)
        except SendError as exc:
            return self._failed(message, gateway, exc.reason, exc.permanent)
        except Exception as exc:  # a gateway's own bug must not stop the others: a retry, named by its kind
            log.exception("gateway %s failed on message %s", gateway.name, message.id)
            return self._failed(message, gateway, f"gateway error ({type(exc).__name__})", False)
        now = self.s.clock()
        with self.s.store.transaction() as tx:
            Outbox(tx).sent(message.id, now, gateway.name, reference)
            if gateway.keeps_text and message.channel == "sms":
                SmsOutbox(tx).add(message.recipient, message.body, "", f"notice:{message.kind}", now)
            tx.audit.append(SYSTEM, "notify_sent", "notify", str(message.id),
                            {"kind": message.kind, "channel": message.channel, "gateway": gateway.name,
                             "to": mask_recipient(message.recipient), "attempt": message.attempts + 1,
                             "reference": reference[:64]}, at=now)
        return "sent"

    def _failed(self, message: Message, gateway: Gateway, reason: str, permanent: bool) -> str:
        now = self.s.clock()
        retry_at = None if permanent else self.retry_at(message.attempts, now)
        with self.s.store.transaction() as tx:
            Outbox(tx).failed(message.id, gateway.name, reason, retry_at)
            tx.audit.append(SYSTEM, "notify_failed" if retry_at else "notify_dead", "notify", str(message.id),
                            {"kind": message.kind, "channel": message.channel, "gateway": gateway.name,
                             "to": mask_recipient(message.recipient), "attempt": message.attempts + 1,
                             "reason": reason[:200], "retry_at": retry_at.isoformat() if retry_at else None}, at=now)
        log.warning("message %s (%s by %s) not sent: %s; %s", message.id, message.kind, gateway.name, reason,
                    f"retry at {retry_at.isoformat()}" if retry_at else "a dead letter now")
        return "retry" if retry_at else "dead"

    # ---- staff: the dead letters -------------------------------------------------------------------------------
    def dead_letters(self, actor: Actor, limit: int = 50, offset: int = 0) -> list[Message]:
        region = staff_region(actor)
        with self.s.store.transaction(readonly=True) as tx:
            return Outbox(tx).listing("dead", limit, offset, region)

    def counts(self, actor: Actor) -> dict[str, int]:
        region = staff_region(actor)
        with self.s.store.transaction(readonly=True) as tx:
            return Outbox(tx).counts(region)

    def retry(self, actor: Actor, message_id: int) -> None:
        """Put a dead letter back in the queue (due now, its tries counted afresh)."""
        region = staff_region(actor)
        now = self.s.clock()
        with self.s.store.transaction() as tx:
            outbox = Outbox(tx)
            found = outbox.get(message_id)
            if found is None or (region is not None and found.region != region):
                raise NotFound("没有这条消息。", "There is no such message.", field="message")
            if not outbox.retry(message_id, now):
                raise InvalidInput("这条消息不在失败列表中，无需重发。", "This message is not a dead letter; nothing to retry.",
                                   field="message")
            tx.audit.append(actor.label, "notify_retry", "notify", str(message_id),
                            {"kind": found.kind, "channel": found.channel, "to": mask_recipient(found.recipient)},
                            at=now)


def _has_enterprise(tx: Transaction, uscc: str) -> bool:
    try:
        tx.enterprises.get(uscc)
    except NotFound:
        return False
    return True


def _own_enterprise(actor: Actor) -> str:
    if actor.kind != "enterprise" or not actor.uscc:
        raise Forbidden("只有企业用户可以设置通知方式。", "Only an enterprise account sets how it is notified.",
                        field="notify")
    return actor.uscc


def staff_region(actor: Actor) -> str | None:
    """The branch a staff member sees (None: every branch, for the system): their own region, as
    ``core.services.actors.authorise`` gives staff their branch's applications only."""
    if actor.kind == "system":
        return None
    if actor.kind != "staff" or not (actor.roles & STAFF_ROLES):
        raise Forbidden("只有分中心工作人员可以查看消息。", "Only branch staff see the messages.", field="notify")
    return actor.region


__all__ = ["APPLICATION_NOTICES", "CARD_NOTICES", "CHOICES", "Choice", "DeliveryReport", "Notifications",
           "check_gateways", "make_gateway", "mask_recipient", "staff_region"]
