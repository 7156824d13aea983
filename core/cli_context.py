"""The deployment config every ``eportcard`` command reads, however deep it sits.

One rule for every command group: the global ``-c/--config`` names the file, else ``EPORTCARD_CONFIG``,
else ``./eportcard.toml``. Relative paths in it (database, CA, keys, blobs) are relative to its folder,
never to the current one. Commands that work on a deployment (its database, CA or keys) need the file;
the guide and the card agent also run without one, on the defaults.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

import click

from core.config import CONFIG_ENV, CONFIG_NAME, Settings, load_settings

__all__ = ["cli_actor_id", "config_path", "default_config_path", "deployment_settings", "operating_system_user",
           "optional_settings"]


def default_config_path() -> Path:
    """``$EPORTCARD_CONFIG``, else ``eportcard.toml`` in the current folder."""
    return Path(os.environ.get(CONFIG_ENV) or CONFIG_NAME)


def config_path(ctx: click.Context | None = None) -> Path:
    """The config file named by the ``eportcard`` group's ``-c/--config`` (or its default). A command
    group invoked on its own (as tests do) has no such group: the default applies."""
    ctx = ctx or click.get_current_context()
    named = getattr(ctx.find_root().obj, "config", None)
    return Path(named) if named is not None else default_config_path()


def deployment_settings(ctx: click.Context | None = None) -> Settings:
    """The deployment's settings; a missing or invalid config is a one-line ConfigError."""
    return load_settings(config_path(ctx))


def optional_settings(ctx: click.Context | None = None) -> Settings | None:
    """The deployment's settings, or None when its config file does not exist."""
    path = config_path(ctx)
    return load_settings(path) if path.exists() else None


def operating_system_user() -> str:
    """Who runs the command: the effective user's login name (from the user database, not from
    ``$USER``), and the person who ran it through sudo when that is someone else."""
    try:
        import pwd

        name = pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):  # no user database entry (a container's bare uid)
        try:
            name = getpass.getuser()
        except (OSError, KeyError):
            name = f"uid{os.geteuid()}" if hasattr(os, "geteuid") else "unknown"
    sudo = os.environ.get("SUDO_USER")
    return f"{name} (sudo {sudo})" if sudo and sudo != name else name


def cli_actor_id(name: str | None = None) -> str:
    """Who the command line acts as (``Actor.system(cli_actor_id())``, audited ``system:cli:<OS user>``);
    ``name`` (``--actor``) says for whom, after it: ``cli:root as 王某``."""
    who = f"cli:{operating_system_user()}"
    return f"{who} as {name}" if name else who
