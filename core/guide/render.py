"""Rendering a :class:`Guide` as sectioned plain text (Chinese by default) or JSON."""

from __future__ import annotations

import json
from typing import Any

from core.convert import make_json_converter
from core.guide.build import Guide
from core.labels import LANGS, label
from core.rules import CardPolicy, CourierPolicy, Deadline, MediumPolicy, Text, UploadPolicy

__all__ = ["LANGS", "counted", "guide_json", "render_deadlines", "render_text", "silent_line", "working_days"]


def counted(n: int, noun: str, plural: str = "") -> str:
    """``1 year``, ``2 years``, ``2 copies``: English counts agree in number (Chinese has no plural)."""
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


def working_days(days: int, min_days: int | None = None) -> str:
    """``1 working day``, ``3 working days``, ``1-2 working days`` (a range is always plural)."""
    return counted(days, "working day") if min_days is None else f"{min_days}-{days} working days"


def _days(d: Deadline) -> str:
    return f"{d.min_days}-{d.days}" if d.min_days is not None else str(d.days)


def silent_line(topic: str, lang: str = "zh") -> str:
    """What the guide says for a topic the region's source is silent about."""
    name = label(f"guide.topic.{topic}", lang)
    if lang == "en":
        return f"The region's guide does not say {name}; the core default applies."
    return f"本分中心指引未说明{name}，适用系统默认规则。"


class _Writer:
    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.lines: list[str] = []

    def t(self, text: Text | None) -> str:
        return text.get(self.lang) if text else ""

    def join(self, texts: tuple[Text, ...]) -> str:
        return ("、" if self.lang == "zh" else ", ").join(t.get(self.lang) for t in texts)

    def label(self, key: str) -> str:
        return label(f"guide.text.{key}", self.lang)

    def yes(self, flag: bool) -> str:
        if self.lang == "en":
            return "yes" if flag else "no"
        return "是" if flag else "否"

    def section(self, key: str) -> None:
        self.lines += ["", f"【{self.label(key)}】" if self.lang == "zh" else f"== {self.label(key)} =="]

    def line(self, text: str, indent: int = 0) -> None:
        if text:
            self.lines.append("  " * indent + text)

    def kv(self, key: str, value: str, indent: int = 0) -> None:
        if value:
            sep = "：" if self.lang == "zh" else ": "
            self.line(f"{self.label(key)}{sep}{value}", indent)

    def source(self, source: str | None, indent: int = 1) -> None:
        self.kv("source", source or "", indent)


def render_text(guide: Guide, lang: str = "zh") -> str:
    """The guide as readable sectioned text: Chinese by default, English with ``lang="en"``."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}")
    w = _Writer(lang)
    region, silent = guide.region, set(guide.silent)
    w.line(f"{w.t(region.name)} · {w.t(guide.business_name)} ({guide.business.value}) — {w.label('guide')}")
    w.line(w.t(region.centre))
    w.section("contacts")
    w.kv("hotline", " ".join(region.hotlines))
    w.kv("hotline_hours", w.t(region.hotline_hours))
    w.kv("email", " ".join(region.emails))
    w.kv("website", region.website)
    w.kv("address", w.t(region.address))
    w.kv("hours", w.t(region.hours))
    w.kv("note", w.t(region.note))

    w.section("channels")
    w.kv("note", w.t(guide.offer.note))
    for n, channel in enumerate(guide.offer.channels, start=1):
        kind = label(channel.kind, lang)
        w.line(f"{n}. {w.t(channel.name)} [{kind}]" + (f" {channel.url}" if channel.url else ""))
        if channel.requires_legal_card:
            w.line("需使用法人卡登录。" if lang == "zh" else "Requires logging in with the legal card.", 1)
        if channel.email:
            e = channel.email
            w.line(("发送至：" if lang == "zh" else "Send to: ") + e.to, 1)
            w.line(("邮件主题：" if lang == "zh" else "Subject: ") + w.t(e.subject), 1)
            for item in e.body:
                w.line(("正文须含：" if lang == "zh" else "Body must give: ") + w.t(item), 1)
            for item in e.attachments:
                w.line(("附件：" if lang == "zh" else "Attachment: ") + w.t(item), 1)
            if e.reply:
                w.line(("回复：" if lang == "zh" else "Reply: ") + w.t(e.reply), 1)
        for k, step in enumerate(channel.steps, start=1):
            w.line(f"{n}.{k} {w.t(step)}", 1)
        w.kv("note", w.t(channel.note), 1)

    w.section("what_you_do")
    for n, todo in enumerate(guide.what_you_do, start=1):
        w.line(f"{n}. {w.t(todo)}")

    _materials(w, guide, silent)
    _forms(w, guide, silent)
    _courier(w, guide.courier, "courier" in silent)
    _outlets(w, guide, silent)
    _timeframe(w, guide, silent)
    _steps(w, guide, silent)
    _medium(w, guide.medium, "medium" in silent)
    _upload(w, guide.upload, "upload" in silent)
    _card_policy(w, guide.card_policy, "card_policy" in silent)
    return "\n".join(w.lines).strip() + "\n"


def _silent(w: _Writer, topic: str) -> None:
    w.line(silent_line(topic, w.lang))


def _materials(w: _Writer, guide: Guide, silent: set[str]) -> None:
    w.section("materials")
    if "materials" in silent:
        return _silent(w, "materials")
    zh = w.lang == "zh"
    for n, item in enumerate(guide.materials, start=1):
        m = item.material
        details = [label(m.form, w.lang)]
        if m.stamped:
            details.append("加盖单位公章" if zh else "stamped with the company seal")
        if m.per_card:
            details.append("每张卡一份" if zh else "one per card")
        if m.copies > 1:
            details.append(f"一式{m.copies}份" if zh else counted(m.copies, "copy", "copies"))
        if m.template:
            title = w.t(item.form_title)
            details.append((f"模板：{m.template}" if zh else f"template: {m.template}") + (f"《{title}》" if title else ""))
        w.line(f"{n}. {w.t(m.name)}（{'，'.join(details)}）" if zh else f"{n}. {w.t(m.name)} ({', '.join(details)})")
        w.line(("何时需要：" if zh else "When: ") + w.t(item.condition), 1)
        if m.annotation:
            w.line(("手写签注：" if zh else "Handwritten annotation: ") + w.t(m.annotation), 1)
        w.kv("note", w.t(m.note), 1)
    return None


def _forms(w: _Writer, guide: Guide, silent: set[str]) -> None:
    w.section("forms")
    if "forms" in silent:
        return _silent(w, "forms")
    for form in guide.forms:
        copies = (f"（一式{form.copies}份）" if w.lang == "zh" else f" ({counted(form.copies, 'copy', 'copies')})"
                  ) if form.copies > 1 else ""
        w.line(f"- {form.code} {w.t(form.title)}{copies}")
    return None


def _courier(w: _Writer, courier: CourierPolicy, silent: bool) -> None:
    w.section("courier")
    zh = w.lang == "zh"
    if silent:
        _silent(w, "courier")
    i, o = courier.inbound, courier.outbound
    prefix = (w.label("default") + ("：" if zh else ": ")) if silent else ""
    if i.accepted:
        w.line(prefix + ("可邮寄材料/卡至分中心" if zh else "Materials/cards may be sent by post"))
        w.kv("note", w.t(i.what), 1)
        if i.carriers:
            w.line(("限用快递：" if zh else "Carriers: ") + w.join(i.carriers), 1)
        if i.payer:
            w.line(("邮费承担：" if zh else "Postage paid by: ") + label(i.payer, w.lang), 1)
        if i.to:
            recipient = w.t(i.to.recipient) and (("收件人：" if zh else "recipient: ") + w.t(i.to.recipient))
            phone = i.to.phone and (("电话：" if zh else "phone: ") + i.to.phone)
            w.line(("寄至：" if zh else "Send to: ") + ("；" if zh else "; ").join(
                x for x in (w.t(i.to.address), recipient, phone) if x), 1)
        w.kv("note", w.t(i.note), 1)
    else:
        # Say only what the policy says: no post. How materials arrive instead (upload, counter) is
        # the channel's business, or the inbound note's.
        w.line(prefix + ("不接受邮寄材料" if zh else "Materials are not taken by post"))
        w.kv("note", w.t(i.what), 1)
        w.kv("note", w.t(i.note), 1)
    if o.mail:
        how = ("卡片可邮寄" + ("（到付）" if o.cod else "")) if zh else ("Cards can be mailed" + (" (cash on delivery)" if o.cod else ""))
        w.line(prefix + how)
        if o.dispatch_after_days is not None:
            origin = label(o.counted_from, w.lang)
            w.line(f"{origin}后{o.dispatch_after_days}个工作日内寄出" if zh
                   else f"dispatched within {working_days(o.dispatch_after_days)} of {origin}", 1)
        if o.carrier:
            w.line(("承运：" if zh else "Carrier: ") + w.t(o.carrier), 1)
        for text in (o.liability, o.fallback, o.check_on_receipt, o.note):
            w.line(w.t(text), 1)
    else:
        w.line(prefix + ("卡片不邮寄，须到窗口领取" if zh else "Cards are not mailed; collect them at the counter"))
    if o.counter_pickup:
        w.line(("窗口领取：" if zh else "Counter pickup: ") + w.t(o.counter_pickup), 1)
    if not silent:
        w.source(courier.source)


def _outlets(w: _Writer, guide: Guide, silent: set[str]) -> None:
    w.section("outlets")
    if "outlets" in silent:
        return _silent(w, "outlets")
    zh = w.lang == "zh"
    for o in guide.outlets:
        w.line(f"- {w.t(o.name)}（{o.code}）" if zh else f"- {w.t(o.name)} ({o.code})")
        w.kv("address", w.t(o.address), 1)
        w.kv("hotline", o.phone, 1)
        w.kv("hours", w.t(o.hours), 1)
        w.line(("可邮寄卡片：" if zh else "Cards can be mailed: ") + w.yes(o.mail_possible), 1)
        if o.appointment:
            w.line(("预约：" if zh else "Appointment: ") + w.t(o.appointment), 1)
        if o.final_choice:
            w.line("一经选择不能更改" if zh else "Once chosen it cannot be changed", 1)
        w.source(o.source, 1)
    return None


def _timeframe(w: _Writer, guide: Guide, silent: set[str]) -> None:
    w.section("timeframe")
    if "timeframe" in silent:
        return _silent(w, "timeframe")
    zh = w.lang == "zh"
    today = guide.today.isoformat()
    if guide.due:
        w.line(f"若今天（{today}）提交/受理，预计：" if zh
               else f"If it is submitted/accepted today ({today}), expect:")
    for item in guide.due:
        d = item.deadline
        origin = label(d.counted_from, w.lang)
        when = f"{item.earliest.isoformat()} ~ {item.due.isoformat()}" if item.earliest else item.due.isoformat()
        w.line(f"- {w.t(d.name)}：{origin}后{_days(d)}个工作日 → {when}" if zh
               else f"- {w.t(d.name)}: {working_days(d.days, d.min_days)} after {origin} → {when}")
    w.kv("note", w.t(guide.timeframe.note), 1)
    w.source(guide.timeframe.source)
    return None


def _steps(w: _Writer, guide: Guide, silent: set[str]) -> None:
    w.section("steps")
    if "steps" in silent:
        return _silent(w, "steps")
    zh = w.lang == "zh"
    for step in guide.steps:
        actor, after = label(step.actor, w.lang), label(step.after, w.lang)
        w.line(f"- {w.t(step.name)}（{actor}办理，申请“{after}”后）" if zh
               else f"- {w.t(step.name)} (done by {actor}, once the application is “{after}”)")
        w.line(w.t(step.description), 1)
        if step.channels:
            w.line(("仅适用于：" if zh else "Only for: ")
                   + ("、" if zh else ", ").join(label(c, w.lang) for c in step.channels), 1)
        w.source(step.source)
    return None


def _medium(w: _Writer, medium: MediumPolicy, silent: bool) -> None:
    w.section("medium")
    zh = w.lang == "zh"
    if silent:
        _silent(w, "medium")
        return
    w.line(("介质免费提供" if zh else "The medium is free") if medium.free
           else ("介质需企业自行购买" if zh else "The enterprise must buy the medium"))
    for s in medium.suppliers:
        w.line(f"- {w.t(s.name)}" + (f"：{w.t(s.how)}" if zh and s.how else f": {w.t(s.how)}" if s.how else "")
               + (f" {s.url}" if s.url else ""), 1)
    if medium.proof:
        w.line(("购买凭证：" if zh else "Proof of purchase: ") + w.t(medium.proof), 1)
    w.kv("note", w.t(medium.note), 1)
    w.source(medium.source)


def _upload(w: _Writer, upload: UploadPolicy, silent: bool) -> None:
    w.section("upload")
    if silent:
        _silent(w, "upload")
    prefix = (w.label("default") + ("：" if w.lang == "zh" else ": ")) if silent else ""
    w.line(prefix + ", ".join(upload.media_types) + f" ≤ {upload.max_bytes // 1024} KiB")
    if not silent:
        w.kv("note", w.t(upload.note), 1)
        w.source(upload.source)


def _card_policy(w: _Writer, policy: CardPolicy, silent: bool) -> None:
    w.section("card_policy")
    zh = w.lang == "zh"
    if silent:
        _silent(w, "card_policy")
    rules = [
        ("initial_pin", f"初始密码 {policy.initial_pin}", f"initial PIN {policy.initial_pin}"),
        ("pin_retry_limit", f"连续输错 {policy.pin_retry_limit} 次锁卡",
         f"locked after {counted(policy.pin_retry_limit, 'wrong PIN')}"),
        ("validity_years", f"有效期 {policy.validity_years} 年", f"valid {counted(policy.validity_years, 'year')}"),
        ("renewal_window_days", f"到期前 {policy.renewal_window_days} 天内可自助延期",
         f"self-service renewal within {counted(policy.renewal_window_days, 'day')} before expiry"),
    ]
    default = "（系统默认）" if zh else " (core default)"
    parts = [(z if zh else e) + ("" if silent or name in policy.stated else default) for name, z, e in rules]
    prefix = (w.label("default") + ("：" if zh else ": ")) if silent else ""
    w.line(prefix + ("；" if zh else "; ").join(parts))
    if not silent:
        w.kv("note", w.t(policy.note), 1)
        w.source(policy.source)


def guide_json(guide: Guide) -> dict[str, Any]:
    """The guide as JSON-safe data (dates as ISO strings), with the silent statements in both languages."""
    data = make_json_converter().unstructure(guide)
    data["silent_statements"] = [{"topic": t, "zh": silent_line(t, "zh"), "en": silent_line(t, "en")}
                                 for t in guide.silent]
    return json.loads(json.dumps(data, ensure_ascii=False, default=str))


def render_deadlines(rows: list[tuple[Any, Any]], lang: str = "zh") -> str:
    """``deadline()`` rows as lines: name, working days, counted from, date."""
    lines = []
    for d, due in rows:
        origin = label(d.counted_from, lang)
        lines.append(f"{due.isoformat()}  {d.name.get(lang)}（{origin}后{_days(d)}个工作日）" if lang == "zh"
                     else f"{due.isoformat()}  {d.name.get(lang)} ({working_days(d.days, d.min_days)} after {origin})")
    return "\n".join(lines)
