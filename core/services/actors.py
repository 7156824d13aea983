"""Who is acting, and what they may do: per-enterprise and per-branch authorisation.

Every service call names an :class:`Actor`; the check happens in the service, so the
CLI, the web front and the API share one rule.
"""

from __future__ import annotations

from attrs import frozen

from core.errors import Forbidden
from core.model import Application

ENTERPRISE_ACTIONS = frozenset({"create", "edit", "submit", "withdraw", "resubmit", "delete", "attach",
                                "view"})
STAFF_ROLES: dict[str, frozenset[str]] = {
    "reviewer": frozenset({"view", "accept", "reject", "step", "attach"}),
    "card_maker": frozenset({"view", "require_medium", "provide_medium", "start_production", "make",
                             "complete", "step"}),
    "counter_clerk": frozenset({"view", "provide_medium", "ship", "deliver", "return", "hand_over", "step"}),
}
STAFF_ROLES["branch_admin"] = frozenset().union(*STAFF_ROLES.values()) | {"admin"}


@frozen
class Actor:
    id: str
    kind: str  # "enterprise" | "staff" | "system"
    uscc: str = ""  # enterprise actors: their enterprise
    region: str = ""  # staff: their branch
    roles: frozenset[str] = frozenset()

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def system(cls, name: str = "cli") -> Actor:
        return cls(id=name, kind="system")

    def may(self, action: str) -> bool:
        if self.kind == "system":
            return True
        if self.kind == "enterprise":
            return action in ENTERPRISE_ACTIONS
        return any(action in STAFF_ROLES.get(role, ()) for role in self.roles)


def require_role(actor: Actor, action: str) -> None:
    """Raise :class:`Forbidden` unless ``actor``'s kind and roles allow ``action`` on any application.

    Checked first, before a form or body is read, an application loaded or a card reader opened: a role
    that may never do it gets this answer, whatever else is wrong with the request. It says nothing
    about any application. :func:`authorise` still checks the application itself (owner, branch).
    """
    if not actor.may(action):
        raise Forbidden("您的角色不能办理此项操作", "your roles do not allow this action", field="roles")


def authorise(actor: Actor, action: str, app: Application) -> None:
    """Raise :class:`Forbidden` unless ``actor`` may do ``action`` on ``app``.

    The refusal does not say whether the application exists, so ids cannot be probed.
    """
    owner = actor.kind == "enterprise" and actor.uscc == app.enterprise.uscc
    branch = actor.kind == "staff" and actor.region == app.region
    if actor.kind == "system" or ((owner or branch) and actor.may(action)):
        return
    raise Forbidden("无权查看或办理此申请单", "you may not view or act on this application", field="application")
