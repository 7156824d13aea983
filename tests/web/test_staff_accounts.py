"""Staff accounts as a branch centre runs them (``eportcard staff``), and sessions that end when their
account is disabled or its roles or password change: from the CLI (another process's engine) on SQLite,
and from another worker on both backends."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient
from webkit import make_services, staff

from core.cli import main
from core.config import load_settings
from core.services import Services
from core.store import Store
from core.store.accounts import Accounts
from core.store.testing import other_store
from core.web.app import create_app

PASSWORD, NEW_PASSWORD = "Passw0rd-anna", "Passw0rd-anna-2"
SETTLES_WITHIN = 10.0  # seconds for a PostgreSQL notification (a wait, not a timing)


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch):
    """A fresh SQLite deployment (``eportcard init``), its CLI, and a client of its web front."""
    monkeypatch.setenv("ANNA_PASSWORD", PASSWORD)
    monkeypatch.setenv("ANNA_NEW_PASSWORD", NEW_PASSWORD)
    config = tmp_path / "eportcard.toml"
    runner = CliRunner()

    def cli(*args: str, ok: bool = True) -> str:
        result = runner.invoke(main, ["--config", str(config), *args])
        assert (result.exit_code == 0) == ok, result.output
        return result.output

    cli("init")
    services = Services.from_settings(load_settings(config), upgrade=True)
    app = create_app(services)
    yield cli, app, services
    services.store.dispose()


def log_in(app, password: str = PASSWORD) -> tuple[TestClient, int]:
    client = TestClient(app)
    reply = client.post("/api/session", json={"username": "anna", "password": password})
    return client, reply.status_code


def test_a_branch_manages_its_staff_and_changed_accounts_lose_their_sessions(deployment):
    cli, app, services = deployment
    assert "anna (shenzhen: reviewer) added" in cli("staff", "add", "anna", "--region", "shenzhen", "--role",
                                                      "reviewer", "--name", "安娜", "--password-env", "ANNA_PASSWORD")
    assert "anna\tshenzhen\treviewer\tactive\t安娜" in cli("staff", "list", "--region", "shenzhen")
    client, status = log_in(app)
    assert status == 200 and client.get("/api/staff/queue").status_code == 200

    cli("staff", "roles", "anna", "--role", "counter_clerk", "--role", "card_maker")
    assert client.get("/api/staff/queue").status_code == 401  # the session ended with the old roles
    client, status = log_in(app)
    assert client.get("/api/session").json()["user"]["roles"] == ["card_maker", "counter_clerk"]

    cli("staff", "password", "anna", "--password-env", "ANNA_NEW_PASSWORD")
    assert client.get("/api/staff/queue").status_code == 401
    assert log_in(app)[1] == 403 and log_in(app, NEW_PASSWORD)[1] == 200
    client = log_in(app, NEW_PASSWORD)[0]

    cli("staff", "disable", "anna")
    assert client.get("/api/staff/queue").status_code == 401
    refused = TestClient(app).post("/api/session", json={"username": "anna", "password": NEW_PASSWORD})
    assert refused.status_code == 403 and "disabled" in refused.json()["error"]["en"]
    assert "停用" in refused.json()["error"]["zh"]
    wrong = TestClient(app).post("/api/session", json={"username": "anna", "password": "Wr0ng-password"})
    assert wrong.status_code == 403 and "disabled" not in wrong.json()["error"]["en"]  # tells a guesser nothing
    with services.store.transaction(readonly=True) as tx:  # and counts against the lock as ever
        assert [e.entity_id for e in tx.audit.all(limit=1000) if e.action == "login_failed"][-1] == "anna"
    assert "anna\tshenzhen\tcard_maker,counter_clerk\tdisabled" in cli("staff", "list")

    cli("staff", "enable", "anna")
    assert log_in(app, NEW_PASSWORD)[1] == 200
    with services.store.transaction(readonly=True) as tx:
        trail = [(e.action, e.payload) for e in tx.audit.all(limit=1000) if e.entity == "user"]
    assert [a for a, _ in trail] == ["register", "set_roles", "set_password", "disable", "enable"]
    assert all("password" not in str(payload).lower() for _, payload in trail)


def test_bad_staff_commands_say_what_is_wrong_and_change_nothing(deployment):
    cli, _, services = deployment
    assert "region" in cli("staff", "add", "bob", "--region", "atlantis", "--role", "reviewer",
                           "--password-env", "ANNA_PASSWORD", ok=False)
    assert "Invalid value for '--role'" in cli("staff", "add", "bob", "--region", "shenzhen", "--role", "boss",
                                               "--password-env", "ANNA_PASSWORD", ok=False)
    cli("staff", "add", "anna", "--region", "shenzhen", "--role", "reviewer", "--password-env", "ANNA_PASSWORD")
    taken = cli("staff", "add", "anna", "--region", "shenzhen", "--role", "reviewer",
                "--password-env", "ANNA_PASSWORD", ok=False)
    assert "已被使用" in taken and "taken" in taken
    missing = cli("staff", "disable", "nobody", ok=False)
    assert "没有工作人员账号" in missing and "no staff account" in missing
    assert "empty" in cli("staff", "password", "anna", "--password-env", "UNSET_VARIABLE_X", ok=False)
    with services.store.transaction(readonly=True) as tx:
        (anna,) = Accounts(tx).staff()
    assert anna.session_epoch == 0 and not anna.disabled


def test_a_session_ends_when_another_worker_disables_its_account(store: Store, tmp_path: Path, clock):
    services = make_services(store, tmp_path, clock)
    client, _ = staff(services, ["reviewer"])
    assert client.get("/api/staff/queue").status_code == 200
    with other_store(store, tmp_path / "other") as other, other.transaction() as tx:
        accounts = Accounts(tx)
        accounts.change(accounts.by_username("shenzhen-reviewer"), disabled=True)
    deadline = time.monotonic() + SETTLES_WITHIN
    while client.get("/api/staff/queue").status_code != 401:
        assert time.monotonic() < deadline, "the session outlived its disabled account"
        time.sleep(0.02)


def test_the_command_line_never_removes_a_branchs_last_enabled_administrator(deployment):
    cli, _, services = deployment
    cli("staff", "add", "boss", "--region", "shenzhen", "--role", "branch_admin", "--password-env", "ANNA_PASSWORD")
    for command in (("staff", "disable", "boss"), ("staff", "roles", "boss", "--role", "reviewer")):
        refused = cli(*command, ok=False)
        assert "最后一个启用的管理员" in refused and "last enabled branch administrator" in refused
    assert "boss\tshenzhen\tbranch_admin\tactive" in cli("staff", "list")
    cli("staff", "add", "boss2", "--region", "shenzhen", "--role", "branch_admin", "--password-env", "ANNA_PASSWORD")
    assert "boss: disabled" in cli("staff", "disable", "boss")
    assert "最后一个启用的管理员" in cli("staff", "roles", "boss2", "--role", "reviewer", ok=False)
    with services.store.transaction(readonly=True) as tx:
        assert [(u.username, u.disabled) for u in Accounts(tx).staff()] == [("boss", True), ("boss2", False)]
