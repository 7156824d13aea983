"""深圳 (Shenzhen) region: rules from ../shared/seeds/000_acc9b246733ddaa2.txt.

Data in region.toml; the hookimpls below are the rules that are logic.
"""

from pathlib import Path

from core import hookimpl
from core.model import Application, Business, CardKind
from core.regiondata import DataRegion, load_region_data
from core.rules import Problem

CODE = "shenzhen"
SOURCE = "000_acc9b246733ddaa2.txt"

# Two independent series (prefix + 7 digits): the guide's query screen shows WSZ0000987-988 and
# SZ0001049-1127 on the same day, so each counts on its own (core keeps one counter per series), and an
# SZ number sits in the online review state 已提交待审核, so SZ is not "the counter". The guide never says
# which applications get which; read here as W = 网上 (the portal, www.szcpport.cn) and SZ for every
# other channel (the apps, the window, self-service). The guide prints this as an interpretation
# (region.toml, [[region.readings]] topic "channels").
PORTAL_PREFIX = "WSZ"
OTHER_PREFIX = "SZ"
PORTAL_CHANNEL = "web"


class Shenzhen(DataRegion):
    """Data from region.toml; hookimpls here only for rules that are logic."""

    @hookimpl
    def acceptance_number(self, region: str, application: Application, seq: int) -> str | None:
        prefix = PORTAL_PREFIX if application.channel == PORTAL_CHANNEL else OTHER_PREFIX
        return f"{prefix}{seq:07d}"

    @hookimpl
    def validate_application(self, region: str, application: Application) -> list[Problem] | None:
        problems: list[Problem] = []
        if application.business is Business.ENROL:
            # 法人卡信息不可修改: the legal card row is the legal representative's, as registered.
            rep = application.enterprise.legal_rep
            for n, item in enumerate(application.items, start=1):
                if item.kind is CardKind.LEGAL and (item.holder.id_number, item.holder.name) != (
                    rep.id_number,
                    rep.name,
                ):
                    problems.append(self.data.region.requirement("enrol_legal_card_fixed").problem(
                        f"items[{n}].holder",
                        "新入网的法人卡信息不可修改，须为营业执照登记的法定代表人",
                        "the legal card of a new enrolment cannot be changed: it must be the "
                        "legal representative on the business licence"))
        return problems


plugin = Shenzhen(load_region_data(Path(__file__).with_name("region.toml")))
