"""``eportcard guide``, ``eportcard deadline`` and ``eportcard new-region``.

They work right after install with no config file (every installed region, no calendar
overrides); when the config exists, its enabled regions and calendar overrides apply.
``--plugins-dir`` adds the region plugins in a folder, uninstalled (:mod:`core.plugin_folder`).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click

from core.calendar import CalendarOverrides, WorkCalendar, in_calendar
from core.cli_context import optional_settings
from core.cli_plugins import plugin_manager, plugins_dir_option
from core.cli_usage import friendly
from core.deadlines import china_date
from core.errors import InvalidInput
from core.guide.build import build_guide, parse_business, resolve_region
from core.guide.build import deadline as milestone_dates
from core.guide.render import guide_json, render_deadlines, render_text
from core.guide.scaffold import scaffold_region
from core.rulebook import Rulebook

__all__ = ["deadline", "guide", "new_region"]


def _rules(plugins_dir: Path | None) -> tuple[Rulebook, WorkCalendar]:
    """Rules and calendar from the config when there is one, else every region and no overrides."""
    settings = optional_settings()
    rulebook = Rulebook(plugin_manager(settings, plugins_dir))
    if settings is not None:
        overrides = CalendarOverrides(holidays=settings.calendar.holidays, workdays=settings.calendar.workdays)
        return rulebook, WorkCalendar(overrides)
    return rulebook, WorkCalendar()


def _parse_date(value: str | None, option: str) -> date:
    if value is None:
        return china_date(datetime.now(UTC))  # working days follow China's calendar date
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{option} 的日期 {value!r} 无效，请写成 YYYY-MM-DD",
                           f"{option} {value!r} is not a valid date; write it as YYYY-MM-DD",
                           field=option.lstrip("-")) from None
    return in_calendar(day, option)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.command("guide")
@click.argument("region")
@click.argument("business")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Output language (Chinese by default).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--today", default=None, metavar="YYYY-MM-DD", help="Count due dates from this day (default: today).")
@plugins_dir_option
@friendly
def guide(region: str, business: str, lang: str, as_json: bool, today: str | None, plugins_dir: Path | None) -> None:
    """办事指南: the complete guide for BUSINESS (e.g. enrol) in REGION (e.g. shenzhen)."""
    rulebook, calendar = _rules(plugins_dir)
    resolve_region(rulebook, region)
    found = build_guide(rulebook, calendar, region, parse_business(rulebook, region, business),
                        _parse_date(today, "--today"))
    if as_json:
        _echo_json(guide_json(found))
    else:
        click.echo(render_text(found, lang), nl=False)


@click.command("deadline")
@click.argument("region")
@click.argument("business")
@click.option("--from", "start", required=True, metavar="YYYY-MM-DD",
              help="The day the milestones count from (submission/acceptance/receipt).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@plugins_dir_option
@friendly
def deadline(region: str, business: str, start: str, lang: str, as_json: bool, plugins_dir: Path | None) -> None:
    """办理时限: milestone dates of BUSINESS in REGION on the working-day calendar."""
    rulebook, calendar = _rules(plugins_dir)
    resolve_region(rulebook, region)
    code = parse_business(rulebook, region, business)
    rows = milestone_dates(rulebook, calendar, region, code, _parse_date(start, "--from"))
    if as_json:
        # "due" is null for a milestone counted from a region step ("step"): its day cannot be foreseen
        _echo_json([{"code": d.code, "name": {"zh": d.name.zh, "en": d.name.en}, "days": d.days,
                     "min_days": d.min_days, "counted_from": d.counted_from.value, "step": d.step or None,
                     "not_before": d.not_before, "due": due.isoformat() if due else None}
                    for d, due in rows])
    elif rows:
        click.echo(render_deadlines(rows, lang, {s.code: s.name for s in rulebook.steps(region, code)}))
    else:
        click.echo("本分中心指引未说明办理时限，适用系统默认规则（无固定时限）。" if lang == "zh"
                   else "The region's guide does not say the timeframe; the core default applies (no fixed limit).")


@click.command("new-region")
@click.argument("code")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Where to write eportcard-region-CODE/.")
@click.option("--name-zh", default="", help="The region's Chinese name (e.g. 宁波).")
@click.option("--name-en", default="", help="The region's English name (e.g. Ningbo).")
@friendly
def new_region(code: str, directory: Path, name_zh: str, name_en: str) -> None:
    """Scaffold a region plugin distribution: placeholders to replace, tests, CI (see docs/plugins.md)."""
    target = scaffold_region(code, directory, name_zh=name_zh, name_en=name_en)
    click.echo(f"wrote {target} (see its README.md)\n"
               f"next: replace every 【占位】 / [placeholder] in {target / ('eportcard_region_' + code) / 'region.toml'}, then\n"
               f"  pip install -e '{target}[test]'\n  python -m pytest {target / 'tests'}    # the conformance kit\n"
               f"  eportcard guide {code} enrol")
