"""``eportcard staff``: the branch centre's staff accounts (add, list, roles, password, disable, enable).

Passwords come from an environment variable named with ``--password-env`` or are prompted for; never
a command-line argument (shell history). Every change is audited, and a changed account's sessions end
at their next request (the session epoch, core/web/auth.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click

from core.services import Services
from core.services.actors import STAFF_ROLES
from core.store.accounts import Accounts, User

ROLES = click.Choice(sorted(STAFF_ROLES))


def _services(obj: Any) -> Services:
    return Services.from_settings(obj.settings, upgrade=True)


def _password(env_name: str | None) -> str:
    if env_name:
        value = os.environ.get(env_name)
        if not value:
            raise click.ClickException(f"环境变量 {env_name} 为空 / the environment variable {env_name} is empty")
        return value
    return str(click.prompt("密码 / password", hide_input=True, confirmation_prompt=True, err=True))


def _change(obj: Any, username: str, operation: str, **change: Any) -> User:
    from core.web.staff_accounts import ACTIONS, change_staff

    return change_staff(_services(obj), "cli", username, ACTIONS[operation], **change)


def _friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    from core.cli import friendly

    return friendly(command)


@click.group("staff")
def staff() -> None:
    """工作人员账号 / Staff accounts of the branch centre."""


@staff.command("add")
@click.argument("username")
@click.option("--region", required=True, help="the branch (region code) the account works for")
@click.option("--role", "roles", multiple=True, required=True, type=ROLES, help="repeat for several roles")
@click.option("--name", "display_name", default="", help="name shown in the console and the audit trail")
@click.option("--password-env", default=None, metavar="NAME", help="read the password from this variable")
@click.pass_obj
@_friendly
def add(obj: Any, username: str, region: str, roles: tuple[str, ...], display_name: str,
        password_env: str | None) -> None:
    """Create a staff account."""
    from core.web.staff_accounts import add_staff

    user = add_staff(_services(obj), username, _password(password_env), region, roles, display_name)
    click.echo(f"{user.username} ({user.region}: {', '.join(sorted(user.roles))}) added")


@staff.command("list")
@click.option("--region", default=None, help="only this branch")
@click.pass_obj
@_friendly
def list_staff(obj: Any, region: str | None) -> None:
    """The staff accounts, with their branch, roles and status."""
    services = _services(obj)
    with services.store.transaction(readonly=True) as tx:
        for user in Accounts(tx).staff(region):
            status = "disabled" if user.disabled else "active"
            click.echo(f"{user.username}\t{user.region}\t{','.join(sorted(user.roles))}\t{status}\t{user.display_name}")


@staff.command("roles")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, type=ROLES, help="the new roles (repeat)")
@click.pass_obj
@_friendly
def set_roles(obj: Any, username: str, roles: tuple[str, ...]) -> None:
    """Replace a staff account's roles (its sessions end)."""
    changed = _change(obj, username, "roles", roles=frozenset(roles))
    click.echo(f"{changed.username}: {', '.join(sorted(changed.roles))}")


@staff.command("password")
@click.argument("username")
@click.option("--password-env", default=None, metavar="NAME", help="read the password from this variable")
@click.pass_obj
@_friendly
def set_password(obj: Any, username: str, password_env: str | None) -> None:
    """Set a new password for a staff account (its sessions end)."""
    from core.services.accounts import check_password, hash_password

    password = _password(password_env)
    check_password(password)
    changed = _change(obj, username, "password", password_hash=hash_password(password))
    click.echo(f"{changed.username}: password changed")


def _switch(name: str, disabled: bool, doc: str) -> click.Command:
    @staff.command(name, help=doc)
    @click.argument("username")
    @click.pass_obj
    @_friendly
    def command(obj: Any, username: str) -> None:
        changed = _change(obj, username, name, disabled=disabled)
        click.echo(f"{changed.username}: {name}d")
    return command


disable = _switch("disable", True, "Disable a staff account: no more logins, and its sessions end.")
enable = _switch("enable", False, "Enable a disabled staff account again.")


__all__ = ["staff"]
