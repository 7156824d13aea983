"""Rendering a :class:`Guide` as sectioned plain text (Chinese by default) or JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from core.convert import make_json_converter
from core.guide.build import DueDate, Guide, GuideMaterial
from core.labels import LANGS, counted, label
from core.rules import (
    CardPolicy,
    CourierPolicy,
    Deadline,
    MediumPolicy,
    Milestone,
    Reading,
    Text,
    UploadPolicy,
)

__all__ = ["FILE_TYPES", "LANGS", "card_policy_words", "counted", "deadline_words", "guide_json", "inbound_words",
           "medium_words", "outbound_words", "reading_line", "render_deadlines", "render_text", "silent_line",
           "upload_words", "working_days"]


def working_days(days: int, min_days: int | None = None) -> str:
    """``1 working day``, ``3 working days``, ``1-2 working days`` (a range is always plural)."""
    return counted(days, "working day") if min_days is None else f"{min_days}-{days} working days"


def _days(d: Deadline) -> str:
    return f"{d.min_days}-{d.days}" if d.min_days is not None else str(d.days)


def deadline_words(d: Deadline, lang: str = "zh", step: Text | None = None) -> str:
    """How long, from what: ``受理后4个工作日`` / ``4 working days after acceptance``; ``not_before``
    reads "after" (``审核通过3个工作日后`` / ``no earlier than 3 working days after approval``)."""
    origin = step.get(lang) if step is not None else label(d.counted_from, lang)
    if lang == "zh":
        if d.counted_from == Milestone.STEP:
            origin = f"“{origin}”"
        return f"{origin}{_days(d)}个工作日后" if d.not_before else f"{origin}后{_days(d)}个工作日"
    if d.counted_from == Milestone.STEP:
        origin = f"“{origin}”"
    span = working_days(d.days, d.min_days)
    return f"no earlier than {span} after {origin}" if d.not_before else f"{span} after {origin}"


# File types as people name them (the media types are IANA's: RFC 2046 section 4.2, RFC 8118).
FILE_TYPES = {"image/jpeg": "JPG/JPEG", "image/png": "PNG", "image/gif": "GIF", "image/bmp": "BMP",
              "application/pdf": "PDF"}


def upload_words(upload: UploadPolicy, lang: str = "zh") -> str:
    """``JPG/JPEG、PNG，单个文件不超过 4 MiB`` / ``JPG/JPEG, PNG; at most 4 MiB per file``."""
    kinds = [FILE_TYPES.get(t, t) for t in upload.media_types]
    size = upload.max_bytes / (1024 * 1024)
    amount = f"{size:g} MiB" if size >= 1 else f"{upload.max_bytes // 1024} KiB"
    if lang == "zh":
        return "、".join(kinds) + f"，单个文件不超过 {amount}"
    return ", ".join(kinds) + f"; at most {amount} per file"


def reading_line(reading: Reading, lang: str = "zh") -> str:
    """A reading as printed beside its topic: kind, what is read, and the source's own words."""
    kind = label(reading.kind, lang)
    if lang == "en":
        return f"[{kind}] {reading.text.get('en')} (the source: “{reading.passage}”)"
    return f"〔{kind}〕{reading.text.zh}（原文：“{reading.passage}”）"


def silent_line(topic: str, lang: str = "zh") -> str:
    """What the guide says for a topic the region's source is silent about."""
    name = label(f"guide.topic.{topic}", lang)
    if lang == "en":
        return f"The region's guide does not say {name}; the core default applies."
    return f"本分中心指引未说明{name}，适用系统默认规则。"


class _Writer:
    def __init__(self, lang: str, readings: tuple[Reading, ...] = (),
                 title: Callable[[str], Text] = Text) -> None:
        self.lang = lang
        self.lines: list[str] = []
        self.readings = readings
        self.title = title  # a cited document's title, from its file name
        self.topic = ""  # the section being written ("" before the first); its readings close it

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
        self.close()
        self.topic = key
        self.lines += ["", f"【{self.label(key)}】" if self.lang == "zh" else f"== {self.label(key)} =="]

    def close(self) -> None:
        """End the current section with its readings, printed beside the rules they explain."""
        for reading in self.readings:
            if reading.topic == self.topic:
                self.line(reading_line(reading, self.lang), 1)

    def line(self, text: str, indent: int = 0) -> None:
        if text:
            self.lines.append("  " * indent + text)

    def kv(self, key: str, value: str, indent: int = 0) -> None:
        if value:
            sep = "：" if self.lang == "zh" else ": "
            self.line(f"{self.label(key)}{sep}{value}", indent)

    def source(self, source: str | None, indent: int = 1) -> None:
        """The cited document by its title (the file name stays in the JSON, for those who check)."""
        self.kv("source", self.t(self.title(source)) if source else "", indent)


def render_text(guide: Guide, lang: str = "zh") -> str:
    """The guide as readable sectioned text: Chinese by default, English with ``lang="en"``."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}")
    w = _Writer(lang, guide.readings, guide.source_title)
    region, silent = guide.region, set(guide.silent)
    w.line(f"{w.t(region.name)} · {w.t(guide.business_name)} — {w.label('guide')}")
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

    _requirements(w, guide)
    _materials(w, guide, silent)
    _forms(w, guide, silent)
    _courier(w, guide.courier, "courier" in silent)
    _outlets(w, guide, silent)
    _timeframe(w, guide, silent)
    _steps(w, guide, silent)
    _medium(w, guide.medium, "medium" in silent)
    _upload(w, guide.upload, "upload" in silent)
    _card_policy(w, guide.card_policy, "card_policy" in silent)
    w.close()
    return "\n".join(w.lines).strip() + "\n"


def _silent(w: _Writer, topic: str) -> None:
    w.line(silent_line(topic, w.lang))


def _requirements(w: _Writer, guide: Guide) -> None:
    w.section("requirements")
    if not guide.requirements:
        w.line("本分中心对此业务未规定系统默认规则以外的检查。" if w.lang == "zh"
               else "The region checks nothing beyond the core rules for this business.")
    for n, rule in enumerate(guide.requirements, start=1):
        w.line(f"{n}. {w.t(rule.text)}")


def _materials(w: _Writer, guide: Guide, silent: set[str]) -> None:
    w.section("materials")
    if "materials" in silent:
        return _silent(w, "materials")
    zh = w.lang == "zh"
    n = 0
    for group in guide.material_groups:
        names = ("、" if zh else "; ").join(w.t(c) for c in group.channels)
        if not group.kinds:
            w.line((f"所有渠道（{names}）均需：" if zh else f"For every channel ({names}):")
                   if len(guide.material_groups) > 1 else "")
        else:
            w.line(f"仅以下渠道需要（{names}）：" if zh else f"Only for {names}:")
        for item in group.materials:
            n += 1
            _material(w, item, n)
    return None


def _material(w: _Writer, item: GuideMaterial, n: int) -> None:
    """One material: its form and details, when it is needed, annotation and note."""
    zh = w.lang == "zh"
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


def _forms(w: _Writer, guide: Guide, silent: set[str]) -> None:
    w.section("forms")
    if "forms" in silent:
        return _silent(w, "forms")
    for form in guide.forms:
        copies = (f"（一式{form.copies}份）" if w.lang == "zh" else f" ({counted(form.copies, 'copy', 'copies')})"
                  ) if form.copies > 1 else ""
        w.line(f"- {form.code} {w.t(form.title)}{copies}")
    return None


def inbound_words(courier: CourierPolicy, lang: str) -> tuple[str, list[str]]:
    """What the enterprise sends: a headline and the details under it."""
    zh, i = lang == "zh", courier.inbound
    t = (lambda text: text.get(lang) if text else "")  # noqa: E731
    if not i.accepted:
        # Say only what the policy says: no post. How materials arrive instead (upload, counter) is the
        # channel's business, or the inbound note's.
        return ("不接受邮寄材料" if zh else "Materials are not taken by post"), [x for x in (t(i.what), t(i.note)) if x]
    details = [t(i.what)]
    if i.carriers:
        details.append(("限用快递：" if zh else "Carriers: ") + ("、" if zh else ", ").join(t(c) for c in i.carriers))
    if i.payer:
        details.append(("邮费承担：" if zh else "Postage paid by: ") + label(i.payer, lang))
    if i.to:
        recipient = t(i.to.recipient) and (("收件人：" if zh else "recipient: ") + t(i.to.recipient))
        phone = i.to.phone and (("电话：" if zh else "phone: ") + i.to.phone)
        details.append(("寄至：" if zh else "Send to: ") + ("；" if zh else "; ").join(
            x for x in (t(i.to.address), recipient, phone) if x))
    details.append(t(i.note))
    return ("可邮寄材料/卡至分中心" if zh else "Materials/cards may be sent by post"), [x for x in details if x]


def outbound_words(courier: CourierPolicy, lang: str) -> tuple[str, list[str]]:
    """How the cards come back: a headline and the details under it."""
    zh, o = lang == "zh", courier.outbound
    t = (lambda text: text.get(lang) if text else "")  # noqa: E731
    details: list[str] = []
    if o.mail:
        head = ("卡片可邮寄" + ("（到付）" if o.cod else "")) if zh else \
            ("Cards can be mailed" + (" (cash on delivery)" if o.cod else ""))
        if o.dispatch_after_days is not None:
            # the sources say "after" (三个工作日后 / 第二个工作日后): the earliest day, not a limit
            origin = label(o.counted_from, lang)
            details.append(f"{origin}{o.dispatch_after_days}个工作日后寄出" if zh
                           else f"mailed no earlier than {working_days(o.dispatch_after_days)} after {origin}")
        if o.carrier:
            details.append(("承运：" if zh else "Carrier: ") + t(o.carrier))
        details += [t(text) for text in (o.liability, o.fallback, o.check_on_receipt, o.note)]
    else:
        head = "卡片不邮寄，须到窗口领取" if zh else "Cards are not mailed; collect them at the counter"
    if o.counter_pickup:
        details.append(("窗口领取：" if zh else "Counter pickup: ") + t(o.counter_pickup))
    return head, [x for x in details if x]


def _courier(w: _Writer, courier: CourierPolicy, silent: bool) -> None:
    w.section("courier")
    if silent:
        _silent(w, "courier")
    prefix = (w.label("default") + ("：" if w.lang == "zh" else ": ")) if silent else ""
    for head, details in (inbound_words(courier, w.lang), outbound_words(courier, w.lang)):
        w.line(prefix + head)
        for detail in details:
            w.line(detail, 1)
    if not silent:
        w.source(courier.source)


def _outlets(w: _Writer, guide: Guide, silent: set[str]) -> None:
    w.section("outlets")
    if "outlets" in silent:
        return _silent(w, "outlets")
    zh = w.lang == "zh"
    for o in guide.outlets:
        w.line(f"- {w.t(o.name)}（{label(o.kind, w.lang)}）" if zh else f"- {w.t(o.name)} ({label(o.kind, w.lang)})")
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
        w.line(f"- {w.t(d.name)}：{deadline_words(d, 'zh', item.after_step)} → {_when(item, w.lang)}" if zh
               else f"- {w.t(d.name)}: {deadline_words(d, 'en', item.after_step)} → {_when(item, w.lang)}")
    w.kv("note", w.t(guide.timeframe.note), 1)
    w.source(guide.timeframe.source)
    return None


def _when(item: DueDate, lang: str) -> str:
    """The date of a DueDate: a range, one day, "from" a day (not_before), or why there is none."""
    if item.due is None:
        return "日期取决于该步骤何时完成，无法预先计算" if lang == "zh" else "no date: it depends on when that step is done"
    when = f"{item.earliest.isoformat()} ~ {item.due.isoformat()}" if item.earliest else item.due.isoformat()
    if item.deadline.not_before:
        return f"{when} 起" if lang == "zh" else f"from {when}"
    return when


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


def medium_words(medium: MediumPolicy, lang: str) -> str:
    """Who provides the medium: the condition in the source's words when only some do."""
    zh = lang == "zh"
    if medium.condition:
        return (f"{medium.condition.zh}须自行提供介质" if zh
                else f"{medium.condition.get('en')} must provide the medium themselves")
    if medium.free:
        return "介质免费提供" if zh else "The medium is free"
    return "介质需企业自行购买" if zh else "The enterprise must buy the medium"


def _medium(w: _Writer, medium: MediumPolicy, silent: bool) -> None:
    w.section("medium")
    zh = w.lang == "zh"
    if silent:
        _silent(w, "medium")
        return
    w.line(medium_words(medium, w.lang))
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
    w.line(prefix + upload_words(upload, w.lang))
    if not silent:
        w.kv("note", w.t(upload.note), 1)
        w.source(upload.source)


def card_policy_words(policy: CardPolicy, silent: bool, lang: str) -> str:
    """The card rules in one line, each the region does not state marked as the core default."""
    zh = lang == "zh"
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
    return ("；" if zh else "; ").join(parts)


def _card_policy(w: _Writer, policy: CardPolicy, silent: bool) -> None:
    w.section("card_policy")
    if silent:
        _silent(w, "card_policy")
    prefix = (w.label("default") + ("：" if w.lang == "zh" else ": ")) if silent else ""
    w.line(prefix + card_policy_words(policy, silent, w.lang))
    if not silent:
        w.kv("note", w.t(policy.note), 1)
        w.source(policy.source)


def guide_json(guide: Guide) -> dict[str, Any]:
    """The guide as JSON-safe data (dates as ISO strings), with the silent statements in both languages."""
    data = make_json_converter().unstructure(guide)
    data["silent_statements"] = [{"topic": t, "zh": silent_line(t, "zh"), "en": silent_line(t, "en")}
                                 for t in guide.silent]
    return json.loads(json.dumps(data, ensure_ascii=False, default=str))


def render_deadlines(rows: list[tuple[Any, Any]], lang: str = "zh", steps: dict[str, Text] | None = None) -> str:
    """``deadline()`` rows as lines: date, name, working days and what they count from. A row that counts
    from a region step (named from ``steps``, code -> name) has no date: it says so."""
    lines = []
    for d, due in rows:
        step = (steps or {}).get(d.step, Text(d.step)) if d.counted_from == Milestone.STEP else None
        when = due.isoformat() if due is not None else "—"
        words = deadline_words(d, lang, step)
        if due is None:
            words += "；日期取决于该步骤何时完成" if lang == "zh" else "; no date: it depends on when that step is done"
        elif d.not_before:
            words += "，不早于此日" if lang == "zh" else "; the earliest day"
        lines.append(f"{when}  {d.name.get(lang)}（{words}）" if lang == "zh" else f"{when}  {d.name.get(lang)} ({words})")
    return "\n".join(lines)
