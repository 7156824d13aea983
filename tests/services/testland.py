"""Testland: a made-up region the service tests run against (one enrolment, one business with a
region step), shared by tests/services/conftest.py and the tests that build their own variant."""

from __future__ import annotations

from core.model import AppState, Business
from core.regiondata import BusinessRules, RegionData
from core.rules import (
    Channel,
    ChannelKind,
    Deadline,
    Material,
    MaterialForm,
    Milestone,
    Outlet,
    OutletKind,
    Region,
    Step,
    StepActor,
    Text,
    Timeframe,
    UploadPolicy,
)

TESTLAND = RegionData(
    region=Region(code="testland", name=Text("测试", "Testland"), centre=Text("测试分中心", "Test centre"),
                  provinces=("广东省",), acceptance_prefix="TL"),
    businesses=(
        BusinessRules(
            business=Business.ENROL, name=Text("新入网", "Enrolment"),
            channels=(Channel(kind=ChannelKind.WEB, name=Text("网上办理", "Online")),),
            materials=(Material(code="licence", name=Text("营业执照", "Licence"), form=MaterialForm.SCAN),),
            timeframe=Timeframe(deadlines=(
                Deadline(code="done", name=Text("办结", "Done"), days=4, counted_from=Milestone.ACCEPTED),)),
            upload=UploadPolicy(media_types=("image/png", "application/pdf"), max_bytes=2 * 1024 * 1024)),
        BusinessRules(
            business=Business.ADD_CARD, name=Text("新增卡", "Add card"),
            channels=(Channel(kind=ChannelKind.WEB, name=Text("网上办理", "Online")),),
            steps=(Step(code="aic_review", name=Text("工商审核", "AIC review"), after=AppState.ACCEPTED,
                        actor=StepActor.EXTERNAL),)),
    ),
    outlets=(Outlet(code="tl-window", name=Text("测试窗口", "Test window"), kind=OutletKind.CENTRE,
                    address=Text("测试路1号", "1 Test Road"), mail_possible=True),),
)
