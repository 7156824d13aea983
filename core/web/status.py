"""The HTTP status of each kind of refusal (pages, the JSON API and the card endpoints answer alike)."""

from __future__ import annotations

from core.errors import (
    ConflictError,
    EportError,
    Forbidden,
    InvalidInput,
    NotFound,
    Problems,
    TooManyRequests,
    TransitionError,
    Unavailable,
)
from core.web.limits import BodyTooLarge


def status_for(exc: EportError) -> int:
    if isinstance(exc, BodyTooLarge):
        return 413
    if isinstance(exc, Forbidden):
        return 403
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, ConflictError | TransitionError):
        return 409
    if isinstance(exc, TooManyRequests):
        return 429
    if isinstance(exc, Unavailable):
        return 503
    if isinstance(exc, Problems):  # code "problems": e.g. what stops a submission (docs/api.md: 422)
        return 422
    if isinstance(exc, InvalidInput):
        return 400
    return 422


__all__ = ["status_for"]
