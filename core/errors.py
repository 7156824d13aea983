"""Errors a person sees: what was wrong and what to do, in Chinese and English."""

from __future__ import annotations

from typing import Any


class EportError(Exception):
    """Base of every expected failure. ``str()`` gives ``"中文 / English"``."""

    code = "error"

    def __init__(self, zh: str, en: str, *, field: str | None = None) -> None:
        self.zh = zh
        self.en = en
        self.field = field
        super().__init__(f"{zh} / {en}")

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "field": self.field, "zh": self.zh, "en": self.en}

    def __reduce__(self) -> tuple[Any, ...]:
        # An error raised in a worker process crosses back by pickle, which by default calls
        # ``cls(*args)``: that fails for every signature here, and a multiprocessing pool then hangs.
        return _rebuilt, (type(self), self.args, self.__dict__.copy())


def _rebuilt(cls: type[EportError], args: tuple[Any, ...], state: dict[str, Any]) -> EportError:
    """``cls``'s error as it was pickled, without calling its ``__init__``."""
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class InvalidInput(EportError):
    """A value failed validation (identifier, form field, file)."""

    code = "invalid"


class TransitionError(EportError):
    """An action is not allowed in the current state."""

    code = "illegal_transition"


class RuleViolation(EportError):
    """A business rule (core or regional) forbids the request."""

    code = "rule_violation"


class ConflictError(EportError):
    """Someone else changed the record first (optimistic concurrency)."""

    code = "conflict"


class NotFound(EportError):
    code = "not_found"


class Forbidden(EportError):
    code = "forbidden"


class ConfigError(EportError):
    code = "config"


class TooManyRequests(EportError):
    """A cap on how often something may be done (e.g. SMS codes per number per hour) is reached."""

    code = "too_many_requests"


class Unavailable(EportError):
    """The deployment cannot do this (e.g. no SMS gateway is configured)."""

    code = "unavailable"


class Problems(InvalidInput):
    """Several validation problems at once; each names its field."""

    code = "problems"

    def __init__(self, problems: list[EportError] | tuple[EportError, ...]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            "；".join(p.zh for p in self.problems),
            "; ".join(p.en for p in self.problems),
        )

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "problems": [p.as_dict() for p in self.problems],
                "zh": self.zh, "en": self.en}
