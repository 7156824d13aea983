"""Orchestration: load -> domain transition -> persist -> audit -> notify (the only place that mixes)."""

from core.services.actors import Actor, authorise
from core.services.context import Services

__all__ = ["Actor", "Services", "authorise"]
