"""Sample aggregates for the store tests (full of optional parts, so round trips mean something)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from core.model import (
    Address,
    Application,
    AppState,
    Business,
    Card,
    CardEvent,
    CardKind,
    CardRequest,
    CardState,
    CertificateRef,
    Enterprise,
    MailAddress,
    Medium,
    Person,
    Pickup,
    PickupChoice,
    RejectionReason,
    Transition,
)

T0 = datetime(2026, 3, 2, 1, 2, 3, 456789, tzinfo=UTC)


def make_enterprise(uscc: str = "91440300MA5FXXXX0A", name: str = "深圳市测试贸易有限公司") -> Enterprise:
    return Enterprise(
        uscc=uscc, name=name,
        legal_rep=Person("张三", "440902199001011234", phone="13812345678",
                         id_valid_from=date(2020, 1, 1)),
        business_address=Address("广东省", "深圳市", "福田区", "福华路 1 号"),
        registered_address=Address("广东省", "深圳市", "南山区"),
        name_en="Shenzhen Test Trading Co., Ltd.",
        customs_codes=("4403123456", "4403654321"),
        enterprise_type="有限责任公司",
    )


def make_application(app_id: str = "A-0001", *, enterprise: Enterprise | None = None,
                     business: Business = Business.ENROL, region: str = "shenzhen",
                     state: AppState = AppState.DRAFT, due: date | None = None,
                     acceptance_no: str = "", created_at: datetime = T0) -> Application:
    ent = enterprise or make_enterprise()
    operator = Person("李四", "440902199202023456", phone="13900001111")
    return Application(
        id=app_id, enterprise=ent, business=business, region=region,
        also=(Business.BUY_READER,),
        items=(CardRequest(CardKind.LEGAL, ent.legal_rep),
               CardRequest(CardKind.OPERATOR, operator, medium=Medium.USB_KEY, device_no="1234567890123")),
        agent=operator,
        pickup=PickupChoice(Pickup.MAIL, mail_to=MailAddress("李四", "13900001111", "深圳市福田区")),
        remarks="新入网",
        state=state, acceptance_no=acceptance_no,
        history=(
            Transition("submit", AppState.DRAFT, AppState.SUBMITTED, "ent:李四", T0),
            Transition("reject", AppState.ACCEPTED, AppState.REJECTED, "staff:王", T0 + timedelta(hours=1),
                       reasons=(RejectionReason.REMARKS, RejectionReason.OTHER), note="备注不全"),
        ),
        steps_done=("aic_review",),
        created_at=created_at, submitted_at=T0, due=due,
    )


def make_card(card_id: str = "C-0001", *, uscc: str = "91440300MA5FXXXX0A", serial: str = "0a1b2c",
              device_no: str = "8800000000001") -> Card:
    return Card(
        id=card_id, enterprise_uscc=uscc, kind=CardKind.OPERATOR,
        holder=Person("李四", "440902199202023456"), medium=Medium.USB_KEY, state=CardState.ACTIVE,
        device_no=device_no, card_no="CHIP-77",
        certificate=CertificateRef(serial, T0, T0 + timedelta(days=3650)),
        pin_is_initial=False, application_id="A-0001",
        history=(CardEvent("activate", CardState.BLANK, CardState.ACTIVE, "staff:王", T0),),
    )
