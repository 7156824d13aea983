"""``eportcard staff``: the branch centre's staff accounts (add, list, roles, password, disable, enable).

Passwords come from an environment variable named with ``--password-env`` or are prompted for; never
a command-line argument (shell history). The rules and the audit are ``services.accounts``'s (shared
with the branch administrator's page): no change leaves a branch without an enabled administrator, and
a changed account's sessions end at their next request.
"""

from __future__ import annotations

import os
from typing import Any

import click

from core.cli_context import cli_actor_id
from core.cli_usage import friendly
from core.services import Actor, Services
from core.services.accounts import User
from core.services.actors import STAFF_ROLES

ROLES = click.Choice(sorted(STAFF_ROLES))


def cli_actor() -> Actor:
    return Actor.system(cli_actor_id())  # the branch centre's operator: the OS user running the command


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
    return _services(obj).accounts.change_staff(cli_actor(), username, operation, **change)


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
@friendly
def add(obj: Any, username: str, region: str, roles: tuple[str, ...], display_name: str,
        password_env: str | None) -> None:
    """Create a staff account."""
    user = _services(obj).accounts.add_staff(cli_actor(), username, _password(password_env), region, roles, display_name)
    click.echo(f"{user.username} ({user.region}: {', '.join(sorted(user.roles))}) added")


@staff.command("list")
@click.option("--region", default=None, help="only this branch")
@click.pass_obj
@friendly
def list_staff(obj: Any, region: str | None) -> None:
    """The staff accounts, with their branch, roles and status."""
    for user in _services(obj).accounts.staff(cli_actor(), region):
        status = "disabled" if user.disabled else "active"
        click.echo(f"{user.username}\t{user.region}\t{','.join(sorted(user.roles))}\t{status}\t{user.display_name}")


@staff.command("roles")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, type=ROLES, help="the new roles (repeat)")
@click.pass_obj
@friendly
def set_roles(obj: Any, username: str, roles: tuple[str, ...]) -> None:
    """Replace a staff account's roles (its sessions end)."""
    changed = _change(obj, username, "roles", roles=roles)
    click.echo(f"{changed.username}: {', '.join(sorted(changed.roles))}")


@staff.command("password")
@click.argument("username")
@click.option("--password-env", default=None, metavar="NAME", help="read the password from this variable")
@click.pass_obj
@friendly
def set_password(obj: Any, username: str, password_env: str | None) -> None:
    """Set a new password for a staff account (its sessions end)."""
    changed = _change(obj, username, "password", password=_password(password_env))
    click.echo(f"{changed.username}: password changed")


def _switch(name: str, doc: str) -> click.Command:
    @staff.command(name, help=doc)
    @click.argument("username")
    @click.pass_obj
    @friendly
    def command(obj: Any, username: str) -> None:
        changed = _change(obj, username, name)
        click.echo(f"{changed.username}: {name}d")
    return command


disable = _switch("disable", "Disable a staff account: no more logins, and its sessions end.")
enable = _switch("enable", "Enable a disabled staff account again.")


__all__ = ["staff"]
