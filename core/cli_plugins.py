"""The region plugins a command works with: the config's, plus ``--plugins-dir`` (serve, regions, guide).

``--plugins-dir DIR`` takes the place of ``[regions] plugins_dir`` (relative to the current folder,
as options are; the config key is relative to the config's folder). See :mod:`core.plugin_folder`.
"""

from __future__ import annotations

from pathlib import Path

import click
from attrs import evolve

from core.config import Settings
from core.plugins import RegionPluginManager, get_plugin_manager

__all__ = ["plugin_manager", "plugins_dir_option", "with_plugins_dir"]

plugins_dir_option = click.option(
    "--plugins-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Also load the region plugins (*.py modules and packages) in this folder, without installing "
         "them (instead of [regions] plugins_dir).")


def with_plugins_dir(settings: Settings, folder: Path | None) -> Settings:
    """``settings`` with ``folder`` (the option) in place of ``[regions] plugins_dir``."""
    if folder is None:
        return settings
    return evolve(settings, regions=evolve(settings.regions, plugins_dir=str(folder.resolve())))


def plugin_manager(settings: Settings | None, folder: Path | None = None) -> RegionPluginManager:
    """The deployment's plugins (every installed region without a config), and ``folder``'s."""
    if settings is None:
        return get_plugin_manager(plugins_dir=folder)
    settings = with_plugins_dir(settings, folder)
    return get_plugin_manager(settings.regions.enabled, plugins_dir=settings.plugins_dir)
