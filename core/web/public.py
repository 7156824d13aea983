"""Public pages: regions and business guides, outlets, the due-date calculator, progress query, health."""

from __future__ import annotations

from datetime import date

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from core.errors import EportError, InvalidInput, NotFound
from core.guide import build_guide, deadline, render_text
from core.guide.build import parse_business, resolve_region
from core.services import sms
from core.web.handlers import blocking
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
    return render(request, "public/region.html", {
        "region": region, "offers": rulebook.offers(region.code), "outlets": rulebook.outlets(region.code)})


@blocking
def guide_page(request: Request) -> Response:
    """The same guide as ``eportcard guide <region> <business>``, in the page's language."""
    services = web(request).services
    region = resolve_region(services.rulebook, request.path_params["region"])
    business = parse_business(services.rulebook, region.code, request.path_params["business"])
    guide = build_guide(services.rulebook, services.calendar, region.code, business, services.today())
    return render(request, "public/guide.html", {
        "region": region, "guide": guide, "text": render_text(guide, lang_of(request))})


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("日期格式应为 YYYY-MM-DD。", "Enter the date as YYYY-MM-DD.", field="start") from None


@blocking
def due_page(request: Request) -> Response:
    """Milestone dates for a region's business counted from a start date (working-day calendar)."""
    services = web(request).services
    rulebook = services.rulebook
    regions = sorted(rulebook.regions().values(), key=lambda r: r.code)
    query = request.query_params
    chosen = query.get("region") or services.settings.regions.default or (regions[0].code if regions else "")
    offers = rulebook.offers(chosen) if chosen in rulebook.regions() else []
    context: dict = {"regions": regions, "offers": offers, "chosen": chosen, "business": query.get("business", ""),
                     "start": query.get("start") or services.today().isoformat(), "rows": None}
    if query.get("business"):
        try:
            region = resolve_region(rulebook, chosen)
            business = parse_business(rulebook, region.code, query["business"])
            start = _parse_date(query.get("start") or services.today().isoformat())
            context["rows"] = deadline(rulebook, services.calendar, region.code, business, start)
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
    Route("/due", due_page, name="due"),
    Route("/progress", progress_page, name="progress"),
    Route("/dev/outbox", outbox_page, name="outbox"),
]

__all__ = ["routes"]
