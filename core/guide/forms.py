"""What a region's printable form says when it is downloaded from the guide (pure: no I/O).

A form (``core.rules.Form``) names its fields by keys into a pre-fill context. From the guide there is no
application yet, so only the enterprise's own registered data can be filled in: for an enterprise that is
logged in, its name, code and legal representative; for anyone else nothing, and the form prints blank for
handwriting. Identity numbers are left blank too: the pages show them only masked, and a masked number on
a form would be wrong.
"""

from __future__ import annotations

from datetime import date

from attrs import frozen

from core.model import Business, Enterprise
from core.rules import Form, Region, Text

__all__ = ["FilledForm", "fill_form", "prefill_context"]


@frozen
class FilledForm:
    """A form with the value (possibly "") of each of its fields, in the form's order."""

    region: Region
    business: Business
    business_name: Text
    form: Form
    values: tuple[str, ...]
    prefilled_for: str = ""  # the enterprise whose data it carries ("" = blank)


def prefill_context(enterprise: Enterprise, business_name: Text, today: date) -> dict[str, str]:
    """The keys a form may name, with the enterprise's registered data."""
    rep = enterprise.legal_rep
    context = {
        "date": today.isoformat(),
        "business": business_name.zh,
        "enterprise.name": enterprise.name,
        "enterprise.name_en": enterprise.name_en,
        "enterprise.uscc": enterprise.uscc,
        "enterprise.address": str(enterprise.business_address),
        "enterprise.legal_rep.name": rep.name,
        "enterprise.legal_rep.phone": rep.phone,
    }
    # 附件2 asks for the legal card holder: the legal representative.
    context |= {"legal_holder.name": rep.name, "legal_holder.phone": rep.phone,
                "legal_holder.nationality": rep.nationality}
    return context


def fill_form(region: Region, business: Business, business_name: Text, form: Form,
              enterprise: Enterprise | None, today: date) -> FilledForm:
    """``form`` with the enterprise's data where it names them (blank without an enterprise)."""
    context = prefill_context(enterprise, business_name, today) if enterprise else {}
    return FilledForm(region=region, business=business, business_name=business_name, form=form,
                      values=tuple(context.get(f.key, "") for f in form.fields),
                      prefilled_for=enterprise.name if enterprise else "")
