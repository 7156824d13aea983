"""Enterprises and people. Values are frozen; identifiers are validated by core.ids at the edges."""

from __future__ import annotations

from datetime import date

from attrs import frozen

from core.model.enums import IdType


@frozen
class Address:
    province: str
    city: str
    district: str = ""
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.province}{self.city}{self.district}{self.detail}"


@frozen
class Person:
    name: str
    id_number: str
    id_type: IdType = IdType.RESIDENT_ID
    phone: str = ""
    nationality: str = "CHN"
    id_valid_from: date | None = None
    id_valid_to: date | None = None  # None = long-term (entered as 00000000)


@frozen
class Enterprise:
    uscc: str  # 统一社会信用代码
    name: str  # 单位中文名称
    legal_rep: Person  # 法定代表人
    business_address: Address  # 主要经营场所: decides the home branch
    registered_address: Address | None = None
    name_en: str = ""
    customs_codes: tuple[str, ...] = ()  # dual codes entered as A&B
    enterprise_type: str = ""

    @property
    def customs_code_text(self) -> str:
        return "&".join(self.customs_codes)
