"""Reading HTML form fields into domain values, collecting every problem (bilingual, with its field)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar

from core import ids
from core.errors import EportError, InvalidInput
from core.model import Address, IdType, Person


def text(form: Mapping[str, Any], key: str) -> str:
    value = form.get(key, "")
    return value.strip() if isinstance(value, str) else ""


def _squeeze(value: str) -> str:
    return "".join(value.split()).upper()


E = TypeVar("E", bound=StrEnum)


def choice(kind: type[E], value: Any, default: E, problems: list[EportError], field: str, zh: str, en: str) -> E:
    """A chosen option as a member of ``kind`` (``default`` when none was chosen); a value that is not one
    is recorded as a problem (``zh`` / ``en``) and ``default`` stands in."""
    try:
        return kind(value or default.value)
    except ValueError:
        problems.append(InvalidInput(zh, en, field=field))
        return default


def person_from(form: Mapping[str, Any], prefix: str, problems: list[EportError], *,
                phone_required: bool = False) -> Person:
    """A :class:`Person` from ``<prefix>.name``, ``.id_type``, ``.id_number``, ``.id_valid_from``,
    ``.id_valid_to`` (``00000000`` = long-term), ``.phone`` and ``.nationality``; checked as core does."""
    id_type = choice(IdType, text(form, f"{prefix}.id_type"), IdType.RESIDENT_ID, problems, f"{prefix}.id_type",
                     "请选择证件类型。", "Choose the ID type.")
    valid_from = valid_to = None
    if text(form, f"{prefix}.id_valid_from"):
        try:
            valid_from = ids.parse_id_validity(text(form, f"{prefix}.id_valid_from"), f"{prefix}.id_valid_from")
        except InvalidInput as exc:
            problems.append(exc)
    if text(form, f"{prefix}.id_valid_to"):
        try:
            valid_to = ids.parse_id_validity(text(form, f"{prefix}.id_valid_to"), f"{prefix}.id_valid_to")
        except InvalidInput as exc:
            problems.append(exc)
    phone = _squeeze(text(form, f"{prefix}.phone"))
    if phone_required and not phone:
        problems.append(InvalidInput("请填写手机号码。", "Enter the mobile number.", field=f"{prefix}.phone"))
    person = Person(name=text(form, f"{prefix}.name"), id_number=_squeeze(text(form, f"{prefix}.id_number")),
                    id_type=id_type, phone=phone, nationality=text(form, f"{prefix}.nationality") or "CHN",
                    id_valid_from=valid_from, id_valid_to=valid_to)
    problems.extend(ids.validate_person(person, prefix))
    return person


def person_fields(person: Person | None, prefix: str) -> dict[str, str]:
    """The form values that show ``person`` again (the inverse of :func:`person_from`)."""
    if person is None:
        return {}
    return {f"{prefix}.name": person.name, f"{prefix}.id_type": person.id_type.value,
            f"{prefix}.id_number": person.id_number, f"{prefix}.phone": person.phone,
            f"{prefix}.nationality": person.nationality,
            f"{prefix}.id_valid_from": person.id_valid_from.strftime("%Y%m%d") if person.id_valid_from else "",
            f"{prefix}.id_valid_to": person.id_valid_to.strftime("%Y%m%d") if person.id_valid_to else "00000000"}


def address_from(form: Mapping[str, Any], prefix: str, problems: list[EportError]) -> Address:
    address = Address(province=text(form, f"{prefix}.province"), city=text(form, f"{prefix}.city"),
                      district=text(form, f"{prefix}.district"), detail=text(form, f"{prefix}.detail"))
    if not address.province or not address.city:
        problems.append(InvalidInput("请填写省、市。", "Enter the province and city.", field=f"{prefix}.city"))
    if not address.detail:
        problems.append(InvalidInput("请填写详细地址。", "Enter the street address.", field=f"{prefix}.detail"))
    return address


def address_fields(address: Address | None, prefix: str) -> dict[str, str]:
    if address is None:
        return {}
    return {f"{prefix}.province": address.province, f"{prefix}.city": address.city,
            f"{prefix}.district": address.district, f"{prefix}.detail": address.detail}


def check(problems: list[EportError], field: str, fn, *args) -> Any:
    """Run one validator; record its problem instead of raising. Returns its value or None."""
    try:
        return fn(*args)
    except InvalidInput as exc:
        if exc.field is None:
            exc.field = field
        problems.append(exc)
        return None


__all__ = ["address_fields", "address_from", "check", "choice", "person_fields", "person_from", "text"]
