"""Issue #20 item 1: every command honours the global ``-c/--config``. Run from `/`,
``eportcard -c /srv/…/eportcard.toml ca expire-renewals`` made ``/eportcard.db`` and reported "0 revoked"
without touching PostgreSQL, and ``ca init`` made a second CA in the current folder.

Each command group runs here from an empty folder with ``-c`` naming a deployment elsewhere: the
folder stays empty, and what the command did is found in the configured database and folder."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from core.agent.server import OFFICIAL_ORIGINS
from core.cli import main
from core.config import load_settings
from core.hardware.keys import derive_admin_key
from core.hardware.virtual_card import VirtualCard
from core.model import Card, CardKind, CardState, CertificateRef, Medium, Person
from core.pki import revocation
from core.pki.registry import CertificateRecord
from core.services import Services
from core.store import Store, open_store
from core.store.testing import pg_url

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "enrol-shenzhen.toml"
PASSPHRASE = "config tests passphrase 2026"  # a strong one: ca init refuses weak ones
PASSWORD = "Staff2026pass!"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current folder: empty, and it must stay so."""
    folder = tmp_path / "here"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.delenv("EPORTCARD_CONFIG", raising=False)
    monkeypatch.setenv("EPORTCARD_CA_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("STAFF_PW", PASSWORD)
    return folder


def _invoker(config: Path, here: Path):
    runner = CliRunner()

    def run(*args: str, ok: bool = True):
        result = runner.invoke(main, ["-c", str(config), *args])
        assert (result.exit_code == 0) is ok, (args, result.output, result.exception)
        assert list(here.iterdir()) == [], (args, list(here.iterdir()))
        return result
    return run


def _pending_renewal(store: Store, now: datetime) -> None:
    """Card C1's renewal bb, released to the card ten days ago and never confirmed."""
    card = Card(id="C1", enterprise_uscc="91440300MA5FXXXX0A", kind=CardKind.OPERATOR,
                holder=Person("李四", "440902199202023456"), medium=Medium.USB_KEY, state=CardState.ACTIVE,
                device_no="8800000000001", card_no="CHIP-77", application_id="A-0001",
                certificate=CertificateRef("aa", now - timedelta(days=400), now + timedelta(days=3000)))
    with store.transaction() as tx:
        tx.cards.add(card)
        for serial in ("aa", "bb"):
            tx.certificates.add(CertificateRecord(
                serial=serial, card_id="C1", enterprise_uscc="91440300MA5FXXXX0A", kind=CardKind.OPERATOR,
                subject="CN=李四", not_before=now - timedelta(days=400), not_after=now + timedelta(days=3000)))
        revocation.hold(tx.certificates, "bb", now - timedelta(days=10))


def _status(store: Store, serial: str) -> str:
    with store.transaction(readonly=True) as tx:
        record = tx.certificates.get(serial)
    assert record is not None
    return record.status


def test_every_command_group_uses_the_named_config_from_another_folder(here: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch):
    deployment = tmp_path / "srv" / "eportcard"
    config = deployment / "eportcard.toml"
    run = _invoker(config, here)

    run("init", "--region", "shenzhen", "--enable", "shenzhen")
    assert (deployment / "eportcard.db").exists() and (deployment / "audit.key").exists()
    assert "at revision" in run("db", "upgrade").output
    assert [line.split()[0] for line in run("regions").output.splitlines()] == ["shenzhen"]
    # the guide and deadlines follow the config's enabled regions: xiamen is not one of them
    assert "深圳" in run("guide", "shenzhen", "enrol").output
    assert "xiamen" in run("deadline", "xiamen", "renew", "--from", "2026-01-05", ok=False).output

    run("staff", "add", "wang", "--region", "shenzhen", "--role", "reviewer", "--password-env", "STAFF_PW")
    assert "wang\tshenzhen" in run("staff", "list").output
    submitted = json.loads(run("app", "submit", str(EXAMPLE), "--json").output)
    assert submitted["acceptance_no"] in run("app", "list").output
    assert "intact" in run("audit", "verify").output
    run("audit", "checkpoint", "--out", str(deployment / "checkpoint.json"))
    assert (deployment / "checkpoint.json").exists()

    run("ca", "init", "--name", "电子口岸测试CA")
    assert (deployment / "ca" / "ca.cert.pem").exists()
    assert "电子口岸测试CA" in run("ca", "show").output
    run("ca", "crl", "--out", str(deployment / "crl.der"))
    run("counter", "init-master")
    assert (deployment / "card-master.key").exists()

    settings = load_settings(config)
    services = Services.from_settings(settings)
    try:
        _pending_renewal(services.store, datetime.now(UTC))
        assert "bb revoked" in run("ca", "expire-renewals").output
        assert _status(services.store, "bb") == "revoked"
        with services.store.transaction(readonly=True) as tx:
            assert tx.applications.get(submitted["id"]) is not None  # the submission went here too
    finally:
        services.store.dispose()

    # a card command reads the configured CA, master secret and database
    master = bytes.fromhex((deployment / "card-master.key").read_text().strip())
    card_file = deployment / "card.json"
    VirtualCard.create(card_file, admin_key=derive_admin_key(master, "00c0ffee000000aa"), serial="00c0ffee000000aa")
    assert "00c0ffee000000aa" in run("counter", "read", "--virtual", str(card_file)).output

    # serve and the card agent start with the configured settings (stopped before listening)
    started: dict[str, object] = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: started.update(serve=kw))
    run("serve", "--port", "18999")
    assert started["serve"] == {"host": "127.0.0.1", "port": 18999, "log_level": "info", "proxy_headers": False,
                                "log_config": None, "access_log": False,  # the app reads proxies and logs itself
                                "loop": "uvloop", "http": "httptools"}  # both are dependencies
    config.write_text(config.read_text().replace('allowed_origins = ["http://127.0.0.1:8000", '
                                                 '"http://localhost:8000"]',
                                                 'allowed_origins = ["https://eport.example"]'))

    def no_loop(coroutine) -> None:
        started["agent"] = coroutine.cr_frame.f_locals["agent"].allowed_origins
        coroutine.close()
    monkeypatch.setattr("core.agent.cli.asyncio.run", no_loop)
    run("agent", "--virtual", str(card_file), "--port", "18998")
    # the configured origin, beside the official single-window / E-Port ones every agent allows
    assert set(started["agent"]) == {"https://eport.example", *OFFICIAL_ORIGINS}  # type: ignore[arg-type]


def test_a_missing_named_config_is_refused_not_replaced_by_the_current_folder(here: Path, tmp_path: Path):
    config = tmp_path / "nowhere" / "eportcard.toml"
    run = _invoker(config, here)
    for args in (["ca", "expire-renewals"], ["ca", "revoke", "aa", "--reason", "superseded"],
                 ["counter", "init-master"], ["staff", "list"], ["app", "list"], ["db", "upgrade"]):
        refused = run(*args, ok=False).output
        assert str(config) in refused and "eportcard init" in refused and "Traceback" not in refused, args
    assert not config.parent.exists()


def test_ca_expire_renewals_on_postgresql_configured_by_url(here: Path, tmp_path: Path):
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(pg_url())
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = f"{pg_url()}?options=-csearch_path%3D{schema}"
        store = open_store(url, tmp_path / "blobs")
        try:
            store.upgrade()
            _pending_renewal(store, datetime.now(UTC))
            config = tmp_path / "srv" / "eportcard.toml"
            config.parent.mkdir()
            config.write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
            result = _invoker(config, here)("ca", "expire-renewals")
            assert "bb revoked" in result.output and "1 张未确认的延期证书已吊销" in result.output
            assert _status(store, "bb") == "revoked"
            assert not (config.parent / "eportcard.db").exists()
        finally:
            store.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
