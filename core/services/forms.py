"""The forms a region names, downloaded from its guide: pre-filled with the logged-in enterprise's data."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import NotFound
from core.guide.build import offer_labels, parse_business, resolve_region
from core.guide.forms import FilledForm, fill_form
from core.services.actors import Actor

if TYPE_CHECKING:
    from core.services.context import Services


class FormService:
    def __init__(self, services: Services) -> None:
        self.s = services

    def filled(self, region: str, business: str, code: str, actor: Actor | None) -> FilledForm:
        """Form ``code`` of ``business`` in ``region`` with the values to print: the actor's enterprise's
        registered data when an enterprise is logged in, blank otherwise. Unknown region, business or form:
        a bilingual NotFound naming what exists."""
        rules = self.s.rulebook
        info = resolve_region(rules, region)
        chosen = parse_business(rules, info.code, business)
        forms = rules.forms(info.code, chosen)
        form = next((f for f in forms if f.code == code), None)
        if form is None:
            named = "、".join(f.code for f in forms) or "-"
            raise NotFound(f"此业务没有表格“{code}”；本业务的表格：{named}",
                           f"this business has no form “{code}”; its forms: {named}", field="form")
        enterprise = None
        if actor is not None and actor.kind == "enterprise":
            with self.s.store.transaction(readonly=True) as tx:
                enterprise = tx.enterprises.get(actor.uscc)
        name = offer_labels(rules.offers(info.code))[chosen]
        return fill_form(info, chosen, name, form, enterprise, self.s.today())


__all__ = ["FormService"]
