"""Deployment config: every section has a default; unknown keys and bad values name their path."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from core.config import Settings, load_settings, parse_settings, starter_config
from core.errors import ConfigError
from core.plugins import get_plugin_manager


def test_starter_config_round_trips_to_the_defaults(tmp_path):
    settings = parse_settings(starter_config("k" * 43, "shenzhen"), tmp_path)
    assert settings.web.secret_key == "k" * 43 and settings.regions.default == "shenzhen"
    assert settings.regions.enabled is None
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'eportcard.db'}"
    assert settings.blob_dir == tmp_path.resolve() / "blobs"
    assert settings.agent.port == 61232 and settings.storage.archive_after_days == 30


def test_empty_file_is_all_defaults():
    assert parse_settings("", "/srv/x") == Settings(root=str(Path("/srv/x").resolve()))


def test_values_are_read(tmp_path):
    text = """
[database]
url = "postgresql+psycopg://u:p@db/eport"
[regions]
enabled = ["xian", "hangzhou"]
[calendar]
holidays = [2031-01-01]
workdays = ["2031-01-04"]
[web]
port = 9000
"""
    s = parse_settings(text, tmp_path)
    assert s.database_url == "postgresql+psycopg://u:p@db/eport"
    assert s.regions.enabled == ("xian", "hangzhou")
    assert s.calendar.holidays == (date(2031, 1, 1),) and s.calendar.workdays == (date(2031, 1, 4),)
    assert s.web.port == 9000


@pytest.mark.parametrize(("text", "path", "words"), [
    ("[web]\nprot = 8000\n", "$.web", "extra fields found (prot)"),
    ("[web]\nport = \"eighty\"\n", "$.web.port", "expected int"),
    ("[regions]\nenabled = \"xian\"\n", "$.regions.enabled", ""),
    ("[calendar]\nholidays = [\"2031-13-01\"]\n", "$.calendar.holidays", ""),
    ("[nonsense]\na = 1\n", "$", "extra fields found (nonsense)"),
    ("root = \"/etc\"\n", "$.root", "set by eportcard"),
])
def test_bad_values_name_the_path_and_the_reason(text, path, words):
    with pytest.raises(ConfigError) as err:
        parse_settings(text)
    message = f"{err.value.field} {err.value.en}"
    assert path in message and words in message
    assert err.value.zh.startswith("配置")


def test_malformed_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_settings("[web\nport=1")
    with pytest.raises(ConfigError, match="eportcard init"):
        load_settings(tmp_path / "absent.toml")


def test_enabled_region_that_is_not_installed_is_a_config_error():
    with pytest.raises(ConfigError) as err:
        get_plugin_manager(["xian", "atlantis"])
    assert "atlantis" in err.value.en and err.value.field == "regions.enabled"
    pm = get_plugin_manager(["xian"])
    assert pm.get_plugin("xian") is not None and pm.get_plugin("shenzhen") is None
