"""Orchestration: load -> domain transition -> persist -> audit -> notify (the only place that mixes)."""

from sqlalchemy.exc import (
    OperationalError as DatabaseUnavailable,  # locked past its busy timeout, or unreachable
)

from core.services.actors import Actor, authorise, require_role
from core.services.context import Services

__all__ = ["Actor", "DatabaseUnavailable", "Services", "authorise", "require_role"]
