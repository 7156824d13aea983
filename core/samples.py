"""Well-formed sample enterprises, people and applications (valid checksums).

Used by the demo data, the conformance kit and tests. Deterministic: the same
``n`` always gives the same identifiers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from stdnum.cn import ric, uscc

from core.model import (
    Address,
    Application,
    Business,
    CardKind,
    CardRequest,
    Enterprise,
    MailAddress,
    Person,
    Pickup,
    PickupChoice,
)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"

# (province, city, district, area code of the resident ID) for each built-in region
PLACES: dict[str, tuple[str, str, str, str]] = {
    "shenzhen": ("广东省", "深圳市", "福田区", "440304"),
    "changchun": ("吉林省", "长春市", "朝阳区", "220104"),
    "xiamen": ("福建省", "厦门市", "湖里区", "350206"),
    "hangzhou": ("浙江省", "杭州市", "上城区", "330102"),
    "xian": ("陕西省", "西安市", "雁塔区", "610113"),
}


def make_uscc(n: int, area: str = "440300") -> str:
    body = f"91{area}MA{n:07d}"[:17]
    body = body + "0" * (17 - len(body))
    return body + uscc.calc_check_digit(body)


def make_resident_id(n: int, area: str = "440304", born: date = date(1985, 6, 15)) -> str:
    body = f"{area}{born:%Y%m%d}{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum expects a placeholder check digit


def make_person(n: int, area: str = "440304") -> Person:
    name = SURNAMES[n % len(SURNAMES)] + GIVEN[(n // len(SURNAMES)) % len(GIVEN)]
    return Person(name=name, id_number=make_resident_id(n, area), phone=f"139{n % 10**8:08d}",
                  id_valid_from=date(2020, 1, 1), id_valid_to=None)


def make_enterprise(n: int, region: str = "shenzhen") -> Enterprise:
    province, city, district, area = PLACES.get(region, PLACES["shenzhen"])
    address = Address(province, city, district, f"示例路{n}号")
    return Enterprise(uscc=make_uscc(n, area[:4] + "00"), name=f"{city[:-1]}示例贸易有限公司{n}",
                      legal_rep=make_person(10 * n + 1, area), business_address=address,
                      registered_address=address, customs_codes=(f"{area[:4]}96{n % 10000:04d}",),
                      enterprise_type="有限责任公司")


def make_enrol(n: int, region: str = "shenzhen", operators: int = 1, pickup: Pickup = Pickup.COUNTER,
               making_centre: str = "") -> Application:
    """A complete enrolment: the legal card plus ``operators`` operator cards, agent = legal rep."""
    enterprise = make_enterprise(n, region)
    area = PLACES.get(region, PLACES["shenzhen"])[3]
    items = [CardRequest(kind=CardKind.LEGAL, holder=enterprise.legal_rep)]
    items += [CardRequest(kind=CardKind.OPERATOR, holder=make_person(10 * n + 2 + i, area))
              for i in range(operators)]
    mail = MailAddress(enterprise.legal_rep.name, enterprise.legal_rep.phone, str(enterprise.business_address))
    choice = PickupChoice(method=pickup, mail_to=mail if pickup is Pickup.MAIL else None)
    return Application(id=f"A{n:08d}", enterprise=enterprise, business=Business.ENROL, region=region,
                       items=tuple(items), agent=enterprise.legal_rep, pickup=choice,
                       making_centre=making_centre, created_at=datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
