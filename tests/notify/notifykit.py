"""Notification test kit: services with real gateways, a Tencent Cloud SMS stand-in and a real SMTP server.

``TencentStandIn`` is an HTTP server on 127.0.0.1 that checks each request as Tencent Cloud documents
it, independently of the SDK: the TC3-HMAC-SHA256 signature (签名方法 v3,
https://cloud.tencent.com/document/api/382/52072: canonical request, string to sign, the key derived
from "TC3" + SecretKey through the date, the service and "tc3_request") and SendSms 2021-01-11
(https://cloud.tencent.com/document/api/382/55981: PhoneNumberSet in E.164, SmsSdkAppId, SignName,
TemplateId, TemplateParamSet), and answers as the API does (SendStatusSet, or Response.Error).

``SmtpServer`` is aiosmtpd (a real SMTP server) with STARTTLS or implicit TLS on a throwaway
certificate made by the openssl CLI, and AUTH required.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import ssl
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from openssl_cli import openssl

from core.calendar import WorkCalendar
from core.config import MailSettings, NotifySettings, Settings, SmsSettings, WebSettings
from core.plugins import get_plugin_manager
from core.rulebook import Rulebook
from core.services import Actor, Services
from core.store.notify import NewMessage, Outbox

SECRET_ID = "AKIDeportcardTEST0000000000000000"
SECRET_KEY = "eportcard-test-secret-key-000000"
SDK_APP_ID = "1400000001"
SIGN_NAME = "电子口岸"
TEMPLATES = {"application_returned": "2000001", "shipped": "2000002", "renewal_reminder": "2000003",
             "application_accepted": "2000004", "ready_for_pickup": "2000005", "completed": "2000006",
             "card_locked": "2000007", "certificate_renewed": "2000008", "card_frozen": "2000009",
             "card_reported_lost": "2000010", "verification_code": "2000011"}
SMTP_USER, SMTP_PASSWORD = "eportcard", "smtp-pass-word-1"
ENTERPRISE_MOBILE = "13800000001"
ENTERPRISE_EMAIL = "ops@example.com"
STAFF = Actor(id="rev", kind="staff", region="shenzhen", roles=frozenset({"branch_admin"}))


def ent(uscc: str) -> Actor:
    return Actor(id="admin", kind="enterprise", uscc=uscc)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ---- Tencent Cloud SMS stand-in -----------------------------------------------------------------------------

def tc3_signature(secret_key: str, date: str, service: str, string_to_sign: str) -> str:
    def mac(key: bytes, text: str) -> bytes:
        return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()

    secret_date = mac(("TC3" + secret_key).encode("utf-8"), date)
    secret_signing = mac(mac(secret_date, service), "tc3_request")
    return hmac.new(secret_signing, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


class TencentStandIn:
    """``mode``: "ok"; "down" (HTTP 503, as a gateway in front of a dead service); or an error code that
    SendStatusSet carries (e.g. "InvalidParameterValue.IncorrectPhoneNumber")."""

    def __init__(self, secret_key: str = SECRET_KEY) -> None:
        self.secret_key = secret_key
        self.mode = "ok"
        self.accepted: list[dict[str, Any]] = []  # SendSms bodies that passed every check
        self.refused: list[str] = []  # why a request failed a check
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.endpoint = f"127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> TencentStandIn:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def check(self, method: str, path: str, headers: Any, body: bytes) -> str | None:
        """The first way the request departs from Tencent's documentation, or None."""
        auth = headers.get("Authorization", "")
        algorithm, _, rest = auth.partition(" ")
        fields = dict(part.strip().split("=", 1) for part in rest.split(",") if "=" in part)
        try:
            secret_id, date, service, terminator = fields["Credential"].split("/")
        except (KeyError, ValueError):
            return "AuthFailure.SignatureFailure: malformed Authorization"
        timestamp = headers.get("X-TC-Timestamp", "")
        if algorithm != "TC3-HMAC-SHA256" or terminator != "tc3_request" or service != "sms":
            return f"AuthFailure.SignatureFailure: algorithm {algorithm}, scope {service}/{terminator}"
        if secret_id != SECRET_ID:
            return "AuthFailure.SecretIdNotFound"
        if datetime.fromtimestamp(int(timestamp or 0), UTC).strftime("%Y-%m-%d") != date:
            return "AuthFailure.SignatureFailure: the credential date is not the timestamp's UTC date"
        if fields.get("SignedHeaders") != "content-type;host":
            return f"AuthFailure.SignatureFailure: signed headers {fields.get('SignedHeaders')}"
        canonical = "\n".join([method, path, "", f"content-type:{headers['Content-Type']}\nhost:{headers['Host']}\n",
                               "content-type;host", hashlib.sha256(body).hexdigest()])
        to_sign = "\n".join(["TC3-HMAC-SHA256", timestamp, f"{date}/sms/tc3_request",
                             hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
        if not hmac.compare_digest(tc3_signature(self.secret_key, date, "sms", to_sign), fields.get("Signature", "")):
            return "AuthFailure.SignatureFailure: the signature does not match"
        if (headers.get("X-TC-Action"), headers.get("X-TC-Version")) != ("SendSms", "2021-01-11"):
            return f"InvalidAction: {headers.get('X-TC-Action')} {headers.get('X-TC-Version')}"
        if not headers.get("X-TC-Region"):
            return "MissingParameter: X-TC-Region"
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                request_id = str(uuid.uuid4())
                if stand_in.mode == "down":
                    self._answer(503, {"message": "service unavailable"})
                    return
                problem = stand_in.check("POST", self.path, self.headers, body)
                if problem:
                    stand_in.refused.append(problem)
                    code, _, message = problem.partition(": ")
                    self._answer(200, {"Response": {"Error": {"Code": code, "Message": message or code},
                                                    "RequestId": request_id}})
                    return
                sent = json.loads(body)
                stand_in.accepted.append(sent)
                ok = stand_in.mode == "ok"
                self._answer(200, {"Response": {"SendStatusSet": [{
                    "SerialNo": f"2645:{len(stand_in.accepted)}", "PhoneNumber": sent["PhoneNumberSet"][0], "Fee": 1,
                    "SessionContext": sent.get("SessionContext", ""), "Code": "Ok" if ok else stand_in.mode,
                    "Message": "send success" if ok else "refused", "IsoCode": "CN"}], "RequestId": request_id}})

        return Handler


def tencent_options(endpoint: str, secret_key_file: str = "tencent.key") -> dict[str, Any]:
    return {"secret_id": SECRET_ID, "sdk_app_id": SDK_APP_ID, "sign_name": SIGN_NAME, "templates": dict(TEMPLATES),
            "endpoint": endpoint, "protocol": "http", "timeout_seconds": 5, "secret_key_file": secret_key_file}


# ---- SMTP: aiosmtpd with TLS and AUTH ---------------------------------------------------------------------------

def throwaway_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, made by the openssl CLI."""
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", key, "-out", cert)
    return cert, key


class _Collect:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes, bool]] = []  # (mail from, rcpt tos, data, over TLS)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        over_tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content, over_tls))
        return "250 Message accepted for delivery"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(), SMTP_PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


class SmtpServer:
    def __init__(self, folder: Path, implicit_tls: bool = False) -> None:
        self.cert, key = throwaway_certificate(folder)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, key)
        self.handler = _Collect()
        self.port = free_port()
        # Implicit TLS: the whole connection is TLS, which aiosmtpd's AUTH check (made for STARTTLS) does not see.
        tls = ({"ssl_context": context, "auth_require_tls": False} if implicit_tls
               else {"tls_context": context, "require_starttls": True})
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, auth_required=True,
                                     authenticator=_authenticate, **tls)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def parsed(self) -> list[EmailMessage]:
        return [message_from_bytes(data, policy=policy.default) for _f, _t, data, _tls in self.handler.messages]


def smtp_options(server: SmtpServer, security: str = "starttls") -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": server.port, "security": security, "username": SMTP_USER,
            "password_file": "smtp.password", "sender": "深圳电子口岸 <noreply@eport.example>",
            "ca_file": str(server.cert), "timeout_seconds": 5}


# ---- services -------------------------------------------------------------------------------------------------

def notify_services(store: Any, folder: Path, clock: Any, *, sms: SmsSettings | None = None,
                    mail: MailSettings | None = None, notify: NotifySettings | None = None,
                    development: bool = False) -> Services:
    (folder / "tencent.key").write_text(SECRET_KEY)
    (folder / "smtp.password").write_text(SMTP_PASSWORD)
    settings = attrs.evolve(Settings(root=str(folder)), sms=sms or SmsSettings(), mail=mail or MailSettings(),
                            notify=notify or NotifySettings(),
                            web=WebSettings(secret_key="k", development=development))
    settings = attrs.evolve(settings, regions=attrs.evolve(settings.regions, default="shenzhen"))
    pm = get_plugin_manager(enabled=["shenzhen"])
    return Services(settings=settings, store=store, rulebook=Rulebook(pm), calendar=WorkCalendar(), clock=clock)


@contextmanager
def gateways(store: Any, folder: Path, clock: Any, **kw: Any) -> Iterator[tuple[Services, TencentStandIn, SmtpServer]]:
    """Services whose SMS go to a Tencent stand-in and whose e-mail goes to aiosmtpd over STARTTLS."""
    with TencentStandIn() as tencent, SmtpServer(folder) as smtp:
        services = notify_services(
            store, folder, clock,
            sms=SmsSettings(gateway="tencent", options=tencent_options(tencent.endpoint), signature=SIGN_NAME),
            mail=MailSettings(gateway="smtp", options=smtp_options(smtp)), **kw)
        yield services, tencent, smtp


# ---- a deployment the command line runs on ----------------------------------------------------------------------

def queue_messages(services, count: int) -> None:
    """``count`` SMS in the outbox, due now (keys ``test:<n>:sms``)."""
    with services.store.transaction() as tx:
        Outbox(tx).enqueue([NewMessage(f"test:{n}:sms", "sms", "completed", "13800000001", f"message {n}")
                            for n in range(count)], services.clock())


def deployment_config(folder: Path, database_url: str, endpoint: str) -> Path:
    """An ``eportcard.toml`` in ``folder`` on ``database_url`` whose SMS go to the Tencent stand-in at ``endpoint``."""
    options = tencent_options(endpoint)
    templates = ", ".join(f'{k} = "{v}"' for k, v in options.pop("templates").items())
    lines = [f"{k} = {v!r}".replace("'", '"') if isinstance(v, str) else f"{k} = {v}" for k, v in options.items()]
    config = folder / "eportcard.toml"
    config.write_text(f'''[database]
url = "{database_url}"
[regions]
enabled = ["shenzhen"]
default = "shenzhen"
[web]
secret_key = "k"
[sms]
gateway = "tencent"
signature = "{SIGN_NAME}"
[sms.options]
{chr(10).join(lines)}
templates = {{ {templates} }}
''', encoding="utf-8")
    (folder / "tencent.key").write_text(SECRET_KEY)
    return config


def database_url(store) -> str:
    """The URL another process reaches ``store`` at (on PostgreSQL: the test's own schema)."""
    url = store.engine.url.render_as_string(hide_password=False)
    if store.dialect != "postgresql":
        return url
    with store.engine.connect() as conn:
        schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
    return f"{url}?options=-csearch_path%3D{schema}"
