"""Evaluating a material's condition against an application (pure)."""

from __future__ import annotations

from core.model import Application, CardKind, Pickup
from core.rules import Condition


def holds(condition: Condition, app: Application) -> bool:
    """Whether a material with ``condition`` is needed for ``app``.

    Conditions that depend on facts only staff learn later (a failed automatic check,
    a missing original, a purchase) are kept: the enterprise should be ready with them.
    """
    match condition:
        case Condition.AGENT_NOT_LEGAL_REP:
            return app.agent is None or app.agent.id_number != app.enterprise.legal_rep.id_number
        case Condition.HAS_DECLARANT:
            return any(i.kind is CardKind.DECLARANT for i in app.items)
        case Condition.HAS_OPERATOR:
            return any(i.kind is not CardKind.LEGAL for i in app.items)
        case Condition.MAIL_PICKUP:
            return app.pickup.method is Pickup.MAIL
        case Condition.COUNTER_PICKUP:
            return app.pickup.method is Pickup.COUNTER
        case Condition.AGENT_NOT_HOLDER:
            holders = {app.enterprise.legal_rep.id_number} | {i.holder.id_number for i in app.operators}
            return app.agent is None or app.agent.id_number not in holders
        case Condition.HAS_LEGAL_CARD:
            return any(i.kind is CardKind.LEGAL for i in app.items)
        case Condition.HAS_OPERATOR_CARD:
            return any(i.kind is CardKind.OPERATOR for i in app.items)
        case _:
            return True
