"""Shared state of the web app and page rendering (templates with the language, user and CSRF token)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from attrs import define
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from core.deadlines import CHINA, china_date
from core.errors import EportError, Problems
from core.guide.build import offer_labels
from core.labels import enum_label, label
from core.loopback import is_loopback
from core.model import Application, AppState, Business, Delivery, RejectionReason
from core.privacy import mask_id, mask_phone
from core.rules import Text
from core.services import Services
from core.services.accounts import SessionCheck
from core.services.sms import SmsGateway
from core.web.auth import current_user
from core.web.i18n import DEFAULT_LANG, normalise_lang, pick, t
from core.web.replies import ReplyCache
from core.web.security import client_address, csrf_token

HERE = Path(__file__).resolve().parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
PAGE_SIZE = 20
MAX_PAGE = 10_000  # deeper pages are a search's job; also keeps offsets inside a 64-bit integer


def page_number(value: str | None) -> int:
    """A ``?page=`` value as a page number in 1..MAX_PAGE (anything else is page 1)."""
    value = (value or "").strip()
    return min(max(int(value), 1), MAX_PAGE) if value.isdigit() else 1


@define
class WebState:
    """What every request handler shares: one per app, made by ``create_app``."""

    services: Services
    sms: SmsGateway
    secret: str  # signs sessions and keys the SMS code hashes
    replies: ReplyCache  # the hottest JSON reads, kept while the data is unchanged
    sessions: SessionCheck  # whether a session still stands (asked on every request)


def web(request: Request) -> WebState:
    return request.app.state.web


def outbox_open(request: Request) -> bool:
    """The development outbox holds every SMS code sent: it is shown only in development mode and
    only to a browser on this machine."""
    state = web(request)
    return (state.services.settings.web.development and state.sms.name == "outbox"
            and is_loopback(client_address(request)))


def lang_of(request: Request) -> str:
    chosen = normalise_lang(request.query_params.get("lang")) or normalise_lang(request.session.get("lang"))
    return chosen or DEFAULT_LANG


def error_lines(exc: EportError) -> list[EportError]:
    return list(exc.problems) if isinstance(exc, Problems) else [exc]


def stage_label(stage: AppState | Delivery | None, lang: str) -> str:
    """Where an application is: its state, or where its cards are once completed (None: to be mailed)."""
    return label("delivery.to_mail", lang) if stage is None else label(stage, lang)


def action_label(action: str, lang: str) -> str:
    """A history or audit verb ("accept", "step:aic_review" ...) as a person reads it."""
    return label(f"action.{action.split(':', 1)[0]}", lang)


def file_kind(media_type: str) -> str:
    """What a person calls a file type: "image/jpeg" -> "JPEG", "application/pdf" -> "PDF"."""
    return media_type.rsplit("/", 1)[-1].split("+", 1)[0].upper()


def app_title(app: Application, lang: str) -> str:
    """What names an application to a person: its acceptance number, or (a draft) its business and the day
    it was made; never its internal id."""
    if app.acceptance_no:
        return app.acceptance_no
    made = china_date(app.created_at).isoformat() if app.created_at else ""
    return label("app.draft_title", lang).format(business=label(app.business, lang), date=made)


def field_errors(errors: list[Any]) -> dict[str, str]:
    """The first message for each field named by ``errors`` (marked beside that field)."""
    found: dict[str, Any] = {}
    for error in errors or ():
        name = getattr(error, "field", None)
        if name and name not in found:
            found[name] = error
    return found


def _offer_names(offers: list[Any]) -> dict[Business, Text]:
    """The names a list of offers (or of (offer, reason) pairs) shows: no two alike (core.guide.build.offer_labels)."""
    return offer_labels([o[0] if isinstance(o, tuple) else o for o in offers])


def render(request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200
           ) -> HTMLResponse:
    lang = lang_of(request)
    other = "en" if lang == "zh" else "zh"
    rulebook = web(request).services.rulebook
    base: dict[str, Any] = {
        "lang": lang, "other_lang": other,
        "switch_url": request.url.include_query_params(lang=other).path + "?"
        + str(request.url.include_query_params(lang=other).query),
        "user": current_user(request), "csrf": csrf_token(request),
        "t": lambda key, **values: t(key, lang, **values), "pick": lambda text: pick(text, lang),
        "state_name": lambda s: enum_label(AppState, s, lang),
        "business_name": lambda b: enum_label(Business, b, lang),
        "offer_names": _offer_names,
        "reason_name": lambda r: enum_label(RejectionReason, r, lang),
        "mask_id": mask_id, "mask_phone": mask_phone,
        "msg": lambda e: e.en if lang == "en" else e.zh,
        "errors": [], "outbox": outbox_open(request),
        "name_of": lambda value: label(value, lang) if value is not None else "",
        "stage_name": lambda stage: stage_label(stage, lang),
        "action_name": lambda action: action_label(action, lang),
        "app_title": lambda app: app_title(app, lang),
        "role_name": lambda role: label(f"role.{role}", lang),
        "region_name": lambda code: _region_name(rulebook, code, lang),
        "who": lambda actor: actor.split(":", 1)[-1],  # "staff:wang" -> "wang" (the audit's actor label)
        "colon": "：" if lang == "zh" else ": ",  # no ASCII punctuation inside Chinese text
        "file_kinds": lambda types: ("、" if lang == "zh" else ", ").join(file_kind(t) for t in types),
        "outlet_name": lambda region, code: _outlet_name(rulebook, region, code, lang),
        "material_name": lambda app, code: _material_name(rulebook, app, code, lang),
        "china_day": lambda moment: china_date(moment).isoformat() if moment else "",
        "china_time": lambda moment: _china_time(moment),
    }
    merged = base | (context or {})
    merged["field_errors"] = field_errors(merged.get("errors") or [])
    return TEMPLATES.TemplateResponse(request, name, merged, status_code=status)


def _outlet_name(rulebook: Any, region: str, code: str, lang: str) -> str:
    for outlet in rulebook.outlets(region):
        if outlet.code == code:
            return pick(outlet.name, lang)
    return code  # an outlet the region no longer lists: its code is all there is


def _region_name(rulebook: Any, code: str, lang: str) -> str:
    regions = rulebook.regions()
    return pick(regions[code].name, lang) if code in regions else code


def _material_name(rulebook: Any, app: Application, code: str, lang: str) -> str:
    for material in rulebook.materials(app.region, app.business):
        if material.code == code:
            return pick(material.name, lang)
    return label("app.material_unknown", lang)


def _china_time(moment: Any) -> str:
    """A stored UTC moment on China's wall clock, to the minute."""
    if moment is None:
        return ""
    return (moment.astimezone(CHINA) if moment.tzinfo else moment).strftime("%Y-%m-%d %H:%M")


__all__ = ["MAX_PAGE", "PAGE_SIZE", "TEMPLATES", "WebState", "action_label", "app_title", "error_lines", "field_errors",
           "is_loopback", "lang_of", "outbox_open", "page_number", "render", "stage_label", "web"]
