"""The daily jobs note how they ended, so the web front can report it at ``/metrics``.

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
from core.config import load_settings
from core.errors import EportError
from core.services.deployment import jobs_dir, record_job

Command = TypeVar("Command", bound=Callable[..., Any])

__all__ = ["records_outcome"]


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
