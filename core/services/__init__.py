"""Orchestration: load -> domain transition -> persist -> audit -> notify (the only place that mixes)."""

from core.services.actors import Actor, authorise, require_role
from core.services.context import Services

__all__ = ["Actor", "Services", "authorise", "require_role"]
