"""`eportcard serve` checks the configured [sms] and [mail] gateways at start-up, as the first message would
need them (a known gateway, its options complete, its secrets and files readable), and refuses to start in
one bilingual line when one could not send; a complete configuration starts without sending anything.
Each runs the installed `eportcard serve` as a process, as systemd would."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from notifykit import free_port

from core.cli import main

SECRET_ENV = ("EPORTCARD_SMS_SECRET_KEY", "EPORTCARD_MAIL_PASSWORD", "EPORTCARD_SMS_AUTH_TOKEN",
              "EPORTCARD_MAIL_AUTH_TOKEN", "CREDENTIALS_DIRECTORY", "EPORTCARD_CA_PASSPHRASE", "EPORTCARD_CONFIG")


@pytest.fixture
def deployment(tmp_path: Path) -> Path:
    config = tmp_path / "eportcard.toml"
    made = CliRunner().invoke(main, ["-c", str(config), "init", "--region", "shenzhen", "--enable", "shenzhen"])
    assert made.exit_code == 0, made.output
    return config


def _configure(config: Path, sms: str = "", mail: str = "") -> None:
    """Replace the starter config's [sms] gateway line and [mail] section with the TOML given."""
    text = config.read_text(encoding="utf-8")
    if sms:
        text = re.sub(r'^\[sms\]\ngateway = "none".*$', "[sms]\n" + sms.split("\n[", 1)[0], text, flags=re.M)
        text += "\n[" + sms.split("\n[", 1)[1] + "\n" if "\n[" in sms else ""
    if mail:
        text = re.sub(r'^\[mail\]\ngateway = "none".*$', "[mail]\n" + mail, text, flags=re.M)
    config.write_text(text, encoding="utf-8")


def _serve(config: Path) -> subprocess.Popen[str]:
    exe = shutil.which("eportcard")
    assert exe, "the eportcard console script is not installed"
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    return subprocess.Popen([exe, "-c", str(config), "serve", "--port", str(free_port())], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _refused(config: Path, *words: str) -> None:
    run = _serve(config)
    try:
        out, err = run.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        run.kill()
        pytest.fail(f"serve started instead of refusing: {run.communicate()}")
    assert run.returncode == 1 and "serving on" not in out + err, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert " / " in lines[0] and any("\u4e00" <= ch <= "\u9fff" for ch in lines[0]), lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_an_smtp_login_without_its_password(deployment: Path):
    _configure(deployment, mail='gateway = "smtp"\n[mail.options]\nhost = "127.0.0.1"\nsender = "noreply@eport.example"'
                                '\nusername = "eportcard"')
    _refused(deployment, "the smtp gateway needs its password", "EPORTCARD_MAIL_PASSWORD", "mail_password",
             "password_file", "密钥")


def test_a_gateway_nobody_provides(deployment: Path):
    _configure(deployment, mail='gateway = "smtps"')
    _refused(deployment, "unknown mail gateway: smtps", "none, outbox, smtp, webhook", "未知")


def test_a_secret_file_that_is_not_there(deployment: Path):
    _configure(deployment, sms='gateway = "tencent"\n[sms.options]\nsecret_id = "AKID1"\nsdk_app_id = "1400000001"\n'
                               'sign_name = "电子口岸"\nsecret_key_file = "missing.key"\n'
                               'templates = { verification_code = "100001" }')
    _refused(deployment, "cannot read", "missing.key", "[sms] options.secret_key_file", "无法读取")


def test_a_ca_file_that_is_not_there(deployment: Path):
    _configure(deployment, mail='gateway = "smtp"\n[mail.options]\nhost = "127.0.0.1"\nsender = "noreply@eport.example"'
                                f'\nca_file = "{deployment.parent / "no-ca.pem"}"')
    _refused(deployment, "options.ca_file", "no-ca.pem", "does not exist or cannot be read", "不可读")


def test_a_webhook_in_the_clear_to_another_machine(deployment: Path):
    _configure(deployment, sms='gateway = "webhook"\n[sms.options]\nurl = "http://sms.example.com/send"\n'
                               'body = { to = "{recipient}", text = "{text}" }')
    _refused(deployment, "must reach sms.example.com over HTTPS", "HTTPS")


def test_complete_gateways_start_and_send_nothing(deployment: Path):
    folder = deployment.parent
    (folder / "sms.key").write_text("tencent-secret")
    (folder / "smtp.password").write_text("smtp-password")
    with socket.socket() as sms_end, socket.socket() as mail_end:  # where the gateways would connect
        for end in (sms_end, mail_end):
            end.bind(("127.0.0.1", 0))
            end.listen()
            end.setblocking(False)
        _configure(deployment,
                   sms='gateway = "tencent"\n[sms.options]\nsecret_id = "AKID1"\nsdk_app_id = "1400000001"\n'
                       f'sign_name = "电子口岸"\nsecret_key_file = "sms.key"\nprotocol = "http"\n'
                       f'endpoint = "127.0.0.1:{sms_end.getsockname()[1]}"\n'
                       'templates = { verification_code = "100001" }',
                   mail=f'gateway = "smtp"\n[mail.options]\nhost = "127.0.0.1"\nport = {mail_end.getsockname()[1]}\n'
                        'sender = "noreply@eport.example"\nusername = "eportcard"\npassword_file = "smtp.password"')
        run = _serve(deployment)
        watchdog = threading.Timer(60, run.kill)  # a start that never says so fails instead of hanging
        watchdog.start()
        try:
            assert run.stdout is not None
            first = run.stdout.readline()
            assert "serving on" in first, (first, run.stderr.read() if run.stderr else "")
            for end in (sms_end, mail_end):
                with pytest.raises(BlockingIOError):
                    end.accept()  # nobody connected: the check sent nothing
        finally:
            watchdog.cancel()
            run.terminate()
            run.communicate(timeout=60)
