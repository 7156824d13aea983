"""`eportcard counter` and `eportcard card` end to end: a deployment folder, `eportcard ca init`,
an application in production, then the commands against the virtual card in-process (--virtual)
and through pcscd (--reader). PINs come from environment variables and never appear in the output."""

from __future__ import annotations

import json
import stat

import attrs
import pytest
from cardkit import NEW_PIN, READER, STAFF, enterprise
from click.testing import CliRunner
from hardware.conftest import MASTER_SECRET

from core.cli import main
from core.config import load_settings
from core.hardware.profile import INITIAL_PIN
from core.samples import make_enrol
from core.services.context import Services

PASSPHRASE = "cli tests passphrase 2026"  # a strong one: ca init refuses weak ones


@pytest.fixture
def deployment(tmp_path, monkeypatch):
    config = tmp_path / "eportcard.toml"
    config.write_text('[pki]\nca_dir = "ca"\nalgorithm = "ec-p256"\n', encoding="utf-8")
    monkeypatch.setenv("EPORTCARD_CONFIG", str(config))
    monkeypatch.setenv("EPORTCARD_CA_PASSPHRASE", PASSPHRASE)
    runner = CliRunner()
    made = runner.invoke(main, ["ca", "init", "--name", "电子口岸测试CA"])
    assert made.exit_code == 0, made.output
    return runner, load_settings(config)


def test_counter_init_master_is_owner_only_and_never_overwritten(deployment):
    runner, settings = deployment
    first = runner.invoke(main, ["counter", "init-master"])
    assert first.exit_code == 0, first.output
    path = settings.path(settings.card.master_key_file)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(bytes.fromhex(path.read_text().strip())) == 32
    secret = path.read_text()
    again = runner.invoke(main, ["counter", "init-master"])
    assert again.exit_code == 1 and "will not be overwritten" in again.output and path.read_text() == secret
    assert secret.strip() not in first.output + again.output


def test_counter_and_card_commands(deployment, make_rig, monkeypatch):
    runner, settings = deployment
    settings.path(settings.card.master_key_file).write_text(MASTER_SECRET.hex())
    services = Services.from_settings(settings, upgrade=True)
    app = make_enrol(31, "shenzhen", operators=0)
    me = enterprise(app)
    app = services.applications.create(attrs.evolve(app, id=""), me)
    number = services.applications.submit(app.id, me).acceptance_no  # what the receipt shows
    services.applications.accept(app.id, STAFF)
    services.applications.start_production(app.id, STAFF)
    services.store.dispose()

    rig = make_rig(serial="00c0ffee00000031")
    if rig.kind == "pcsc":
        rig.start()
        card_opts = ["--reader", READER]
    else:
        card_opts = ["--virtual", str(rig.state_path)]

    def run(*args: str, ok: bool = True):
        result = runner.invoke(main, [*args, *card_opts])
        assert (result.exit_code == 0) is ok, result.output
        assert NEW_PIN not in result.output  # the initial PIN is public; a chosen PIN is never shown
        return result

    made = json.loads(run("counter", "personalize", number, "1", "--device-no", "4403123456789", "--json").output)
    assert made["state"] == "active" and made["card_no"] == rig.serial and made["pin_is_initial"]

    monkeypatch.setenv("OLD_PIN", INITIAL_PIN)
    monkeypatch.setenv("NEW_PIN", INITIAL_PIN)
    refused = run("card", "change-pin", "--pin-env", "OLD_PIN", "--new-pin-env", "NEW_PIN", ok=False)
    assert "88888888" in refused.output and len(refused.output.strip().splitlines()) == 1
    monkeypatch.setenv("NEW_PIN", NEW_PIN)
    changed = json.loads(run("card", "change-pin", "--pin-env", "OLD_PIN", "--new-pin-env", "NEW_PIN",
                             "--json").output)
    assert changed["pin_is_initial"] is False

    monkeypatch.setenv("PIN", NEW_PIN)
    early = run("card", "renew", "--pin-env", "PIN", ok=False)  # ten years before expiry
    assert "180" in early.output

    monkeypatch.setenv("OLD_PIN", "00000000")
    for expected in ("2 tries left", "1 try left", "no tries left: the card is now locked"):
        wrong = run("card", "change-pin", "--pin-env", "OLD_PIN", "--new-pin-env", "NEW_PIN", ok=False)
        assert expected in wrong.output
    info = json.loads(run("card", "info", "--json").output)
    assert info["state"] == "locked" and info["tries_left"] == 0 and info["device_no"] == "4403123456789"
    unlocked = json.loads(run("counter", "unlock", "--json").output)
    assert unlocked["state"] == "active" and unlocked["pin_is_initial"] is True
    pem = settings.path("card.pem")
    read = json.loads(run("counter", "read", "--json", "--cert-out", str(pem)).output)
    assert b"BEGIN CERTIFICATE" in pem.read_bytes()
    assert read["tries_left"] == 3 and read["certificate_status"] == "good" and app.enterprise.uscc in read["subject"]
    renewed = json.loads(run("counter", "renew", "--json").output)
    assert renewed["certificate_serial"] != made["certificate_serial"]
