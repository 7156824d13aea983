"""Issue #20 item 3: what the command line does is audited as the operating system user who ran it
(`system:cli:<user>`), not as an anonymous `cli`; `--actor` adds for whom, `sudo` who ran it."""

from __future__ import annotations

import json
import os
import pwd
from pathlib import Path

import pytest
from test_cli import cli, submit_json

from core.cli_context import cli_actor_id, operating_system_user
from core.config import load_settings
from core.services import Services

__all__ = ["cli"]  # the fixture

ME = pwd.getpwuid(os.geteuid()).pw_name


@pytest.fixture(autouse=True)
def no_sudo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.setenv("USER", "someone-else")  # not trusted: the user database says who runs it


def audit_actors(config: Path) -> list[tuple[str, str]]:
    services = Services.from_settings(load_settings(config))
    with services.store.transaction(readonly=True) as tx:
        return [(entry.actor, entry.action) for entry in tx.audit.all()]


def test_cli_actions_are_audited_as_the_operating_system_user(cli, tmp_path: Path, monkeypatch):
    config = tmp_path / "eportcard.toml"
    app = submit_json(cli)
    accepted = json.loads(cli("app", "accept", app["acceptance_no"], "--actor", "王某", "--json").output)
    monkeypatch.setenv("STAFF_PASSWORD", "Staff2026pass!")
    cli("staff", "add", "zhang", "--region", "shenzhen", "--role", "branch_admin", "--password-env", "STAFF_PASSWORD")
    actors = audit_actors(config)
    assert (f"system:cli:{ME}", "create") in actors and (f"system:cli:{ME}", "submit") in actors
    assert (f"system:cli:{ME} as 王某", "accept") in actors
    assert (f"system:cli:{ME}", "register") in actors  # the staff account, made by whoever ran `staff add`
    assert accepted["history"][-1]["actor"] == f"system:cli:{ME} as 王某"
    assert not any(actor in ("system:cli", "cli") or "someone-else" in actor for actor, _ in actors)


def test_sudo_names_the_person_behind_it(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SUDO_USER", "wang")
    assert operating_system_user() == f"{ME} (sudo wang)"
    assert cli_actor_id() == f"cli:{ME} (sudo wang)"
    monkeypatch.setenv("SUDO_USER", ME)
    assert cli_actor_id("李某") == f"cli:{ME} as 李某"
