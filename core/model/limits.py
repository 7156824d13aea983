"""The longest text each field of the model may hold, and the one check that enforces it (pure).

Every ``str`` attribute of every model class has an entry here (a test holds that), so nothing a
person types is unbounded: the CLI's application files, the API's bodies and the portal's forms all
end in the domain calls that apply :func:`overlong`, and ``/openapi.json`` publishes the same numbers
as ``maxLength``.

No published E-Port form states maximum lengths, so these are ours: well above the longest genuine
value (so no real entry is refused) and small enough that a field cannot carry megabytes. Identifier
fields leave room over their fixed length (18 for a USCC, GB 32100-2015; 18 for a resident ID, GB
11643-1999; 13 for a device number) so that the identifier check, which says what is wrong, sees a
mistyped value first. Lengths count characters (code points), not bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

import attrs

from core.errors import InvalidInput, Problems
from core.model.application import (
    Application,
    AttachmentRef,
    CardRequest,
    MailAddress,
    PickupChoice,
    Transition,
)
from core.model.attachment import Attachment
from core.model.card import Card, CardEvent, CertificateRef
from core.model.parties import Address, Enterprise, Person

NAME = 100  # a person's or an enterprise's Chinese name; foreign names in passports run to ~40 characters
NAME_EN = 200  # an enterprise's English name is often twice its Chinese one
PLACE = 50  # province, city, district
ADDRESS = 200  # a street address, or a whole postal address in one line
IDENTIFIER = 32  # ID and passport numbers, USCC, device, declarant and tracking numbers, phones
CODE = 64  # codes the system or a region defines: ids, outlets, steps, materials, actions
REMARKS = 1000  # the application's 备注 (remarks): a few sentences of instructions
NOTE = 2000  # a staff note on a transition (a rejection explains what to fix)
FILENAME = 255  # the longest file name common file systems allow
LABEL = 200  # "staff:<username>" / "enterprise:<username>", media types

MAX_LENGTH: dict[type, dict[str, int]] = {
    Address: {"province": PLACE, "city": PLACE, "district": PLACE, "detail": ADDRESS},
    Person: {"name": NAME, "id_number": IDENTIFIER, "phone": IDENTIFIER, "nationality": 16},
    Enterprise: {"uscc": IDENTIFIER, "name": NAME, "name_en": NAME_EN, "customs_codes": IDENTIFIER,
                 "enterprise_type": PLACE},
    CardRequest: {"device_no": IDENTIFIER, "declarant_no": IDENTIFIER, "card_id": CODE},
    MailAddress: {"recipient": NAME, "phone": IDENTIFIER, "address": ADDRESS},
    PickupChoice: {"outlet": CODE},
    Transition: {"action": CODE, "actor": LABEL, "note": NOTE},
    AttachmentRef: {"attachment_id": CODE, "material": CODE, "filename": FILENAME},
    Application: {"id": CODE, "region": CODE, "channel": CODE, "remarks": REMARKS, "making_centre": CODE,
                  "issuing_centre": CODE, "home_branch": CODE, "acceptance_no": IDENTIFIER, "steps_done": CODE,
                  "tracking_no": IDENTIFIER},
    Attachment: {"id": CODE, "sha256": CODE, "filename": FILENAME, "media_type": LABEL, "owner_uscc": IDENTIFIER,
                 "application_id": CODE, "material": CODE},
    CertificateRef: {"serial": CODE},
    CardEvent: {"action": CODE, "actor": LABEL, "note": NOTE},
    Card: {"id": CODE, "enterprise_uscc": IDENTIFIER, "device_no": IDENTIFIER, "card_no": CODE,
           "replaced_by": CODE, "application_id": CODE},
}


def max_length(cls: type, name: str) -> int:
    return MAX_LENGTH[cls][name]


def overlong(value: Any, field: str = "") -> list[InvalidInput]:
    """Every text in ``value`` (a model object, walked through its parts) longer than its maximum."""
    return overlong_fields(type(value), {a.name: getattr(value, a.name) for a in attrs.fields(type(value))},
                           field)


def overlong_fields(cls: type, values: Mapping[str, Any], field: str = "") -> list[InvalidInput]:
    """:func:`overlong` for some fields of ``cls`` only (the changes an edit makes)."""
    problems: list[InvalidInput] = []
    for name, value in values.items():
        path = f"{field}.{name}" if field else name
        if isinstance(value, tuple):
            for n, item in enumerate(value, start=1):
                problems += _check(cls, name, item, f"{path}[{n}]")
        else:
            problems += _check(cls, name, value, path)
    return problems


def _check(cls: type, name: str, value: Any, path: str) -> list[InvalidInput]:
    if isinstance(value, Enum):  # a StrEnum is a str, but its values are ours
        return []
    if isinstance(value, str):
        limit = MAX_LENGTH[cls][name]
        if len(value) <= limit:
            return []
        return [InvalidInput(f"{path} 最多 {limit} 个字符（现为 {len(value)} 个），请删减后再提交。",
                             f"{path} may hold at most {limit} characters (it has {len(value)}); shorten it.",
                             field=path)]
    if attrs.has(type(value)):
        return overlong(value, path)
    return []


def refuse_overlong(problems: list[InvalidInput]) -> None:
    """Raise the problem (or all of them): a too-long value changes nothing."""
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise Problems(tuple(problems))


__all__ = ["MAX_LENGTH", "max_length", "overlong", "overlong_fields", "refuse_overlong"]
