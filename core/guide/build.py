"""The complete guide for one business in one region, as a frozen value (pure: no I/O).

Where the region's source says nothing (the rule is core's default, ``source is None``, or
the region lists nothing), the topic goes into ``Guide.silent`` and the rendered output
says so instead of presenting the default as the region's own rule.
"""

from __future__ import annotations

from datetime import date

from attrs import frozen

from core.calendar import WorkCalendar
from core.errors import NotFound
from core.labels import pair
from core.model import Business
from core.rulebook import Rulebook
from core.rules import (
    BusinessOffer,
    CardPolicy,
    CourierPolicy,
    Deadline,
    Form,
    Material,
    MediumPolicy,
    Milestone,
    Outlet,
    Region,
    Step,
    StepActor,
    Text,
    Timeframe,
    UploadPolicy,
)

__all__ = [
    "TOPICS", "DueDate", "Guide", "GuideMaterial", "build_guide", "deadline", "parse_business",
    "resolve_region",
]

# The topics a guide covers, in the order they are printed; a topic is "silent" when the
# region's source says nothing about it.
TOPICS: tuple[str, ...] = ("materials", "courier", "outlets", "timeframe", "steps", "medium", "forms", "upload",
                          "card_policy")  # their names: core.labels, "guide.topic.<topic>"


@frozen
class GuideMaterial:
    material: Material
    condition: Text  # when it is needed, in words
    form_title: Text | None = None  # the template form's title, when it names one


@frozen
class DueDate:
    """A milestone with its date if the counted-from event happened on ``Guide.today``."""

    deadline: Deadline
    due: date
    earliest: date | None = None  # for ranges such as 1-2 working days


@frozen
class Guide:
    region: Region
    business: Business
    business_name: Text  # the region's own name for the business
    offer: BusinessOffer
    today: date
    materials: tuple[GuideMaterial, ...]
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


def deadline(rulebook: Rulebook, calendar: WorkCalendar, region: str, business: Business,
             start: date) -> list[tuple[Deadline, date]]:
    """Each milestone's date when every event it counts from happens on ``start``."""
    timeframe = rulebook.timeframe(region, business)
    dates = calendar.due_dates(timeframe, {m: start for m in Milestone})
    return [(d, dates[d.code]) for d in timeframe.deadlines if d.code in dates]


def _due(calendar: WorkCalendar, timeframe: Timeframe, today: date) -> list[DueDate]:
    dates = calendar.due_dates(timeframe, {m: today for m in Milestone})
    result: list[DueDate] = []
    origin = today
    for d in timeframe.deadlines:
        if d.code not in dates:
            continue
        earliest = None
        if d.min_days is not None:
            # the range starts from the same origin the deadline counts from
            base = origin if d.counted_from == Milestone.PREVIOUS else today
            earliest = calendar.add_working_days(base, d.min_days)
        result.append(DueDate(d, dates[d.code], earliest))
        origin = dates[d.code]
    return result


def _what_you_do(offer: BusinessOffer, materials: list[GuideMaterial], courier: CourierPolicy,
                 steps: list[Step], forms: list[Form]) -> list[Text]:
    """The enterprise's part, in order, assembled from the region's rules."""
    todo: list[Text] = []
    names_zh = "、".join(c.name.zh for c in offer.channels)
    names_en = "; ".join(c.name.get("en") for c in offer.channels)
    if len(offer.channels) > 1:
        todo.append(Text(f"选择办理渠道：{names_zh}。", f"Choose a channel: {names_en}."))
    if forms:
        todo.append(Text("填写表格：" + "、".join(f"{f.code}《{f.title.zh}》" for f in forms) + "。",
                         "Fill in the forms: " + "; ".join(f"{f.code} {f.title.get('en')}" for f in forms) + "."))
    if materials:
        todo.append(Text("准备材料（见“所需材料”）：" + "、".join(m.material.name.zh for m in materials) + "。",
                         "Prepare the materials (see Materials): "
                         + "; ".join(m.material.name.get("en") for m in materials) + "."))
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
    if out.mail:
        todo.append(Text("领取：可选择邮寄领卡" + ("（到付）" if out.cod else "") + "，或到窗口领取。",
                         "Collect: have the cards mailed" + (" (cash on delivery)" if out.cod else "")
                         + " or collect them at the counter."))
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
    materials = [GuideMaterial(m, Text(*pair(m.condition)), titles.get(m.template))
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
    zh, en = pair(business)
    return Guide(
        region=info, business=business, business_name=offer.name if offer.name.zh else Text(zh, en),
        offer=offer, today=today, materials=tuple(materials), courier=courier, outlets=tuple(outlets),
        timeframe=timeframe, due=tuple(_due(calendar, timeframe, today)), steps=tuple(steps), medium=medium,
        forms=tuple(forms), upload=upload, card_policy=card_policy,
        what_you_do=tuple(_what_you_do(offer, materials, courier, steps, forms)),
        silent=tuple(topic for topic in TOPICS if not said[topic]),
    )
