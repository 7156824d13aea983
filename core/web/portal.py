"""The enterprise portal: registration, password login, the multi-step application form, the list and
detail pages, withdraw / resubmit, uploads, attachment download and the receipt PDF.

Every read and change goes through ``ApplicationService`` with the session's Actor, so the same
authorisation rule applies as in the CLI and the API; ids in URLs are never trusted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

import attrs
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from core import ids, lifecycle
from core.errors import EportError, InvalidInput, Problems
from core.labels import pair
from core.lifecycle import EDITABLE_STATES
from core.model import (
    Application,
    AppState,
    Business,
    CardKind,
    CardRequest,
    Enterprise,
    IdType,
    MailAddress,
    Medium,
    Person,
    Pickup,
    PickupChoice,
)
from core.services import sms
from core.services.accounts import RegistrationCode, check_email, check_password, check_username
from core.web.auth import SessionUser, login, logout, require_user
from core.web.forms import address_fields, address_from, check, choice, person_fields, person_from, text
from core.web.handlers import blocking, posted_form
from core.web.i18n import t
from core.web.render import PAGE_SIZE, error_lines, lang_of, page_number, render, web
from core.web.security import check_csrf, client_address
from core.web.status import status_for

STEPS = ("enterprise", "legal", "operators", "agent", "pickup", "uploads", "preview")
RETURNED_CHECK = "returned_check"  # session flag: show the returned applications once after a login
CHECKED = "checked:"  # session key prefix: the version whose data check the enterprise confirmed
VISIBLE_STATES = [s for s in AppState if s is not AppState.DELETED]


def steps_for(business: Business) -> tuple[str, ...]:
    """The form's steps: the legal-card step only when the legal card is applied for."""
    return tuple(s for s in STEPS if s != "legal" or business is Business.ENROL)


# ---- helpers -----------------------------------------------------------------------------------------------

def _enterprise_user(request: Request) -> SessionUser:
    return require_user(request, "enterprise")


def _form(request: Request) -> Mapping[str, Any]:
    check_csrf(request)
    return posted_form(request)


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _version(form: Mapping[str, Any]) -> int | None:
    value = text(form, "version")
    return int(value) if value.isdigit() else None


# ---- registration and login ---------------------------------------------------------------------------------

def _region_choices(request: Request) -> list:
    return sorted(web(request).services.rulebook.regions().values(), key=lambda r: r.code)


@blocking
def register(request: Request) -> Response:
    state = web(request)
    regions = _region_choices(request)
    default_region = state.services.settings.regions.default or (regions[0].code if regions else "")
    context: dict[str, Any] = {"regions": regions, "form": {"region": default_region}, "id_types": list(IdType)}
    if request.method == "GET":
        return render(request, "portal/register.html", context)
    form = _form(request)
    problems: list[EportError] = []
    uscc = check(problems, "uscc", ids.validate_uscc, text(form, "uscc"), "uscc") or text(form, "uscc")
    org_code = "".join(text(form, "org_code").split()).upper().replace("-", "")
    if uscc and len(uscc) == 18 and org_code != uscc[8:17]:
        problems.append(InvalidInput("组织机构代码应为统一社会信用代码的第9至17位。",
                                     "The organisation code is characters 9 to 17 of the USCC.", field="org_code"))
    name = text(form, "name")
    if not name:
        problems.append(InvalidInput("请填写单位中文名称。", "Enter the enterprise's Chinese name.", field="name"))
    customs = ()
    if text(form, "customs_codes"):
        customs = check(problems, "customs_codes", ids.validate_customs_code, text(form, "customs_codes")) or ()
    legal_rep = person_from(form, "legal_rep", problems)
    address = address_from(form, "address", problems)
    region = text(form, "region")
    if region not in state.services.rulebook.regions():
        problems.append(InvalidInput("请选择所属分中心。", "Choose the branch centre.", field="region"))
    username = check(problems, "username", check_username, text(form, "username")) or ""
    password = form.get("password", "")
    password = password if isinstance(password, str) else ""
    check(problems, "password", check_password, password)
    if password != form.get("password2"):
        problems.append(InvalidInput("两次输入的密码不一致。", "The two passwords differ.", field="password2"))
    display_name = text(form, "display_name")
    if not display_name:
        problems.append(InvalidInput("请填写管理员姓名。", "Enter the administrator's name.", field="display_name"))
    mobile = check(problems, "mobile", ids.validate_mobile, text(form, "mobile"), "mobile") or ""
    admin_id_type = _id_type(text(form, "admin_id_type"), problems, "admin_id_type")
    admin_id = check(problems, "admin_id", ids.validate_person_id, admin_id_type, text(form, "admin_id"),
                     "admin_id") or ""
    email = check(problems, "email", check_email, text(form, "email")) or ""
    if not text(form, "sms_code"):
        problems.append(InvalidInput("请填写发送到管理员手机的短信验证码。", "Enter the SMS code sent to the "
                                     "administrator's mobile.", field="sms_code"))
    if form.get("agree") != "yes":
        problems.append(_agreement_missing())
    shown = {k: v for k, v in form.items() if isinstance(v, str) and "password" not in k and k != "sms_code"}
    if problems:
        return render(request, "portal/register.html", context | {"form": shown, "errors": problems}, status=400)
    enterprise = Enterprise(uscc=uscc, name=name, legal_rep=legal_rep, business_address=address,
                            registered_address=address, name_en=text(form, "name_en"), customs_codes=customs)
    try:
        state.services.accounts.register_enterprise(
            enterprise, username, password, region=region, display_name=display_name, mobile=mobile,
            id_number=admin_id, email=email, code=RegistrationCode(text(form, "sms_code"), state.sms, state.secret))
    except EportError as exc:
        return render(request, "portal/register.html", context | {"form": shown, "errors": error_lines(exc)},
                      status=status_for(exc))
    return _redirect("/portal/login?registered=1")


def _agreement_missing() -> InvalidInput:
    return InvalidInput("请阅读并勾选同意用户协议。", "Read the agreement and tick to accept it.", field="agree")


def _id_type(value: str, problems: list[EportError], field: str) -> IdType:
    return choice(IdType, value, IdType.RESIDENT_ID, problems, field, "请选择证件类型。", "Choose the ID type.")


@blocking
def registration_code(request: Request) -> Response:
    """POST /portal/register/code: the SMS code to the administrator's mobile; the form comes back as it was."""
    state = web(request)
    form = _form(request)
    shown = {k: v for k, v in form.items() if isinstance(v, str) and "password" not in k and k != "sms_code"}
    regions = _region_choices(request)
    context: dict[str, Any] = {"regions": regions, "form": shown, "id_types": list(IdType)}
    try:
        masked = state.services.accounts.send_registration_code(text(form, "mobile"), state.sms, state.secret,
                                                                client_address(request))
    except EportError as exc:
        return render(request, "portal/register.html", context | {"errors": error_lines(exc)},
                      status=status_for(exc))
    return render(request, "portal/register.html", context | {
        "notice": t("register.code_sent", lang_of(request), mobile=masked), "code_sent": True})


@blocking
def login_page(request: Request) -> Response:
    context: dict[str, Any] = {"form": {}, "next": request.query_params.get("next", "")}
    if request.query_params.get("registered"):
        context["notice_key"] = "register.done"
    elif request.query_params.get("reset"):
        context["notice_key"] = "reset.done"
    if request.method == "GET":
        return render(request, "portal/login.html", context)
    form = _form(request)
    state = web(request)
    password = form.get("password", "")
    try:
        user = state.services.accounts.authenticate(text(form, "username"),
                                                    password if isinstance(password, str) else "",
                                                    client_address(request), kind="enterprise")
    except EportError as exc:
        return render(request, "portal/login.html", context | {"form": {"username": text(form, "username")},
                                                               "errors": [exc]}, status=403)
    login(request, user, "password")
    request.session[RETURNED_CHECK] = True  # the next portal page says which applications came back
    target = text(form, "next")
    return _redirect(target if target.startswith("/portal") else "/portal")


@blocking
def logout_action(request: Request) -> Response:
    check_csrf(request)
    form = posted_form(request)
    logout(request, everywhere=form.get("everywhere") == "1")
    return _redirect("/")


# ---- dashboard and new applications ---------------------------------------------------------------------------

def _filters(query: Mapping[str, str], problems: list[EportError]) -> dict[str, Any]:
    """The dashboard's query: business, state and the days the application was made (each optional)."""
    chosen: dict[str, Any] = {"business": None, "states": VISIBLE_STATES, "created": None}
    business, state = query.get("business", ""), query.get("state", "")
    if business:
        try:
            chosen["business"] = Business(business)
        except ValueError:
            problems.append(InvalidInput("请选择业务。", "Choose the business.", field="business"))
    if state:
        try:
            chosen["states"] = [AppState(state)]
        except ValueError:
            problems.append(InvalidInput("请选择状态。", "Choose the state.", field="state"))
    days = []
    for field in ("created_from", "created_to"):
        value = query.get(field, "")
        try:
            days.append(date.fromisoformat(value) if value else None)
        except ValueError:
            problems.append(InvalidInput("日期格式应为 YYYY-MM-DD。", "Dates are written YYYY-MM-DD.", field=field))
            days.append(None)
    if any(days):
        chosen["created"] = (days[0], days[1])
    return chosen


@blocking
def dashboard(request: Request) -> Response:
    user = _enterprise_user(request)
    services = web(request).services
    query = request.query_params
    page = page_number(query.get("page"))
    problems: list[EportError] = []
    chosen = _filters(query, problems)
    kept = {k: query.get(k, "") for k in ("business", "state", "created_from", "created_to")}
    context: dict[str, Any] = {"filters": kept, "businesses": [o.business for o in services.rulebook.offers(user.region)],
                               "states": VISIBLE_STATES, "page": page, "apps": [], "more": False,
                               "returned": _returned_after_login(request, user)}
    if not problems:
        try:
            apps = services.applications.list_for(user.actor(), chosen["states"], limit=PAGE_SIZE + 1,
                                                  offset=(page - 1) * PAGE_SIZE, business=chosen["business"],
                                                  created=chosen["created"], order="created")
        except InvalidInput as exc:
            problems.append(exc)
        else:
            context |= {"apps": apps[:PAGE_SIZE], "more": len(apps) > PAGE_SIZE}
    context["page_url"] = lambda n: "/portal?" + urlencode({k: v for k, v in (kept | {"page": n}).items() if v})
    return render(request, "portal/dashboard.html", context | {"errors": problems}, status=400 if problems else 200)


def _returned_after_login(request: Request, user: SessionUser) -> list[Application]:
    """Once after each login: the enterprise's applications that were returned (退单), for the pop-up."""
    if not request.session.pop(RETURNED_CHECK, False):
        return []
    return web(request).services.applications.list_for(user.actor(), [AppState.REJECTED], limit=20)


@blocking
def new_application(request: Request) -> Response:
    """Choose a business; what this session may not start is shown with the reason (the legal-card rule:
    a password login enrols, an enterprise holding its legal card logs in with it for the rest)."""
    user = _enterprise_user(request)
    applications = web(request).services.applications
    card_login = user.auth_method == "card"
    offers = applications.offers_for(user.actor(), card_login)
    if request.method == "GET":
        return render(request, "portal/new.html", {"offers": offers})
    form = _form(request)
    try:
        created = applications.start(user.actor(), text(form, "business"), card_login)
    except InvalidInput as exc:
        if exc.field != "business":
            raise
        return render(request, "portal/new.html", {"offers": offers, "errors": [exc]}, status=400)
    return _redirect(f"/portal/apps/{created.id}/step/enterprise")


# ---- the multi-step form -----------------------------------------------------------------------------------------

def _step_context(request: Request, app: Application, step: str) -> dict[str, Any]:
    services = web(request).services
    rulebook = services.rulebook
    context: dict[str, Any] = {"app": app, "step": step, "steps": steps_for(app.business), "form": {},
                               "id_types": list(IdType), "media": list(Medium)}
    if step == "enterprise":
        context["form"] = {"name": app.enterprise.name, "name_en": app.enterprise.name_en,
                           "customs_codes": app.enterprise.customs_code_text,
                           **address_fields(app.enterprise.business_address, "address")}
    elif step == "legal":
        legal = app.legal_items[0] if app.legal_items else None
        context["legal"] = legal
        context["form"] = {"legal.phone": (legal.holder.phone if legal else "") or app.enterprise.legal_rep.phone,
                           "legal.medium": legal.medium.value if legal else Medium.IC_CARD.value}
    elif step == "operators":
        edit = request.query_params.get("edit", "")
        rows = list(enumerate(app.items))
        context["rows"] = [(i, item) for i, item in rows if item.kind is not CardKind.LEGAL]
        context["known"] = services.applications.known_operators(app.id, _enterprise_user(request).actor())
        # The national system asks first whether operator cards are wanted with the enrolment.
        context["ask"] = (app.business is Business.ENROL and not context["rows"] and not edit
                          and not request.query_params.get("add"))
        context["kinds"] = [CardKind.OPERATOR, CardKind.DECLARANT] + \
            ([CardKind.LEGAL] if app.business is not Business.ENROL else [])
        if edit.isdigit() and int(edit) < len(app.items):
            item = app.items[int(edit)]
            context["form"] = person_fields(item.holder, "holder") | {
                "index": edit, "kind": item.kind.value, "medium": item.medium.value, "device_no": item.device_no,
                "declarant_no": item.declarant_no}
    elif step == "agent":
        agent = app.agent
        choice = "other"
        if agent is None or agent.id_number == app.enterprise.legal_rep.id_number:
            choice = "legal_rep"
        else:
            for i, item in enumerate(app.items):
                if item.holder.id_number == agent.id_number:
                    choice = f"operator:{i}"
        context["choice"] = choice
        context["operators"] = [(i, item) for i, item in enumerate(app.items) if item.kind is not CardKind.LEGAL]
        context["form"] = person_fields(agent, "other") if choice == "other" else {}
        context["form"]["agent_phone"] = (agent.phone if agent else "") or app.enterprise.legal_rep.phone
    elif step == "pickup":
        context["outlets"] = rulebook.outlets(app.region)
        context["centres"] = rulebook.making_centres(app.region)
        context["courier"] = rulebook.courier(app.region, app.business)
        mail = app.pickup.mail_to
        context["form"] = {"method": app.pickup.method.value, "outlet": app.pickup.outlet,
                           "making_centre": app.making_centre, "remarks": app.remarks,
                           "recipient": mail.recipient if mail else app.enterprise.legal_rep.name,
                           "mail_phone": mail.phone if mail else app.enterprise.legal_rep.phone,
                           "mail_address": mail.address if mail else str(app.enterprise.business_address)}
        context["hints"] = [p for p in rulebook.validate(app.region, app)
                            if p.field.startswith(("remarks", "pickup", "making_centre"))]
    elif step == "uploads":
        context["materials"] = rulebook.materials(app.region, app.business, app)
        context["policy"] = rulebook.upload(app.region, app.business)
        context["limit"] = min(context["policy"].max_bytes, services.settings.storage.max_upload_bytes)
    elif step == "preview":
        context["problems"] = services.applications.preflight(app)
        context["dues"] = services.applications.deadlines(app)
        context["checked"] = _checked(request, app)
    return context


def _checked(request: Request, app: Application) -> bool:
    """Whether the enterprise pressed "确认无误" on the data check of this very version."""
    return request.session.get(f"{CHECKED}{app.id}") == app.version


def _load_editable(request: Request, app_id: str) -> tuple[SessionUser, Application]:
    user = _enterprise_user(request)
    app = web(request).services.applications.get(app_id, user.actor())
    return user, app


def _parse_step(app: Application, step: str, form: Mapping[str, Any], problems: list[EportError],
                request: Request) -> dict[str, Any]:
    """The changes a step's form makes to the application (problems are collected, not raised)."""
    if step == "enterprise":
        customs: tuple[str, ...] = ()
        if text(form, "customs_codes"):
            customs = check(problems, "customs_codes", ids.validate_customs_code, text(form, "customs_codes")) or ()
        address = address_from(form, "address", problems)
        name = text(form, "name") or app.enterprise.name
        return {"enterprise": attrs.evolve(app.enterprise, name=name, name_en=text(form, "name_en"),
                                           customs_codes=customs, business_address=address)}
    if step == "legal":
        phone = check(problems, "legal.phone", ids.validate_mobile, text(form, "legal.phone"), "legal.phone") or ""
        medium = _medium(form.get("legal.medium"), problems, "legal.medium")
        holder = attrs.evolve(app.enterprise.legal_rep, phone=phone)
        legal = CardRequest(kind=CardKind.LEGAL, holder=holder, medium=medium)
        others = tuple(i for i in app.items if i.kind is not CardKind.LEGAL)
        return {"items": (legal, *others)}
    if step == "operators":
        return _operator_change(app, form, problems, request)
    if step == "agent":
        choice = text(form, "agent")
        phone = check(problems, "agent_phone", ids.validate_mobile, text(form, "agent_phone"), "agent_phone") or ""
        if choice == "legal_rep":
            agent: Person = app.enterprise.legal_rep
        elif choice.startswith("operator:") and choice[9:].isdigit() and int(choice[9:]) < len(app.items):
            agent = app.items[int(choice[9:])].holder
        elif choice == "other":
            agent = person_from(form, "other", problems)
        else:
            problems.append(InvalidInput("请选择经办人。", "Choose the agent.", field="agent"))
            return {}
        return {"agent": attrs.evolve(agent, phone=phone or agent.phone)}
    if step == "pickup":
        try:
            method = Pickup(text(form, "method") or Pickup.COUNTER.value)
        except ValueError:
            problems.append(InvalidInput("请选择取卡方式。", "Choose how to receive the cards.", field="method"))
            return {}
        # The service accepts only the application's own region's outlets and making centres.
        outlet, centre = text(form, "outlet"), text(form, "making_centre")
        mail = None
        if method is Pickup.MAIL:
            phone = check(problems, "mail_phone", ids.validate_mobile, text(form, "mail_phone"), "mail_phone") or ""
            if not text(form, "recipient") or not text(form, "mail_address"):
                problems.append(InvalidInput("邮寄须填写收件人和收件地址。", "Mail needs a recipient and an address.",
                                             field="mail_address"))
            mail = MailAddress(text(form, "recipient"), phone, text(form, "mail_address"))
        return {"pickup": PickupChoice(method=method, outlet=outlet, mail_to=mail), "remarks": text(form, "remarks"),
                "making_centre": centre}
    return {}


def _medium(value: Any, problems: list[EportError], field: str) -> Medium:
    return choice(Medium, value, Medium.IC_CARD, problems, field, "请选择介质。", "Choose the medium.")


def _operator_change(app: Application, form: Mapping[str, Any], problems: list[EportError], request: Request
                     ) -> dict[str, Any]:
    """Row operations: add / replace (saved as 暂存, unconfirmed), pick one named before, confirm, delete."""
    items = list(app.items)
    op = text(form, "op")
    if op.startswith("pick:"):  # an operator named before, without a card: added as a confirmed row
        known = web(request).services.applications.known_operators(app.id, _enterprise_user(request).actor())
        index = op.split(":", 1)[1]
        if not index.isdigit() or int(index) >= len(known):
            problems.append(InvalidInput("没有这位操作员。", "No such operator.", field="op"))
            return {}
        items.append(CardRequest(kind=CardKind.OPERATOR, holder=known[int(index)], confirmed=True))
        return {"items": tuple(items)}
    if op.startswith(("confirm:", "remove:")):
        index = op.split(":", 1)[1]
        if not index.isdigit() or int(index) >= len(items) or (items[int(index)].kind is CardKind.LEGAL \
                and app.business is Business.ENROL):
            problems.append(InvalidInput("没有这一行。", "No such row.", field="op"))
            return {}
        if op.startswith("confirm:"):
            items[int(index)] = attrs.evolve(items[int(index)], confirmed=True)
        else:
            del items[int(index)]
        return {"items": tuple(items)}
    if op != "save_row":
        return {}
    try:
        kind = CardKind(text(form, "kind") or CardKind.OPERATOR.value)
    except ValueError:
        problems.append(InvalidInput("请选择卡类型。", "Choose the card type.", field="kind"))
        return {}
    holder = person_from(form, "holder", problems)
    device_no = text(form, "device_no")
    if device_no:
        # Format only (13 digits); whether an 89-prefixed stand-in is acceptable is the region's rule,
        # checked by its validate_application at preview and submission (Hangzhou states it).
        device_no = check(problems, "device_no", ids.validate_device_no, device_no, "device_no",
                          True) or device_no
    row = CardRequest(kind=kind, holder=holder, medium=_medium(form.get("medium"), problems, "medium"),
                      device_no=device_no, declarant_no=text(form, "declarant_no"), confirmed=False)
    index = text(form, "index")
    if index.isdigit() and int(index) < len(items):
        items[int(index)] = row
    else:
        items.append(row)
    return {"items": tuple(items)}


@blocking
def step_page(request: Request) -> Response:
    app_id, step = request.path_params["app_id"], request.path_params["step"]
    user, app = _load_editable(request, app_id)
    if step not in steps_for(app.business):
        raise InvalidInput("没有这一步。", "No such step.", field="step")
    if app.state not in EDITABLE_STATES:
        return _redirect(f"/portal/apps/{app.id}")
    if request.method == "GET":
        return render(request, "portal/step.html", _step_context(request, app, step)
                      | {"notice": _notice(request)})
    form = _form(request)
    if step == "uploads":
        return _upload(request, user, app, form)
    problems: list[EportError] = []
    changes = _parse_step(app, step, form, problems, request)
    if problems:
        shown = {k: v for k, v in form.items() if isinstance(v, str)}
        return render(request, "portal/step.html", _step_context(request, app, step)
                      | {"form": shown, "errors": problems}, status=400)
    services = web(request).services
    if changes:
        try:
            app = services.applications.edit(app.id, user.actor(), expected_version=_version(form), **changes)
        except EportError as exc:
            return render(request, "portal/step.html", _step_context(request, app, step)
                          | {"errors": error_lines(exc)}, status=400 if isinstance(exc, InvalidInput) else 409)
    if text(form, "action") == "next":
        order = steps_for(app.business)
        following = order[min(order.index(step) + 1, len(order) - 1)]
        return _redirect(f"/portal/apps/{app.id}/step/{following}")
    return _redirect(f"/portal/apps/{app.id}/step/{step}?saved=1")


def _notice(request: Request) -> str:
    lang = lang_of(request)
    if request.query_params.get("saved"):
        return t("saved", lang)
    if request.query_params.get("sent_to"):
        return f"{t('preview.code_sent', lang)} {request.query_params['sent_to']}"
    if request.query_params.get("checked"):
        return t("check.confirmed", lang)
    return ""


def _upload(request: Request, user: SessionUser, app: Application, form: Mapping[str, Any]) -> Response:
    upload = form.get("file")
    material = text(form, "material")
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput("请选择要上传的文件。", "Choose a file to upload.", field="attachment")
        # Read at most one byte over the limit: an oversize file is refused without holding it all.
        services = web(request).services
        limit = services.settings.storage.max_upload_bytes
        content = upload.file.read(limit + 1)
        services.applications.attach(app.id, material, upload.filename, content, user.actor())
    except EportError as exc:
        return render(request, "portal/step.html", _step_context(request, app, "uploads")
                      | {"errors": error_lines(exc)}, status=400)
    return _redirect(f"/portal/apps/{app.id}/step/uploads?saved=1")


# ---- SMS code and submission -------------------------------------------------------------------------------------

@blocking
def send_code(request: Request) -> Response:
    form = _form(request)
    user, app = _load_editable(request, request.path_params["app_id"])
    del form
    state = web(request)
    try:  # to the agent's mobile of this application, whatever the form carries
        masked = state.services.applications.send_submission_code(
            app.id, user.actor(), state.sms, state.secret, sms.Asker(user.actor().label, client_address(request)))
    except EportError as exc:
        return render(request, "portal/step.html", _step_context(request, app, "preview")
                      | {"errors": error_lines(exc)}, status=status_for(exc))
    return _redirect(f"/portal/apps/{app.id}/step/preview?sent_to={quote(masked)}")


@blocking
def data_check(request: Request) -> Response:
    """POST /portal/apps/{id}/check: "确认无误" on the data check, for the version shown (a later edit
    needs a new check); then the SMS code and the submission."""
    form = _form(request)
    _user, app = _load_editable(request, request.path_params["app_id"])
    if app.state not in EDITABLE_STATES:
        return _redirect(f"/portal/apps/{app.id}")
    if _version(form) != app.version:
        exc = InvalidInput("申请单已修改，请重新核对。", "The application changed; check it again.", field="check")
        return render(request, "portal/step.html", _step_context(request, app, "preview") | {"errors": [exc]},
                      status=409)
    request.session[f"{CHECKED}{app.id}"] = app.version
    return _redirect(f"/portal/apps/{app.id}/step/preview?checked=1")


@blocking
def submit(request: Request) -> Response:
    form = _form(request)
    user, app = _load_editable(request, request.path_params["app_id"])
    services = web(request).services
    state = web(request)
    problems: list[EportError] = []
    if not _checked(request, app):
        problems.append(InvalidInput(*pair("check.first"), field="check"))
    if form.get("declaration") != "yes":
        problems.append(InvalidInput("请阅读并勾选承诺声明。", "Read and tick the declaration.", field="declaration"))
    if app.state not in EDITABLE_STATES:
        return _redirect(f"/portal/apps/{app.id}")
    problems += services.applications.preflight(app)
    if not problems:
        try:
            app = services.applications.submit_with_code(app.id, user.actor(), text(form, "sms_code"), state.sms,
                                                         state.secret, expected_version=_version(form))
        except Problems as exc:
            problems += exc.problems
        except EportError as exc:
            problems.append(exc)
    if problems:
        return render(request, "portal/step.html", _step_context(request, app, "preview") | {"errors": problems},
                      status=400)
    return _redirect(f"/portal/apps/{app.id}?submitted=1")


# ---- detail, withdraw, delete, attachments, receipt ---------------------------------------------------------

@blocking
def detail(request: Request) -> Response:
    user = _enterprise_user(request)
    services = web(request).services
    app = services.applications.get(request.path_params["app_id"], user.actor())
    attachments = services.applications.attachments_of(app.id, user.actor())
    archived = services.applications.attachments_archived(app)
    done = request.query_params.get("done", "")
    return render(request, "portal/detail.html", {
        "app": app, "attachments": attachments, "archived": archived, "dues": services.applications.deadlines(app),
        "editable": app.state in EDITABLE_STATES, "steps": steps_for(app.business),
        "history": lifecycle.history_stages(app), "receipt": _has_receipt(app),
        "submitted": bool(request.query_params.get("submitted")), "done": done if done in ("withdraw",) else ""})


def _has_receipt(app: Application) -> bool:
    """A receipt stands for a lodged application: a withdrawn draft keeps its number but has none."""
    return bool(app.acceptance_no) and app.state not in (AppState.DRAFT, AppState.DELETED)


def _confirmed(form: Mapping[str, Any]) -> None:
    if form.get("confirm") != "yes":
        raise InvalidInput("请勾选确认后再提交。", "Tick the confirmation box first.", field="confirm")


@blocking
def withdraw(request: Request) -> Response:
    form = _form(request)
    user = _enterprise_user(request)
    services = web(request).services
    services.applications.get(request.path_params["app_id"], user.actor())  # someone else's: refused first
    _confirmed(form)
    app = services.applications.withdraw(request.path_params["app_id"], user.actor(),
                                         note=text(form, "note"), expected_version=_version(form))
    return _redirect(f"/portal/apps/{app.id}?done=withdraw")


@blocking
def delete(request: Request) -> Response:
    form = _form(request)
    user = _enterprise_user(request)
    services = web(request).services
    services.applications.get(request.path_params["app_id"], user.actor())  # someone else's: refused first
    _confirmed(form)
    services.applications.delete(request.path_params["app_id"], user.actor(), expected_version=_version(form))
    return _redirect("/portal?done=delete")


def content_disposition(filename: str) -> str:
    ascii_name = "".join(c if (c.isascii() and c.isalnum()) or c in "._-" else "_" for c in filename) or "file"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


@blocking
def attachment(request: Request) -> Response:
    user = _enterprise_user(request)
    att, content = web(request).services.applications.attachment(request.path_params["att_id"], user.actor())
    return Response(content, media_type=att.media_type, headers={
        "Content-Disposition": content_disposition(att.filename), "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store"})


@blocking
def receipt(request: Request) -> Response:
    from core.web.receipt import receipt_pdf

    user = _enterprise_user(request)
    services = web(request).services
    app = services.applications.get(request.path_params["app_id"], user.actor())
    if not _has_receipt(app):
        raise InvalidInput("申请单提交后才有受理回执（撤回后须重新提交）。",
                           "A receipt exists once the application is submitted (again, after a withdrawal).",
                           field="state")
    pdf = receipt_pdf(app, services.rulebook, services.settings.web.base_url, services.clock())
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": content_disposition(f"receipt-{app.acceptance_no}.pdf"),
        "Cache-Control": "private, no-store"})


routes: list[BaseRoute] = [
    Route("/portal/register", register, methods=["GET", "POST"], name="register"),
    Route("/portal/register/code", registration_code, methods=["POST"], name="register_code"),
    Route("/portal/login", login_page, methods=["GET", "POST"], name="login"),
    Route("/logout", logout_action, methods=["POST"], name="logout"),
    Route("/portal", dashboard, name="dashboard"),
    Route("/portal/apps/new", new_application, methods=["GET", "POST"], name="new_application"),
    Route("/portal/apps/{app_id}", detail, name="application"),
    Route("/portal/apps/{app_id}/step/{step}", step_page, methods=["GET", "POST"], name="step"),
    Route("/portal/apps/{app_id}/sms", send_code, methods=["POST"], name="send_code"),
    Route("/portal/apps/{app_id}/check", data_check, methods=["POST"], name="data_check"),
    Route("/portal/apps/{app_id}/submit", submit, methods=["POST"], name="submit"),
    Route("/portal/apps/{app_id}/withdraw", withdraw, methods=["POST"], name="withdraw"),
    Route("/portal/apps/{app_id}/delete", delete, methods=["POST"], name="delete"),
    Route("/portal/apps/{app_id}/receipt.pdf", receipt, name="receipt"),
    Route("/portal/attachments/{att_id}", attachment, name="attachment"),
]

__all__ = ["STEPS", "content_disposition", "routes", "steps_for"]
