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

# The guide's query screen lists both forms: WSZ0000988 and SZ0001127 (prefix + 7 digits).
# The "W" (网上) numbers are the ones lodged online; counter applications carry "SZ".
ONLINE_PREFIX = "WSZ"
COUNTER_PREFIX = "SZ"
ONLINE_CHANNELS = frozenset({"web", "mobile_app"})


class Shenzhen(DataRegion):
    """Data from region.toml; hookimpls here only for rules that are logic."""

    @hookimpl
    def acceptance_number(self, region: str, application: Application, seq: int) -> str | None:
        prefix = ONLINE_PREFIX if application.channel in ONLINE_CHANNELS else COUNTER_PREFIX
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
                    problems.append(
                        Problem(
                            field=f"items[{n}].holder",
                            zh="新入网的法人卡信息不可修改，须为营业执照登记的法定代表人",
                            en="the legal card of a new enrolment cannot be changed: it must be the "
                            "legal representative on the business licence",
                            source=SOURCE,
                        )
                    )
        return problems


plugin = Shenzhen(load_region_data(Path(__file__).with_name("region.toml")))
