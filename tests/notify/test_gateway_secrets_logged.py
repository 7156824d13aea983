"""The gateways' secrets never reach a log line: the SMS SDK's secret key, the webhook's token, the SMTP
password and a plugin gateway's own secret, wherever they are kept (an ``options.<name>_file``, an
``EPORTCARD_<CHANNEL>_<NAME>`` variable, a systemd credential ``<channel>_<name>``), are in the
deployment's secret list (core.config.secret_values) and blanked by the log formatter, also in the log
lines of ``eportcard jobs run-due``, where the gateways run."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from pathlib import Path

import attrs
from notifykit import (
    SECRET_KEY,
    TencentStandIn,
    database_url,
    deployment_config,
    notify_services,
    queue_messages,
)

from core.config import MailSettings, Settings, SmsSettings, secret_values
from core.store.notify import Outbox
from core.web.logs import REDACTED, configured_logging

ROOT = Path(__file__).resolve().parents[2]
TOKEN, PASSWORD, PLUGIN_KEY = "webhook-token-9f2c1d", "smtp-password-77ab", "acme-api-key-31337"


def _settings(folder: Path) -> Settings:
    (folder / "sms.key").write_text(SECRET_KEY + "\n")
    (folder / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\nnot a secret\n")
    return attrs.evolve(Settings(root=str(folder)),
                        sms=SmsSettings(gateway="tencent", options={"secret_key_file": "sms.key"}),
                        mail=MailSettings(gateway="smtp", options={"host": "mail.example.com",
                                                                   "ca_file": "ca.pem"}))


def _logged(settings: Settings, environ: dict[str, str], line: str) -> str:
    stream = io.StringIO()
    with configured_logging(secrets=secret_values(settings, environ), stream=stream):
        logging.getLogger("core.notify").warning(line)
    return stream.getvalue()


def test_every_gateway_secret_is_blanked_in_the_logs(tmp_path):
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "mail_password").write_text(PASSWORD)
    (credentials / "web_secret").write_text("not a gateway's")  # another channel's credential: not read
    environ = {"EPORTCARD_SMS_AUTH_TOKEN": TOKEN, "EPORTCARD_MAIL_API_KEY": PLUGIN_KEY,
               "CREDENTIALS_DIRECTORY": str(credentials)}
    settings = _settings(tmp_path)

    found = secret_values(settings, environ)
    assert {SECRET_KEY, TOKEN, PASSWORD, PLUGIN_KEY} <= set(found)
    assert not [value for value in found if "not a secret" in value or "not a gateway" in value]

    out = _logged(settings, environ, f"gateway said: key={SECRET_KEY} token={TOKEN} pw={PASSWORD} api={PLUGIN_KEY}")
    for secret in (SECRET_KEY, TOKEN, PASSWORD, PLUGIN_KEY):
        assert secret not in out
    assert out.count(REDACTED) == 4 and "gateway said: key=" in out


def test_an_unreadable_secret_file_is_no_error_and_nothing_to_hide(tmp_path):
    settings = attrs.evolve(_settings(tmp_path), mail=MailSettings(gateway="smtp", options={
        "password_file": str(tmp_path / "missing")}))
    found = secret_values(settings, {})
    assert SECRET_KEY in found and not [value for value in found if "missing" in value]


def test_run_due_logs_a_gateway_failure_without_the_secret(store, tmp_path, clock):
    services = notify_services(store, tmp_path, clock)
    queue_messages(services, 1)
    with TencentStandIn() as tencent:
        tencent.mode = f"FailedOperation.Echo{SECRET_KEY}"  # a provider whose error repeats what it was given
        config = deployment_config(tmp_path, database_url(store), tencent.endpoint)
        run = subprocess.run([sys.executable, "-c", "from core.cli import main; main()", "-c", str(config),
                              "jobs", "run-due", "--job", "deliver_messages"],
                             cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, (run.stdout, run.stderr)
    assert "not sent: FailedOperation.Echo" + REDACTED in run.stderr, run.stderr
    assert SECRET_KEY not in run.stderr + run.stdout
    with services.store.transaction(readonly=True) as tx:
        assert sum(Outbox(tx).counts().values()) == 1 and Outbox(tx).counts()["sent"] == 0
