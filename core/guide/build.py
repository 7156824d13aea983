"""The complete guide for one business in one region, as a frozen value (pure: no I/O).

One source, three renderings: the terminal text and the JSON (``core.guide.render``) and the public
page (``core/web/templates/public/guide.html``) all show this value.

Where the region's source says nothing (the rule is core's default, ``source is None``, or
the region lists nothing), the topic goes into ``Guide.silent`` and the rendered output
says so instead of presenting the default as the region's own rule. Every requirement the
region's ``validate_application`` enforces is listed (``Guide.requirements``), and every reading
of an unclear passage is printed beside its topic (``Guide.readings``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import attrs
from attrs import frozen

from core.calendar import WorkCalendar
from core.errors import NotFound
from core.labels import pair
from core.model import Business
from core.rulebook import Rulebook
from core.rules import (
    BusinessOffer,
    CardPolicy,
    ChannelKind,
    CourierPolicy,
    Deadline,
    Form,
    Material,
    MediumPolicy,
    Milestone,
    Outlet,
    Reading,
    Region,
    Requirement,
    SourceDocument,
    Step,
    StepActor,
    Text,
    Timeframe,
    UploadPolicy,
)

__all__ = [
    "SECTIONS", "TOPICS", "DueDate", "Guide", "GuideMaterial", "MaterialGroup", "build_guide", "cited_sources",
    "deadline", "offer_labels", "parse_business", "resolve_region",
]

# The topics a guide covers, in the order they are printed; a topic is "silent" when the
# region's source says nothing about it.
TOPICS: tuple[str, ...] = ("materials", "courier", "outlets", "timeframe", "steps", "medium", "forms", "upload",
                          "card_policy")  # their names: core.labels, "guide.topic.<topic>"
# Every section of a rendered guide, in order; a Reading names one of them as its topic.
SECTIONS: tuple[str, ...] = ("contacts", "channels", "what_you_do", "requirements", "materials", "forms",
                             "courier", "outlets", "timeframe", "steps", "medium", "upload", "card_policy")


@frozen
class GuideMaterial:
    material: Material
    condition: Text  # when it is needed, in words
    form_title: Text | None = None  # the template form's title, when it names one
    channels: tuple[Text, ...] = ()  # the names of the channels it is needed for; () = every channel


@frozen
class MaterialGroup:
    """The materials needed for some of the business's channels (``kinds == ()``: for every channel)."""

    kinds: tuple[ChannelKind, ...]
    channels: tuple[Text, ...]  # the channels' names
    materials: tuple[GuideMaterial, ...]


@frozen
class DueDate:
    """A milestone with its date if the counted-from event happened on ``Guide.today``; ``due`` is None
    when it counts from a region step (``after_step``), whose day nobody can foresee."""

    deadline: Deadline
    due: date | None
    earliest: date | None = None  # for ranges such as 1-2 working days
    after_step: Text | None = None  # the name of the region step it counts from


@frozen
class Guide:
    region: Region
    business: Business
    business_name: Text  # the region's own name for the business
    offer: BusinessOffer
    today: date
    materials: tuple[GuideMaterial, ...]
    material_groups: tuple[MaterialGroup, ...]  # the same materials, by the channels that need them
    requirements: tuple[Requirement, ...]  # what the region checks before it accepts the application
    readings: tuple[Reading, ...]  # how the encoding reads its source, printed beside each topic
    courier: CourierPolicy
    outlets: tuple[Outlet, ...]
    timeframe: Timeframe
    due: tuple[DueDate, ...]
    steps: tuple[Step, ...]
    medium: MediumPolicy
    forms: tuple[Form, ...]
    upload: UploadPolicy
    card_policy: CardPolicy
    what_you_do: tuple[Text, ...]  # numbered when rendered
    silent: tuple[str, ...]  # keys of TOPICS
    # The documents this guide cites, each with the title people read (the file name when the region
    # gives none); the rules' ``source`` fields keep the file name for those who check citations.
    sources: tuple[SourceDocument, ...] = ()

    def source_title(self, source: str) -> Text:
        """The title of the cited document ``source``, or the file name itself when it has none."""
        for document in self.sources:
            if document.file == source:
                return document.title
        return Text(source)


def resolve_region(rulebook: Rulebook, code: str) -> Region:
    """The enabled region ``code``, or a bilingual error listing the valid codes."""
    regions = rulebook.regions()
    if code not in regions:
        valid = ", ".join(sorted(regions)) or "-"
        raise NotFound(f"未知或未启用的分中心：{code}；可用的分中心：{valid}",
                       f"unknown or disabled region: {code}; valid regions: {valid}", field="region")
    return regions[code]


def parse_business(rulebook: Rulebook, region: str, code: str) -> Business:
    """The business ``code`` if ``region`` offers it, or a bilingual error listing what it offers."""
    offered = [o.business.value for o in rulebook.offers(region)]
    valid = ", ".join(offered) or "-"
    try:
        business = Business(code)
    except ValueError:
        raise NotFound(f"未知的业务代码：{code}；{region} 可办理：{valid}",
                       f"unknown business code: {code}; {region} offers: {valid}", field="business") from None
    if business.value not in offered:
        raise NotFound(f"{region} 分中心不办理此业务：{code}；可办理：{valid}",
                       f"region {region} does not offer {code}; it offers: {valid}", field="business")
    return business


def _foreseeable(start: date) -> dict[str, date]:
    """Every milestone on ``start``; a region step (``Milestone.STEP``) is left out: it waits on someone
    (an outside authority, the enterprise) for a time the source does not state."""
    return {m: start for m in Milestone if m is not Milestone.STEP}


def deadline(rulebook: Rulebook, calendar: WorkCalendar, region: str, business: Business,
             start: date) -> list[tuple[Deadline, date | None]]:
    """Each milestone's date when every event it counts from happens on ``start``; None for one that
    counts from a region step (its day cannot be foreseen)."""
    timeframe = rulebook.timeframe(region, business)
    dates = calendar.due_dates(timeframe, _foreseeable(start))
    return [(d, dates.get(d.code)) for d in timeframe.deadlines]


def _due(calendar: WorkCalendar, timeframe: Timeframe, steps: list[Step], today: date) -> list[DueDate]:
    dates = calendar.due_dates(timeframe, _foreseeable(today))
    names = {s.code: s.name for s in steps}
    result: list[DueDate] = []
    origin: date | None = today
    for d in timeframe.deadlines:
        due = dates.get(d.code)
        earliest = None
        if d.min_days is not None and due is not None:
            # the range starts from the same origin the deadline counts from
            base = origin if d.counted_from == Milestone.PREVIOUS else today
            earliest = calendar.add_working_days(base, d.min_days) if base else None
        step = names.get(d.step, Text(d.step)) if d.counted_from == Milestone.STEP else None
        result.append(DueDate(d, due, earliest, step))
        origin = due
    return result


def cited_sources(*values: Any) -> list[str]:
    """Every ``source`` the rule objects in ``values`` cite (nested ones too), each once, in order met."""
    found: dict[str, None] = {}
    stack = list(reversed(values))
    while stack:
        value = stack.pop()
        if isinstance(value, list | tuple):
            stack.extend(reversed(value))
        elif attrs.has(type(value)):
            source = getattr(value, "source", None)
            if isinstance(source, str) and source:
                found[source] = None
            stack.extend(reversed([getattr(value, f.name) for f in attrs.fields(type(value)) if f.name != "source"]))
    return list(found)


def _documents(region: Region, cited: list[str]) -> tuple[SourceDocument, ...]:
    return tuple(SourceDocument(file, region.source_title(file) or Text(file)) for file in cited)


def offer_labels(offers: list[BusinessOffer]) -> dict[Business, Text]:
    """Each offer's name as lists show it: the region's own name, and where two businesses share it
    (Shenzhen's one item 新增/补办卡 covers two), the business named beside it, so no label repeats."""
    names = {o.business: o.name if o.name.zh else Text(*pair(o.business)) for o in offers}
    result: dict[Business, Text] = {}
    for business, name in names.items():
        shared_zh = sum(n.zh == name.zh for n in names.values()) > 1
        shared_en = sum(n.get("en") == name.get("en") for n in names.values()) > 1
        zh, en = pair(business)
        result[business] = Text(f"{name.zh}（{zh}）" if shared_zh else name.zh,
                                f"{name.get('en')} ({en})" if shared_en else name.get("en"))
    return result


def _channel_names(offer: BusinessOffer, kinds: tuple[ChannelKind, ...]) -> tuple[Text, ...]:
    return tuple(c.name for c in offer.channels if not kinds or c.kind in kinds)


def _groups(offer: BusinessOffer, materials: list[GuideMaterial]) -> list[MaterialGroup]:
    """Materials every channel needs first, then those of particular channels, in the channels' order."""
    groups: dict[tuple[ChannelKind, ...], list[GuideMaterial]] = {}
    for item in materials:
        wanted = item.material.channels
        kinds = tuple(k for k in dict.fromkeys(c.kind for c in offer.channels) if k in wanted) or wanted
        groups.setdefault(kinds, []).append(item)
    return [MaterialGroup(kinds, _channel_names(offer, kinds), tuple(items))
            for kinds, items in sorted(groups.items(), key=lambda group: len(group[0]) > 0)]


def _what_you_do(offer: BusinessOffer, materials: list[GuideMaterial], courier: CourierPolicy,
                 steps: list[Step], forms: list[Form]) -> list[Text]:
    """The enterprise's part, in order, assembled from the region's rules (nothing the rules do not say)."""
    todo: list[Text] = []
    names_zh = "、".join(c.name.zh for c in offer.channels)
    names_en = "; ".join(c.name.get("en") for c in offer.channels)
    if len(offer.channels) > 1:
        todo.append(Text(f"选择办理渠道：{names_zh}。", f"Choose a channel: {names_en}."))
    if forms:
        todo.append(Text("填写表格：" + "、".join(f"{f.code}《{f.title.zh}》" for f in forms) + "。",
                         "Fill in the forms: " + "; ".join(f"{f.code} {f.title.get('en')}" for f in forms) + "."))
    common = [m for m in materials if not m.channels]
    if materials:
        some = len(common) < len(materials)
        todo.append(Text("准备材料（见“所需材料”）：" + "、".join(m.material.name.zh for m in common)
                         + ("，以及所选渠道另需的材料" if some and common else "所选渠道需要的材料" if some else "") + "。",
                         "Prepare the materials (see Materials): "
                         + "; ".join(m.material.name.get("en") for m in common)
                         + ("; and those the chosen channel adds" if some and common
                            else "those the chosen channel needs" if some else "") + "."))
    todo.append(Text(f"按所选渠道的步骤提交申请（渠道：{names_zh}）。",
                     f"Lodge the application following the steps of the chosen channel ({names_en})."))
    if courier.inbound.accepted:
        carriers = courier.inbound.carriers
        what = courier.inbound.what or Text("材料", "the materials")
        to = courier.inbound.to
        todo.append(Text(
            f"寄送{what.zh}" + (f"（仅限{'、'.join(c.zh for c in carriers)}）" if carriers else "")
            + (f"至：{to.address.zh}" if to else "") + "。",
            f"Send {what.get('en')}" + (f" (only by {', '.join(c.get('en') for c in carriers)})" if carriers else "")
            + (f" to: {to.address.get('en')}" if to else "") + "."))
    for step in steps:
        if step.actor is StepActor.ENTERPRISE:
            todo.append(Text(f"{step.name.zh}" + (f"：{step.description.zh}" if step.description else ""),
                             step.name.get("en") + (f": {step.description.get('en')}" if step.description else "")))
    out = courier.outbound
    if courier.source is None:
        return todo  # the region does not say how cards come back: the courier section says so
    cod_zh, cod_en = ("（到付）", " (cash on delivery)") if out.cod else ("", "")
    if out.mail and out.counter_pickup:
        todo.append(Text(f"领取：可选择邮寄领卡{cod_zh}，或到窗口领取。",
                         f"Collect: have the cards mailed{cod_en} or collect them at the counter."))
    elif out.mail:  # the source describes mailing only: no counter is offered
        todo.append(Text(f"领取：卡片邮寄给企业{cod_zh}。", f"Collect: the cards are mailed to you{cod_en}."))
    else:
        todo.append(Text("领取：到窗口领取。", "Collect: at the counter."))
    if out.counter_pickup:
        todo.append(Text(f"窗口领取时：{out.counter_pickup.zh}", f"At the counter: {out.counter_pickup.get('en')}"))
    return todo


def build_guide(rulebook: Rulebook, calendar: WorkCalendar, region: str, business: Business,
                today: date) -> Guide:
    """Everything an enterprise needs to do ``business`` in ``region``, due dates counted from ``today``."""
    info = resolve_region(rulebook, region)
    business = parse_business(rulebook, region, str(business))
    offer = rulebook.offer(region, business)
    forms = rulebook.forms(region, business)
    titles = {f.code: f.title for f in forms}
    materials = [GuideMaterial(m, Text(*pair(m.condition)), titles.get(m.template),
                               _channel_names(offer, m.channels) if m.channels else ())
                 for m in rulebook.materials(region, business)]
    courier = rulebook.courier(region, business)
    outlets = rulebook.outlets(region)
    timeframe = rulebook.timeframe(region, business)
    steps = rulebook.steps(region, business)
    medium = rulebook.medium(region, business)
    upload = rulebook.upload(region, business)
    card_policy = rulebook.card_policy(region)
    said = {
        "materials": bool(materials),
        "courier": courier.source is not None,
        "outlets": bool(outlets),
        "timeframe": timeframe.source is not None,
        "steps": bool(steps),
        "medium": medium.source is not None,
        "forms": bool(forms),
        "upload": upload.source is not None,
        "card_policy": card_policy.source is not None,
    }
    requirements = tuple(r for r in info.requirements if r.applies_to(business))
    readings = tuple(r for r in info.readings if r.applies_to(business))
    cited = cited_sources(offer, materials, courier, outlets, timeframe, steps, medium, forms, upload, card_policy,
                          requirements, readings)
    return Guide(
        region=info, business=business, business_name=offer_labels(rulebook.offers(region))[business],
        offer=offer, today=today, materials=tuple(materials), material_groups=tuple(_groups(offer, materials)),
        requirements=requirements, readings=readings, courier=courier,
        outlets=tuple(outlets), timeframe=timeframe, due=tuple(_due(calendar, timeframe, steps, today)),
        steps=tuple(steps), medium=medium,
        forms=tuple(forms), upload=upload, card_policy=card_policy,
        what_you_do=tuple(_what_you_do(offer, materials, courier, steps, forms)),
        silent=tuple(topic for topic in TOPICS if not said[topic]), sources=_documents(info, cited),
    )
