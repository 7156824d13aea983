"""Public pages: regions and business guides, outlets, the due-date calculator, progress query, health."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from core.errors import EportError, InvalidInput, NotFound
from core.guide import build_guide, deadline
from core.guide.build import SECTIONS, offer_labels, parse_business, resolve_region
from core.guide.render import (
    card_policy_words,
    deadline_words,
    inbound_words,
    medium_words,
    outbound_words,
    silent_line,
    upload_words,
)
from core.labels import label
from core.rulebook import Rulebook
from core.services import sms
from core.web.auth import current_user
from core.web.form_pdf import form_pdf
from core.web.handlers import blocking
from core.web.portal import content_disposition
from core.web.render import error_lines, lang_of, outbox_open, render, web


@blocking
def home(request: Request) -> Response:
    rulebook = web(request).services.rulebook
    regions = sorted(rulebook.regions().values(), key=lambda r: r.code)
    return render(request, "public/home.html", {"regions": regions})


@blocking
def region_page(request: Request) -> Response:
    rulebook = web(request).services.rulebook
    region = resolve_region(rulebook, request.path_params["region"])
    offers = rulebook.offers(region.code)
    return render(request, "public/region.html", {
        "region": region, "offers": offers, "names": offer_labels(offers), "outlets": rulebook.outlets(region.code)})


def _calculator(rulebook: Rulebook) -> dict:
    """The due-date calculator's choices: every region, and each region's businesses under the names its
    lists use (site.js swaps the business list when another region is chosen)."""
    regions = sorted(rulebook.regions().values(), key=lambda r: r.code)
    businesses = {r.code: [(b.value, name.zh, name.get("en")) for b, name in offer_labels(rulebook.offers(r.code)).items()]
                  for r in regions}
    return {"regions": regions, "businesses": businesses}


@blocking
def guide_page(request: Request) -> Response:
    """The guide of ``eportcard guide <region> <business>`` (the same structured value) as a page: headings,
    lists and tables, links, the forms to download, and due dates counted from ``?start=`` (else today)."""
    services = web(request).services
    rulebook = services.rulebook
    region = resolve_region(rulebook, request.path_params["region"])
    business = parse_business(rulebook, region.code, request.path_params["business"])
    start = _parse_date(request.query_params["start"]) if request.query_params.get("start") else None
    guide = build_guide(rulebook, services.calendar, region.code, business, start or services.today())
    lang = lang_of(request)
    apply = "/portal/apps/new?" + urlencode({"region": region.code, "business": business.value})
    forms = [(f, f"/regions/{region.code}/{business.value}/forms/{quote(f.code, safe='')}.pdf") for f in guide.forms]
    user = current_user(request)
    return render(request, "public/guide.html", _calculator(rulebook) | {
        "region": region, "guide": guide, "start": start, "chosen": region.code, "business": business.value,
        "sections": [s for s in SECTIONS if s != "what_you_do"], "apply_url": apply, "forms": forms,
        "prefilled": user is not None and user.kind == "enterprise",
        "silent": {topic: silent_line(topic, lang) for topic in guide.silent},
        "readings": {topic: [r for r in guide.readings if r.topic == topic] for topic in SECTIONS},
        "label": lambda key: label(key, lang), "deadline_words": lambda d, step=None: deadline_words(d, lang, step),
        "inbound": inbound_words(guide.courier, lang), "outbound": outbound_words(guide.courier, lang),
        "medium_words": medium_words(guide.medium, lang), "upload_words": upload_words(guide.upload, lang),
        "card_policy_words": card_policy_words(guide.card_policy, "card_policy" in guide.silent, lang)})


@blocking
def form_download(request: Request) -> Response:
    """A form of the guide as PDF: pre-filled with the enterprise's registered data when an enterprise is
    logged in, blank for anyone else."""
    user = current_user(request)
    filled = web(request).services.forms.filled(
        request.path_params["region"], request.path_params["business"], request.path_params["code"],
        user.actor() if user is not None else None)
    private = "private, no-store" if filled.prefilled_for else "public, max-age=300"
    return Response(form_pdf(filled), media_type="application/pdf", headers={
        "Content-Disposition": content_disposition(f"{filled.form.code}.pdf"), "Cache-Control": private,
        "X-Content-Type-Options": "nosniff"})


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("日期格式应为 YYYY-MM-DD。", "Enter the date as YYYY-MM-DD.", field="start") from None


@blocking
def due_page(request: Request) -> Response:
    """Milestone dates for a region's business counted from a start date (working-day calendar). From a
    guide page's calculator (``view=guide``) a valid choice goes back to that region's guide for the business,
    dated from the start."""
    services = web(request).services
    rulebook = services.rulebook
    query = request.query_params
    calculator = _calculator(rulebook)
    regions = calculator["regions"]
    chosen = query.get("region") or services.settings.regions.default or (regions[0].code if regions else "")
    context: dict = calculator | {"chosen": chosen, "business": query.get("business", ""),
                                  "start": query.get("start") or services.today().isoformat(), "rows": None}
    if query.get("business"):
        try:
            region = resolve_region(rulebook, chosen)
            business = parse_business(rulebook, region.code, query["business"])
            start = _parse_date(query.get("start") or services.today().isoformat())
            if query.get("view") == "guide":
                target = urlencode({"start": start.isoformat(), "lang": lang_of(request)})
                return RedirectResponse(f"/regions/{region.code}/{business.value}?{target}#timeframe", 303)
            context["rows"] = deadline(rulebook, services.calendar, region.code, business, start)
            context["steps"] = {s.code: s.name for s in rulebook.steps(region.code, business)}
            context["deadline_words"] = lambda d, step=None: deadline_words(d, lang_of(request), step)
        except EportError as exc:
            return render(request, "public/due.html", context | {"errors": error_lines(exc)}, status=400)
    return render(request, "public/due.html", context)


@blocking
def progress_page(request: Request) -> Response:
    """Acceptance number + USCC -> state and history; no personal data is shown."""
    query = request.query_params
    number, uscc = query.get("acceptance_no", "").strip(), query.get("uscc", "").strip()
    context: dict = {"acceptance_no": number, "uscc": uscc, "app": None}
    if number or uscc:
        services = web(request).services
        try:
            app = services.applications.progress(number, uscc)
        except NotFound as exc:
            return render(request, "public/progress.html", context | {"errors": [exc]}, status=404)
        context["app"] = app
        context["dues"] = services.applications.deadlines(app)
    return render(request, "public/progress.html", context)


@blocking
def outbox_page(request: Request) -> Response:
    """Development only: the messages the outbox SMS gateway 'sent' (so the demo can read its codes);
    no such page elsewhere, nor to a browser on another machine."""
    if not outbox_open(request):
        raise NotFound("页面不存在", "no such page", field="path")
    return render(request, "public/outbox.html", {"messages": sms.outbox(web(request).services, 50)})


routes: list[BaseRoute] = [
    Route("/", home, name="home"),
    Route("/regions/{region}", region_page, name="region"),
    Route("/regions/{region}/{business}", guide_page, name="guide"),
    Route("/regions/{region}/{business}/forms/{code}.pdf", form_download, name="guide_form"),
    Route("/due", due_page, name="due"),
    Route("/progress", progress_page, name="progress"),
    Route("/dev/outbox", outbox_page, name="outbox"),
]

__all__ = ["routes"]
