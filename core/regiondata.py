"""Regions as data: a TOML file structured by core's rule types, answered by ``DataRegion``.

A region plugin is usually::

    from core.regiondata import DataRegion, load_region_data

    class Xian(DataRegion):
        ...  # hookimpls only for rules that are logic

    plugin = Xian(load_region_data(Path(__file__).with_name("region.toml")))

``DataRegion`` answers every rule hook from the data. The rulebook calls a region's hooks
only on that region's plugin, so no hookimpl checks the ``region`` argument.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import attrs
from attrs import field, frozen

from core import conditions, hookimpl
from core.convert import Mistake, make_config_converter, mistakes
from core.errors import ConfigError
from core.model import Application, Business, Enterprise
from core.rules import (
    BusinessOffer,
    CardPolicy,
    Channel,
    CourierPolicy,
    Form,
    Material,
    MediumPolicy,
    Outlet,
    Region,
    SourceDocument,
    Step,
    Text,
    Timeframe,
    UploadPolicy,
)
from core.toml_lines import key_lines, line_of


@frozen
class BusinessRules:
    """Everything a region states about one business."""

    business: Business
    name: Text
    channels: tuple[Channel, ...] = ()
    note: Text | None = None
    self_service_only: bool = False
    materials: tuple[Material, ...] = ()
    courier: CourierPolicy | None = None
    timeframe: Timeframe | None = None
    steps: tuple[Step, ...] = ()
    medium: MediumPolicy | None = None
    forms: tuple[str, ...] = ()  # codes of RegionData.forms
    upload: UploadPolicy | None = None
    source: str | None = None


@frozen
class RegionDefaults:
    """Rules the source states once for all its businesses (e.g. Xiamen's EMS-only post)."""

    courier: CourierPolicy | None = None
    timeframe: Timeframe | None = None
    medium: MediumPolicy | None = None
    upload: UploadPolicy | None = None


@frozen
class CitedSource:
    """What a region says of one document its rules cite (``[sources."FILE"]``)."""

    title: Text  # the document's own heading where it has one


@frozen
class RegionData:
    region: Region
    businesses: tuple[BusinessRules, ...] = field()
    outlets: tuple[Outlet, ...] = ()
    forms: tuple[Form, ...] = ()
    card_policy: CardPolicy | None = None
    defaults: RegionDefaults = RegionDefaults()
    # file name (what the rules' ``source`` holds) -> its title; DataRegion registers them as Region.sources
    sources: dict[str, CitedSource] = field(factory=dict)

    def rules(self, business: Business) -> BusinessRules | None:
        for b in self.businesses:
            if b.business == business:
                return b
        return None


def load_region_data(path: Path | str) -> RegionData:
    """Read and structure a region TOML file. Every problem is reported, one line each, as
    ``FILE:LINE: $.path: reason`` (the path keeps list indexes: ``$.businesses[0].materials[2].form``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"无法读取分中心数据 {path}：{exc}", f"cannot read region data {path}: {exc}") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = f"{path}:{_syntax_error_line(exc, text)}"
        raise ConfigError(f"分中心数据不是合法的 TOML：\n{where}: {exc}",
                          f"region data is not valid TOML:\n{where}: {exc}") from exc
    if misplaced := _sources_in_region(raw):  # reported with the rest, not as a mistyped Region field
        raw = {**raw, "region": {k: v for k, v in raw["region"].items() if k != "sources"}}
    try:
        data = make_config_converter().structure(raw, RegionData)
    except Exception as exc:
        raise _invalid(path, text, misplaced + mistakes(exc)) from exc
    if found := misplaced + _undefined_forms(data):
        raise _invalid(path, text, found)
    if data.card_policy is not None:
        # Which card rules the source states: the keys written in [card_policy], so the guide can
        # tell a stated rule from a core default sharing the same policy object.
        written = tuple(k for k in raw.get("card_policy", {}) if k not in ("note", "source", "stated"))
        data = attrs.evolve(data, card_policy=attrs.evolve(data.card_policy, stated=written))
    documents = tuple(SourceDocument(file, cited.title) for file, cited in data.sources.items())
    return attrs.evolve(data, region=attrs.evolve(data.region, sources=documents))


def _syntax_error_line(exc: tomllib.TOMLDecodeError, text: str) -> int:
    # tomllib (Python 3.11) puts the position only in the message: "... (at line 3, column 5)" or
    # "... (at end of document)" (CPython Lib/tomllib/_parser.py, suffixed_err).
    if found := re.search(r"\(at line (\d+), column \d+\)", str(exc)):
        return int(found.group(1))
    return max(1, len(text.splitlines()))  # the end of the document: its last line


def _undefined_forms(data: RegionData) -> list[Mistake]:
    known = {f.code for f in data.forms}
    defined = ", ".join(sorted(known)) or "-"
    return [Mistake(("businesses", i, "forms", j), f"表格 {code!r} 未在 [[forms]] 中定义（已定义：{defined}）",
                    f"form {code!r} is not defined in [[forms]] (defined: {defined})")
            for i, b in enumerate(data.businesses) for j, code in enumerate(b.forms) if code not in known]


def _sources_in_region(raw: dict) -> list[Mistake]:
    # Region.sources is filled from the top-level [sources] tables: one place to write a title.
    if isinstance(raw.get("region"), dict) and "sources" in raw["region"]:
        return [Mistake(("region", "sources"), '来源的标题请写在顶层的 [sources."文件名"] 表中',
                        'write source titles in top-level [sources."FILE"] tables')]
    return []


def _invalid(path: Path, text: str, found: list[Mistake]) -> ConfigError:
    """One line per problem, in file order: ``FILE:LINE: $.path: reason``."""
    lines = key_lines(text)
    placed = sorted(((line_of(lines, m.path), m) for m in found), key=lambda pair: pair[0])
    zh = "\n".join(f"{path}:{line}: {m.where}: {m.zh}" for line, m in placed)
    en = "\n".join(f"{path}:{line}: {m.where}: {m.en}" for line, m in placed)
    return ConfigError(f"分中心数据有误：\n{zh}", f"region data is invalid:\n{en}", field=placed[0][1].where)


class DataRegion:
    """Answers the rule hooks for one region from its :class:`RegionData`."""

    def __init__(self, data: RegionData) -> None:
        self.data = data
        self.code = data.region.code

    @hookimpl
    def register_regions(self) -> list[Region]:
        return [self.data.region]

    @hookimpl
    def businesses(self, region: str) -> list[BusinessOffer] | None:
        return [
            BusinessOffer(business=b.business, name=b.name, channels=b.channels, note=b.note,
                          self_service_only=b.self_service_only, source=b.source)
            for b in self.data.businesses
        ]

    @hookimpl
    def required_materials(self, region: str, business: Business,
                           application: Application | None) -> list[Material] | None:
        rules = self.data.rules(business)
        if rules is None:
            return None
        if application is None:
            return list(rules.materials)
        return [m for m in rules.materials
                if m.applies_to(application.channel) and conditions.holds(m.condition, application)]

    @hookimpl
    def courier_policy(self, region: str, business: Business) -> CourierPolicy | None:
        rules = self.data.rules(business)
        return (rules and rules.courier) or self.data.defaults.courier

    @hookimpl
    def outlets(self, region: str) -> list[Outlet] | None:
        return list(self.data.outlets)

    @hookimpl
    def timeframe(self, region: str, business: Business) -> Timeframe | None:
        rules = self.data.rules(business)
        return (rules and rules.timeframe) or self.data.defaults.timeframe

    @hookimpl
    def workflow_steps(self, region: str, business: Business) -> list[Step] | None:
        rules = self.data.rules(business)
        return list(rules.steps) if rules else None

    @hookimpl
    def medium_policy(self, region: str, business: Business,
                      enterprise: Enterprise | None) -> MediumPolicy | None:
        rules = self.data.rules(business)
        return (rules and rules.medium) or self.data.defaults.medium

    @hookimpl
    def forms(self, region: str, business: Business) -> list[Form] | None:
        rules = self.data.rules(business)
        if rules is None:
            return None
        by_code = {f.code: f for f in self.data.forms}
        return [by_code[c] for c in rules.forms]

    @hookimpl
    def upload_policy(self, region: str, business: Business) -> UploadPolicy | None:
        rules = self.data.rules(business)
        return (rules and rules.upload) or self.data.defaults.upload

    @hookimpl
    def card_policy(self, region: str) -> CardPolicy | None:
        return self.data.card_policy

    @hookimpl
    def acceptance_number(self, region: str, application: Application, seq: int) -> str | None:
        prefix = self.data.region.acceptance_prefix
        return f"{prefix}{seq:07d}" if prefix else None
