"""Evaluating a material's condition against an application (pure)."""

from __future__ import annotations

from core.model import Application, CardKind, Pickup
from core.rules import Condition, Text

CONDITION_TEXT: dict[Condition, Text] = {
    Condition.ALWAYS: Text("必须提供", "always required"),
    Condition.AGENT_NOT_LEGAL_REP: Text("经办人不是法定代表人时提供", "when the agent is not the legal representative"),
    Condition.HAS_DECLARANT: Text("办理报关员卡时提供", "when a declarant card is requested"),
    Condition.HAS_OPERATOR: Text("办理操作员卡时提供", "when operator cards are requested"),
    Condition.MAIL_PICKUP: Text("选择邮寄领卡时提供", "when cards are to be mailed"),
    Condition.COUNTER_PICKUP: Text("选择窗口领卡时提供", "when cards are collected at the counter"),
    Condition.MEDIUM_PURCHASED: Text("需自行购买介质时提供", "when the medium had to be bought"),
    Condition.DATA_MISMATCH: Text("系统自动比对不一致时提供", "when the automatic check finds a mismatch"),
    Condition.ORIGINAL_UNAVAILABLE: Text("无法提供原件时提供", "when the original cannot be supplied"),
    Condition.AGENT_NOT_HOLDER: Text("经办人不是法定代表人或本申请单中的操作员时提供",
                                     "when the agent is neither the legal representative nor an operator "
                                     "of this application"),
    Condition.HAS_LEGAL_CARD: Text("办理法人卡时提供", "when the legal card is concerned"),
    Condition.HAS_OPERATOR_CARD: Text("办理操作员卡（非报关员卡）时提供",
                                      "when an operator card (not a declarant card) is concerned"),
}


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
