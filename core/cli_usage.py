"""Command-line usage mistakes as one bilingual line (exit 2), like every other ``eportcard`` error.

Click answers a bad option, a bad choice or an unknown command with its usage block and an English
``Error:`` line. :class:`OneLineGroup` (the class of the ``eportcard`` group) turns each of those into
``Error: 中文 / English``, naming what was wrong, the valid choices and where to read the help;
``--help`` and a bare group (which shows its help) are unchanged. :func:`friendly` does the same for
the expected errors a command meets (exit 1); every command module uses it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

import click
from click.exceptions import NoArgsIsHelpError

from core.errors import EportError, Problems

__all__ = ["OneLineGroup", "UsageLine", "friendly", "usage_line"]


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn expected errors into one-line messages (exit 1)."""
    @wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Problems as exc:
            lines = [f"{p.field or '-'}: {p.zh} / {p.en}" for p in exc.problems]
            raise click.ClickException(
                f"{len(lines)} 个问题 / {len(lines)} problem(s):\n  " + "\n  ".join(lines)) from None
        except EportError as exc:
            raise click.ClickException(str(exc)) from None
    return run


class UsageLine(click.ClickException):
    """A usage mistake already put in one bilingual line; exits 2 as click's usage errors do."""

    exit_code = 2


def _hint(exc: click.BadParameter) -> str:
    if exc.param_hint is not None:
        hints = [exc.param_hint] if isinstance(exc.param_hint, str) else list(exc.param_hint)
    elif exc.param is not None:
        found = exc.param.get_error_hint(exc.ctx)
        hints = [found] if isinstance(found, str) else list(found)
    else:
        return ""
    return " / ".join(h.strip("'\"") for h in hints)


def _chinese(exc: click.UsageError) -> str:
    if isinstance(exc, click.NoSuchOption):
        return f"没有选项 {exc.option_name}"
    if isinstance(exc, click.exceptions.NoSuchCommand):
        return f"没有命令 {exc.command_name}"
    if isinstance(exc, click.BadParameter):
        if isinstance(exc, click.MissingParameter):
            said = f"缺少 {_hint(exc)}".rstrip()
        else:
            said = f"{_hint(exc)} 的值无效" if _hint(exc) else "参数值无效"
        choices = getattr(exc.param.type, "choices", None) if exc.param is not None else None
        return f"{said}，可选：{', '.join(map(str, choices))}" if choices else said
    if isinstance(exc, click.BadOptionUsage):
        return f"选项 {exc.option_name} 的用法不对"
    return "命令的用法不对"


def usage_line(exc: click.UsageError) -> str:
    """``中文 / English`` for one usage mistake, pointing at the command's ``--help``."""
    command = exc.ctx.command_path if exc.ctx is not None else "eportcard"
    english = " ".join(exc.format_message().split())  # click's message, on one line
    return f"{_chinese(exc)}（见 {command} --help） / {english} (see {command} --help)"


@contextmanager
def _one_line() -> Iterator[None]:
    try:
        yield
    except NoArgsIsHelpError:  # a bare group shows its help, as before
        raise
    except click.UsageError as exc:
        raise UsageLine(usage_line(exc)) from None


class OneLineGroup(click.Group):
    """A group whose usage mistakes, its own and every subcommand's, are one bilingual line."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        with _one_line():  # the group's own options and arguments
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with _one_line():  # the subcommands' (parsed and run inside the group's invoke)
            return super().invoke(ctx)
