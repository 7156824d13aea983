"""Web test helpers: the app over a real store, registration, portal steps, CSRF."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import uvicorn
from clocks import Clock
from starlette.testclient import TestClient

from core.calendar import WorkCalendar
from core.config import Settings, SmsSettings, StorageSettings, WebSettings
from core.model import Pickup
from core.plugins import get_plugin_manager
from core.rulebook import Rulebook
from core.samples import make_enrol, make_enterprise
from core.services import Actor, Services
from core.services.accounts import create_user
from core.web.app import create_app

PASSWORD = "Passw0rd!x"
MAX_UPLOAD = 64 * 1024
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')




def make_services(store, tmp_path: Path, clock: Clock) -> Services:
    """Development mode with the outbox SMS gateway (tests read the codes from the outbox table)."""
    settings = attrs.evolve(
        Settings(root=str(tmp_path)), storage=StorageSettings(max_upload_bytes=MAX_UPLOAD),
        web=WebSettings(secret_key="test-secret-key", login_attempts=3, base_url="http://testserver",
                        development=True), sms=SmsSettings(gateway="outbox"))
    pm = get_plugin_manager(enabled=["shenzhen", "changchun"])
    return Services(settings=settings, store=store, rulebook=Rulebook(pm), calendar=WorkCalendar(), clock=clock)


def csrf_of(client: TestClient, path: str = "/portal/login") -> str:
    """The session's CSRF token as a page's form carries it (the login page always has a form)."""
    page = client.get(path)
    match = CSRF_RE.search(page.text) or CSRF_RE.search(client.get("/portal/login").text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def post(client: TestClient, path: str, data: dict | None = None, files=None, token_from: str | None = None):
    token = csrf_of(client, token_from or path)
    data = dict(data or {})
    if path.split("?")[0] == "/portal/register" and "sms_code" not in data and data.get("mobile"):
        data["sms_code"] = registration_code(client, data["mobile"])
    return client.post(path, data={"csrf_token": token, **data}, files=files, follow_redirects=False)


def registration_code(client: TestClient, mobile: str) -> str:
    """The SMS code registration asks for, sent to ``mobile`` through the page's "send the code" button and
    read from the development outbox of the client's app (a code sent within the last minute is reused:
    the page refuses to send another so soon)."""
    from core.services.accounts import REGISTER_PURPOSE
    from core.store.accounts import SmsOutbox

    token = csrf_of(client, "/portal/register")
    client.post("/portal/register/code", data={"csrf_token": token, "mobile": mobile}, follow_redirects=False)
    services = client.app.state.web.services  # type: ignore[attr-defined]
    with services.store.transaction(readonly=True) as tx:
        sent = SmsOutbox(tx).latest(REGISTER_PURPOSE, mobile)
    match = re.search(r"验证码为(\d{6})", sent.text) if sent else None
    return match.group(1) if match else ""  # none sent (a bad number): the page says what is wrong


def registration(n: int = 1, region: str = "shenzhen", username: str | None = None) -> dict[str, str]:
    """A complete, valid registration form for sample enterprise ``n``."""
    e = make_enterprise(n, region)
    rep = e.legal_rep
    return {
        "uscc": e.uscc, "org_code": e.uscc[8:17], "name": e.name, "customs_codes": e.customs_code_text,
        "address.province": e.business_address.province, "address.city": e.business_address.city,
        "address.district": e.business_address.district, "address.detail": e.business_address.detail,
        "region": region, "legal_rep.name": rep.name, "legal_rep.id_type": "resident_id",
        "legal_rep.id_number": rep.id_number, "legal_rep.id_valid_from": "20200101",
        "legal_rep.id_valid_to": "00000000", "legal_rep.nationality": "CHN", "legal_rep.phone": rep.phone,
        "username": username or f"ent{n}", "password": PASSWORD, "password2": PASSWORD,
        "display_name": "管理员", "mobile": "13800000000", "admin_id_type": "resident_id",
        "admin_id": rep.id_number, "email": f"admin{n}@example.com", "agree": "yes",
    }


def register_and_login(client: TestClient, n: int = 1, region: str = "shenzhen") -> dict[str, str]:
    form = registration(n, region)
    made = post(client, "/portal/register", form)
    assert made.status_code == 303, made.text
    logged = post(client, "/portal/login", {"username": form["username"], "password": PASSWORD})
    assert logged.status_code == 303 and logged.headers["location"] == "/portal"
    return form


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 256


def last_code(services: Services, mobile: str) -> str:
    """The code the development SMS gateway 'sent' to ``mobile`` (read from the outbox, as the demo does)."""
    from core.store.accounts import SmsOutbox

    with services.store.transaction(readonly=True) as tx:
        messages = [m for m in SmsOutbox(tx).recent(20) if m.mobile == mobile]
    assert messages, f"no SMS to {mobile}"
    match = re.search(r"验证码为(\d{6})", messages[0].text)
    assert match
    return match.group(1)


def fill_enrolment(client: TestClient, services: Services, operator_n: int = 2) -> str:
    """Start an enrolment and fill every step (one confirmed operator, agent = legal rep); returns its id."""
    from core.samples import make_person

    made = post(client, "/portal/apps/new", {"business": "enrol"})
    assert made.status_code == 303, made.text
    app_id = made.headers["location"].split("/")[3]
    base = f"/portal/apps/{app_id}/step"
    ok = post(client, f"{base}/enterprise", {
        "name": "深圳示例贸易有限公司1", "customs_codes": "4403961234", "address.province": "广东省",
        "address.city": "深圳市", "address.district": "福田区", "address.detail": "示例路1号", "action": "next"})
    assert ok.status_code == 303, ok.text
    assert post(client, f"{base}/legal", {"legal.phone": "13900000001", "legal.medium": "ic_card",
                                          "action": "next"}).status_code == 303
    op = make_person(operator_n, "440304")
    row = {"op": "save_row", "kind": "operator", "holder.name": op.name, "holder.id_type": "resident_id",
           "holder.id_number": op.id_number, "holder.id_valid_from": "20200101", "holder.id_valid_to": "00000000",
           "holder.phone": op.phone, "medium": "ic_card"}
    assert post(client, f"{base}/operators", row).status_code == 303
    app = services.applications.get(app_id, actor_for(services, app_id))
    index = len(app.items) - 1
    assert post(client, f"{base}/operators", {"op": f"confirm:{index}"}).status_code == 303
    assert post(client, f"{base}/agent", {"agent": "legal_rep", "agent_phone": "13900000001",
                                          "action": "next"}).status_code == 303
    assert post(client, f"{base}/pickup", {"method": "counter", "outlet": "shenzhen_east_hall",
                                           "remarks": "", "action": "next"}).status_code == 303
    return app_id


def actor_for(services: Services, app_id: str):
    from core.services import Actor

    return Actor.system("test")


def check_data(client: TestClient, services: Services, app_id: str) -> None:
    """"确认无误" on the preview's data check (the version on show), as the submission requires."""
    version = services.applications.get(app_id, Actor.system("test")).version
    checked = post(client, f"/portal/apps/{app_id}/check", {"version": str(version)},
                   token_from=f"/portal/apps/{app_id}/step/preview")
    assert checked.status_code == 303, checked.text


def submit_via_portal(client: TestClient, services: Services, app_id: str):
    check_data(client, services, app_id)
    assert post(client, f"/portal/apps/{app_id}/sms", token_from=f"/portal/apps/{app_id}/step/preview"
                ).status_code == 303
    code = last_code(services, "13900000001")
    return post(client, f"/portal/apps/{app_id}/submit", {"declaration": "yes", "sms_code": code},
                token_from=f"/portal/apps/{app_id}/step/preview")


# ---- the JSON API as a client sees it ----------------------------------------------------------------------

SYSTEM = Actor.system("test")


def api_client(services: Services, username: str, app=None) -> tuple[TestClient, dict[str, str]]:
    """A client logged in as ``username`` (on ``app``, or on an app of its own) and its CSRF header."""
    client = TestClient(app or create_app(services), base_url="http://testserver")
    reply = client.post("/api/session", json={"username": username, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return client, {"X-CSRF-Token": reply.json()["csrf_token"]}


def enterprise(services: Services, n: int) -> tuple[TestClient, dict[str, str]]:
    e = make_enrol(n).enterprise
    with services.store.transaction() as tx:
        if tx.enterprises.get(e.uscc) is None:
            tx.enterprises.save(e)
    create_user(services, f"ent{n}", PASSWORD, "enterprise", uscc=e.uscc, region="shenzhen", mobile="13800000000")
    return api_client(services, f"ent{n}")


def staff(services: Services, roles: list[str], region: str = "shenzhen",
          app=None) -> tuple[TestClient, dict[str, str]]:
    name = f"{region}-{'-'.join(roles)}"
    create_user(services, name, PASSWORD, "staff", region=region, roles=roles)
    return api_client(services, name, app)


def draft(services: Services, n: int, region: str = "shenzhen", pickup: Pickup = Pickup.COUNTER) -> str:
    return services.applications.create(make_enrol(n, region, pickup=pickup), SYSTEM).id


def submitted(services: Services, n: int, region: str = "shenzhen", pickup: Pickup = Pickup.COUNTER) -> str:
    return services.applications.submit(draft(services, n, region, pickup), SYSTEM).id


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(app, port: int) -> Iterator[None]:
    """``app`` under a real uvicorn on 127.0.0.1:``port``, in a thread, configured as `eportcard serve`
    runs it (our logging, no uvicorn access lines, forwarded headers left to the app)."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                                           lifespan="off", proxy_headers=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.05)
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)
