"""``eportcard jobs`` (the scheduled jobs) and ``eportcard notify``; and how the daily jobs note their end.

``eportcard jobs run-due`` runs every job of the registry (core/services/jobs.py) that is due, each
by exactly one runner however many run at once (a lease in the database): from a systemd timer or a
cron line, on one machine or several (docs/deployment.md). Exit 0: every job it ran ended well; 1: one
failed (the others still ran); 2: it could not run at all (no config, no database).

``@records_outcome("audit_verify")`` on a command (inside click's decorators, outside the one that
turns errors into one line) writes its exit code to ``jobs/<job>.json`` beside the config
(core/store/jobs.py): 0 done, 1 failed, 2 could not run or check. A job run without a readable
config has nowhere to note it, and notes nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from core.cli_context import config_path
from core.cli_usage import friendly
from core.config import load_settings, secret_values
from core.errors import EportError
from core.services.deployment import jobs_dir, record_job

Command = TypeVar("Command", bound=Callable[..., Any])

__all__ = ["jobs", "notify", "records_outcome"]


def records_outcome(job: str) -> Callable[[Command], Command]:
    def wrap(command: Command) -> Command:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            code = 1  # any exception that is not an exit: a failure
            try:
                result = command(*args, **kwargs)
                code = 0
                return result
            except (click.ClickException, click.exceptions.Exit) as exc:
                code = exc.exit_code
                raise
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
                raise
            finally:
                _note(job, code)

        return run  # type: ignore[return-value]

    return wrap


def _note(job: str, code: int) -> None:
    path = config_path()
    if not path.exists():
        return
    try:
        settings = load_settings(path)
    except EportError:
        return
    record_job(jobs_dir(settings), job, code)


# ---- eportcard jobs ------------------------------------------------------------------------------------------


class CannotRun(click.ClickException):
    exit_code = 2


def _scheduler(obj: Any) -> Any:
    from core.services.jobs import Scheduler

    try:
        return Scheduler(obj.services)
    except EportError as exc:
        raise CannotRun(str(exc)) from None


@click.group("jobs")
def jobs() -> None:
    """计划任务（提醒、发送通知、CRL……）/ Scheduled jobs (reminders, notices, CRL ...)."""


@jobs.command("run-due")
@click.option("--job", "only", default=None, help="Run this job only (if it is due).")
@click.pass_obj
@records_outcome("jobs_run_due")
def run_due(obj: Any, only: str | None) -> None:
    """运行到期的任务 / Run every due job; safe on several machines at once (each job runs once)."""
    from core.web.logs import configured_logging

    scheduler = _scheduler(obj)
    # A job's log lines (a gateway's failure among them) go to the journal without the deployment's secrets.
    with configured_logging(secrets=secret_values(obj.services.settings)):
        try:
            results = scheduler.run_due(only=only)
        except EportError as exc:
            raise CannotRun(str(exc)) from None
    for result in results:
        state = ("ok" if result.ok else "FAILED") if result.ran else "-"
        click.echo(f"{result.name:20} {state:6} {result.summary}")
    failed = [r.name for r in results if r.ran and not r.ok]
    if failed:
        raise click.ClickException(f"任务失败 / job(s) failed: {', '.join(failed)}")


@jobs.command("list")
@click.pass_obj
@friendly
def list_jobs(obj: Any) -> None:
    """每个任务的上次运行、结果和下次运行 / Each job's last run, result and next run."""
    for status in _scheduler(obj).status():
        row = status.row
        last = f"{row.last_finished_at:%Y-%m-%d %H:%M}" if row and row.last_finished_at else "never"
        upcoming = f"{row.next_run_at:%Y-%m-%d %H:%M}" if row else "now"
        result = (row.last_result or "-") if row else "-"
        flag = "" if status.enabled else "  (disabled)"
        click.echo(f"{status.job.name:20} last {last:16} {result:6} next {upcoming}{flag}  "
                   f"{row.last_summary if row else ''}".rstrip())


@jobs.command("run")
@click.argument("name")
@click.pass_obj
@friendly
def run_now(obj: Any, name: str) -> None:
    """把任务设为立即到期 / Make job NAME due now (the next `jobs run-due` runs it)."""
    _scheduler(obj).run_now(name)
    click.echo(f"{name} is due now / 已设为立即运行")


# ---- eportcard notify ------------------------------------------------------------------------------------------


@click.group("notify")
def notify() -> None:
    """通知：短信模板 / Notices: the SMS templates to register with the provider."""


@notify.command("templates")
@click.option("--region", default="", help="The region whose wording to print (default: core's).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh")
@click.pass_obj
@friendly
def templates(obj: Any, region: str, lang: str) -> None:
    """Each notice's SMS template with its parameters numbered {1}, {2} ... in the order they are sent
    (register these with the SMS provider, then list their ids in [sms] options.templates)."""
    from core.notices import NoticeKind, placeholders

    notifications = obj.services.notifications
    for kind in NoticeKind:
        template = getattr(notifications.wording(region or obj.settings.regions.default, kind).sms, lang)
        names = placeholders(template)
        numbered = template
        for number, name in enumerate(names, start=1):
            numbered = numbered.replace("{" + name + "}", "{" + str(number) + "}", 1)
        click.echo(f"{kind.value}\n  {numbered}\n  " + ", ".join(f"{{{n}}}={name}" for n, name in
                                                                  enumerate(names, start=1)))
