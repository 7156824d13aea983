"""Issue #17 items 1, 4 and 5 end to end: a branch runs its CA with the key only in SoftHSM2.

`eportcard ca init --pkcs11` makes the key on the token and records module, token and key label (never
the PIN) in eportcard.toml; `ca issue`, `ca crl` and the web front's OCSP answers are signed there and
verified by the openssl CLI; `ca status` tells where the key is and whether it answers; `eportcard serve`
refuses, in one line, a missing PIN, a wrong PIN and a token that is gone."""

from __future__ import annotations

import os
import queue
import re
import secrets
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pkcs11
import pytest
from click.testing import CliRunner
from cryptography import x509
from openssl_cli import openssl
from pkcs11 import Attribute
from pkcs11 import exceptions as p11
from test_serve_fail_fast import assert_refused, free_port, serve

from core.cli import main
from core.config import load_settings
from core.pki.pkcs11 import Pkcs11Signer, TokenKey
from core.pki.softhsm import SoftHsm

TOKEN = "eportcard-ca"


def cli(config: Path, *args: str, pin: str | None, env: dict[str, str] | None = None):
    environment = {"EPORTCARD_CA_PASSPHRASE": None, "EPORTCARD_PKCS11_PIN": pin, "CREDENTIALS_DIRECTORY": None,
                   **(env or {})}
    return CliRunner().invoke(main, ["-c", str(config), *args], env=environment)


def init_args(softhsm: SoftHsm, key_label: str, *extra: str) -> list[str]:
    return ["ca", "init", "--name", "电子口岸HSM测试CA", "--pkcs11", softhsm.module, "--token", TOKEN,
            "--key-label", key_label, *extra]


def objects_labelled(softhsm: SoftHsm, key_label: str) -> int:
    """Objects on the token with that label, private ones included (they are seen only when logged in)."""
    token = pkcs11.lib(softhsm.module).get_token(token_label=TOKEN)
    try:
        session = token.open(user_pin=softhsm.pin)
    except p11.UserAlreadyLoggedIn:  # through the CLI runs in this process: login is per process
        session = token.open()
    with session:
        return len(list(session.get_objects({Attribute.LABEL: key_label})))


def csr(tmp_path: Path) -> Path:
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", tmp_path / "card.key", "-subj", "/CN=card", "-out", tmp_path / "card.csr")
    return tmp_path / "card.csr"


def test_a_ca_with_its_key_only_on_the_token(tmp_path: Path, softhsm: SoftHsm, deployment: Path):
    key_label = f"branch-ca-{secrets.token_hex(3)}"
    made = cli(deployment, *init_args(softhsm, key_label, "--algorithm", "ec-p256"), pin=softhsm.pin)
    assert made.exit_code == 0, made.output
    assert f"token {TOKEN!r}, key {key_label!r}" in made.output and softhsm.pin not in made.output
    pki = load_settings(deployment, {}).pki
    assert (pki.pkcs11_module, pki.pkcs11_token, pki.pkcs11_key_label) == (softhsm.module, TOKEN, key_label)
    assert softhsm.pin not in deployment.read_text(encoding="utf-8")
    ca_dir = deployment.parent / "ca"
    assert sorted(p.name for p in ca_dir.iterdir()) == ["ca.cert.pem", "chain.pem"]  # no key file

    status = cli(deployment, "ca", "status", pin=softhsm.pin)
    serial = pkcs11.lib(softhsm.module).get_token(token_label=TOKEN).serial.decode()
    assert status.exit_code == 0, status.output
    assert f"token:     {TOKEN}    serial: {serial}" in status.output and "answers:   yes" in status.output
    assert f"key:       PKCS#11 {softhsm.module}" in status.output
    assert "origin:    made on the token, never extractable" in status.output

    issued = cli(deployment, "ca", "issue", "--csr", str(csr(tmp_path)), "--kind", "legal", "--enterprise",
                 "深圳市某某进出口有限公司", "--uscc", "91440300MA5EXAMPLA", "--holder", "张三",
                 "--algorithm", "ec-p256", "--out", str(tmp_path / "card.pem"), pin=softhsm.pin)
    assert issued.exit_code == 0, issued.output
    ca_pem = ca_dir / "ca.cert.pem"
    openssl("verify", "-x509_strict", "-CAfile", ca_pem, tmp_path / "card.pem")
    assert cli(deployment, "ca", "revoke", issued.output.strip(), "--reason", "key_compromise",
               pin=softhsm.pin).exit_code == 0
    crl = cli(deployment, "ca", "crl", "--out", str(tmp_path / "crl.pem"), "--pem", pin=softhsm.pin)
    assert crl.exit_code == 0 and "1 entries" in crl.output, crl.output
    assert b"verify OK" in openssl("crl", "-in", tmp_path / "crl.pem", "-noout", "-CAfile", ca_pem).stderr
    revoked = openssl("verify", "-crl_check", "-CAfile", ca_pem, "-CRLfile", tmp_path / "crl.pem",
                      tmp_path / "card.pem", check=False)
    assert revoked.returncode != 0 and b"certificate revoked" in revoked.stdout + revoked.stderr


def test_the_pin_from_a_systemd_credential(tmp_path: Path, softhsm: SoftHsm, deployment: Path):
    assert cli(deployment, *init_args(softhsm, f"cred-{secrets.token_hex(3)}"), pin=softhsm.pin).exit_code == 0
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "pkcs11_pin").write_text(softhsm.pin + "\n", encoding="utf-8")
    status = cli(deployment, "ca", "status", pin=None, env={"CREDENTIALS_DIRECTORY": str(credentials)})
    assert status.exit_code == 0 and "answers:   yes" in status.output, status.output


def test_an_existing_key_on_the_token(softhsm: SoftHsm, deployment: Path):
    key_label = f"made-by-the-officer-{secrets.token_hex(3)}"
    made = Pkcs11Signer.generate(TokenKey(softhsm.module, TOKEN, key_label), softhsm.pin, "rsa2048")
    config_before = deployment.read_text(encoding="utf-8")

    refused = cli(deployment, *init_args(softhsm, key_label), pin=softhsm.pin)
    assert refused.exit_code == 1 and "--existing-key" in refused.output and "已有" in refused.output
    assert deployment.read_text(encoding="utf-8") == config_before
    assert not (deployment.parent / "ca").exists() and objects_labelled(softhsm, key_label) == 2

    mismatch = cli(deployment, *init_args(softhsm, key_label, "--existing-key", "--algorithm", "ec-p256"),
                   pin=softhsm.pin)
    assert mismatch.exit_code == 1 and "the key on the token is rsa2048" in mismatch.output

    used = cli(deployment, *init_args(softhsm, key_label, "--existing-key"), pin=softhsm.pin)
    assert used.exit_code == 0, used.output
    certificate = x509.load_pem_x509_certificate((deployment.parent / "ca" / "ca.cert.pem").read_bytes())
    assert certificate.public_key().public_numbers() == made.public_key().public_numbers()


@pytest.mark.parametrize(("args", "words"), [
    (["ca", "init", "--name", "x", "--token", TOKEN], ["go with --pkcs11"]),
    (["ca", "init", "--name", "x", "--existing-key"], ["go with --pkcs11"]),
    (["ca", "init", "--name", "x", "--pkcs11", "/usr/lib/softhsm/libsofthsm2.so", "--token", TOKEN],
     ["needs --token and --key-label"]),
])
def test_pkcs11_options_go_together(deployment: Path, args: list[str], words: list[str]):
    result = cli(deployment, *args, pin="unused")
    assert result.exit_code == 2
    for word in words:
        assert word in result.output
    assert not (deployment.parent / "ca").exists()


def test_refusals_before_the_token_is_touched(tmp_path: Path, softhsm: SoftHsm, deployment: Path):
    key_label = f"refused-{secrets.token_hex(3)}"
    no_config = cli(tmp_path / "absent.toml", *init_args(softhsm, key_label), pin=softhsm.pin)
    assert no_config.exit_code == 1 and "no config file" in no_config.output
    wrong_pin = cli(deployment, *init_args(softhsm, key_label), pin="not-the-pin")
    assert wrong_pin.exit_code == 1 and "wrong PIN" in wrong_pin.output and "not-the-pin" not in wrong_pin.output
    assert cli(deployment, "ca", "init", "--name", "a file CA", pin=None,
               env={"EPORTCARD_CA_PASSPHRASE": "a strong passphrase for the file CA"}).exit_code == 0
    taken = cli(deployment, *init_args(softhsm, key_label), pin=softhsm.pin)
    assert taken.exit_code == 1 and "already holds a CA" in taken.output
    assert objects_labelled(softhsm, key_label) == 0
    assert load_settings(deployment, {}).pki.pkcs11_module == ""


def test_a_ca_that_cannot_be_recorded_leaves_no_key_behind(softhsm: SoftHsm, deployment: Path):
    """The config sets [pki] as a dotted table, so no [pki] section can be added: the key made for the CA
    goes again and no certificate is left."""
    text = re.sub(r"\n\[pki\]\n.*?(?=\n\[)", "\n", deployment.read_text(encoding="utf-8"), flags=re.S)
    deployment.write_text('pki.ca_dir = "ca"\n' + text, encoding="utf-8")
    assert load_settings(deployment, {}).pki.ca_dir == "ca"
    key_label = f"rolled-back-{secrets.token_hex(3)}"
    result = cli(deployment, *init_args(softhsm, key_label), pin=softhsm.pin)
    assert result.exit_code == 1 and "add them by hand" in result.output, result.output
    assert objects_labelled(softhsm, key_label) == 0
    assert not (deployment.parent / "ca" / "ca.cert.pem").exists()


# ---- other processes: `ca status` and `serve` ---------------------------------------------------------------------


def run(config: Path, rig: SoftHsm, *args: str, pin: str | None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("eportcard")
    assert exe, "the eportcard console script is not installed"
    env = {k: v for k, v in rig.env.items() if k not in ("EPORTCARD_CA_PASSPHRASE", "CREDENTIALS_DIRECTORY",
                                                           "EPORTCARD_CONFIG", "EPORTCARD_PKCS11_PIN")}
    return subprocess.run([exe, "-c", str(config), *args], capture_output=True, text=True, timeout=120,
                          env=env | ({"EPORTCARD_PKCS11_PIN": pin} if pin else {}))


@pytest.fixture
def own_token(tmp_path: Path, softhsm: SoftHsm, deployment: Path) -> tuple[Path, SoftHsm]:
    """A deployment whose CA key is on a token of its own (another SoftHSM2 folder), for processes that
    take the token away; the card master secret made, so serve gets as far as the CA."""
    rig = SoftHsm.make(tmp_path / "own-softhsm", (TOKEN,))
    made = run(deployment, rig, *init_args(rig, "branch-ca"), pin=rig.pin)
    assert made.returncode == 0, made.stderr
    assert run(deployment, rig, "counter", "init-master", pin=None).returncode == 0
    return deployment, rig


def test_status_and_serve_when_the_token_is_gone_or_the_pin_is_wrong(own_token: tuple[Path, SoftHsm]):
    config, rig = own_token
    wrong = run(config, rig, "ca", "status", pin="not-the-pin")
    assert wrong.returncode == 1 and "answers:   no: " in wrong.stdout and "wrong PIN" in wrong.stdout
    assert "not-the-pin" not in wrong.stdout + wrong.stderr

    env = {"SOFTHSM2_CONF": str(rig.conf)}
    assert_refused(serve(config, env=env), "no PIN to unlock it", "EPORTCARD_PKCS11_PIN", "pkcs11_pin", "PIN")
    refused = serve(config, env=env | {"EPORTCARD_PKCS11_PIN": "not-the-pin"})
    assert_refused(refused, "wrong PIN for the PKCS#11 token", "PIN 错误")
    assert "not-the-pin" not in refused.stderr

    rig.delete_token(TOKEN)
    gone = run(config, rig, "ca", "status", pin=rig.pin)
    assert gone.returncode == 1 and "answers:   no: " in gone.stdout and f"no token labelled {TOKEN!r}" in gone.stdout
    assert "key:       PKCS#11" in gone.stdout
    assert_refused(serve(config, env=env | {"EPORTCARD_PKCS11_PIN": rig.pin}), f"no token labelled {TOKEN!r}",
                   "令牌")


@pytest.fixture
def serving(own_token: tuple[Path, SoftHsm]) -> Iterator[tuple[str, Path, SoftHsm]]:
    config, rig = own_token
    port = free_port()
    env = {k: v for k, v in rig.env.items() if k not in ("EPORTCARD_CA_PASSPHRASE", "CREDENTIALS_DIRECTORY")}
    process = subprocess.Popen([shutil.which("eportcard") or "eportcard", "-c", str(config), "serve", "--port",
                                str(port)], env=env | {"EPORTCARD_PKCS11_PIN": rig.pin},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in process.stderr or ():
            lines.put(line)
        lines.put("")  # the process ended

    threading.Thread(target=read, daemon=True).start()
    try:
        seen = []
        while not seen or "Application startup complete" not in seen[-1]:
            seen.append(lines.get(timeout=60))
            assert seen[-1] or process.poll() is None, "".join(seen)
        yield f"http://127.0.0.1:{port}", config, rig
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_web_front_answers_ocsp_and_the_crl_signed_on_the_token(tmp_path: Path, serving):
    url, config, rig = serving
    issued = run(config, rig, "ca", "issue", "--csr", str(csr(tmp_path)), "--kind", "operator", "--enterprise",
                 "厦门某某报关有限公司", "--uscc", "91440300MA5EXAMPLA", "--holder", "王五", "--algorithm",
                 "ec-p256", "--out", str(tmp_path / "card.pem"), pin=rig.pin)
    assert issued.returncode == 0, issued.stderr
    ca_pem = config.parent / "ca" / "ca.cert.pem"
    answer = openssl("ocsp", "-issuer", ca_pem, "-CAfile", ca_pem, "-cert", tmp_path / "card.pem",
                     "-url", f"{url}/pki/ocsp")
    assert b"Response verify OK" in answer.stderr and b": good" in answer.stdout
    crl = tmp_path / "crl.der"
    crl.write_bytes(httpx.get(f"{url}/pki/crl.der", timeout=30).content)
    assert b"verify OK" in openssl("crl", "-inform", "DER", "-in", crl, "-noout", "-CAfile", ca_pem).stderr
    assert not os.path.exists(config.parent / "ca" / "ca.key.pem")

    ready = httpx.get(f"{url}/readyz", timeout=30)
    assert ready.status_code == 200 and ready.json()["checks"]["ca"] == "ok"
    rig.delete_token(TOKEN)  # the HSM goes away under the running server: no longer ready, and it says why
    gone = httpx.get(f"{url}/readyz", timeout=30)
    assert gone.status_code == 503 and "still fails after logging in again" in gone.json()["checks"]["ca"]
