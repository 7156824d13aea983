"""What core tells enterprises (notices), in which words, and how long an SMS may be (pure: no I/O).

A notice is a kind and its facts. Core fixes the facts (:data:`FACTS`: which ones each kind has, and
which a text must carry); a region may change the wording through the ``notice_wording`` hook, never
the facts: its templates may use only the kind's facts (``{tracking_no}``) and must use every fact
:data:`REQUIRED` names, or core's own wording is used instead (:func:`check_wording`).

Each notice is rendered in Chinese and English: an e-mail carries both, an SMS one (the enterprise's
choice) and must fit :data:`SMS_PARTS` parts. A Chinese SMS (UCS-2) is one part up to 70 characters and
67 per part beyond; a pure GSM-7 text 160, then 153 per part; the signature 【...】 counts too (Alibaba
Cloud SMS, 短信发送规则, https://help.aliyun.com/document_detail/44335.htm; Tencent Cloud counts alike).
A fact too long for the SMS is shortened with "…" (the e-mail and the portal have it whole).
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from enum import StrEnum

from attrs import frozen

from core.rules import Text


class NoticeKind(StrEnum):
    APPLICATION_ACCEPTED = "application_accepted"  # 受理
    APPLICATION_RETURNED = "application_returned"  # 退单 (with the reasons)
    READY_FOR_PICKUP = "ready_for_pickup"          # 办结, collect at the counter (where, what to bring)
    COMPLETED = "completed"                        # 办结 (cards to be mailed, or nothing to collect)
    SHIPPED = "shipped"                            # 邮寄 (carrier, tracking number)
    CARD_LOCKED = "card_locked"
    CERTIFICATE_RENEWED = "certificate_renewed"
    CARD_FROZEN = "card_frozen"
    CARD_REPORTED_LOST = "card_reported_lost"
    RENEWAL_REMINDER = "renewal_reminder"          # the certificate expires within the reminder point


# Facts every notice has: the branch centre, its hotline, the enterprise.
COMMON_FACTS = ("centre", "hotline", "enterprise")
_APP = ("acceptance_no", "business")
_CARD = ("card", "device_no")

FACTS: dict[NoticeKind, tuple[str, ...]] = {
    NoticeKind.APPLICATION_ACCEPTED: (*_APP, "due"),
    NoticeKind.APPLICATION_RETURNED: (*_APP, "reasons", "note"),
    NoticeKind.READY_FOR_PICKUP: (*_APP, "outlet", "address", "hours", "bring"),
    NoticeKind.COMPLETED: _APP,
    NoticeKind.SHIPPED: (*_APP, "carrier", "tracking_no"),
    NoticeKind.CARD_LOCKED: _CARD,
    NoticeKind.CERTIFICATE_RENEWED: (*_CARD, "not_after"),
    NoticeKind.CARD_FROZEN: _CARD,
    NoticeKind.CARD_REPORTED_LOST: _CARD,
    NoticeKind.RENEWAL_REMINDER: (*_CARD, "not_after", "days_left", "renew_how"),
}

# What every text of a kind must carry (the SMS and the e-mail alike).
REQUIRED: dict[NoticeKind, tuple[str, ...]] = {
    NoticeKind.APPLICATION_ACCEPTED: ("acceptance_no",),
    NoticeKind.APPLICATION_RETURNED: ("acceptance_no", "reasons"),
    NoticeKind.READY_FOR_PICKUP: ("acceptance_no", "outlet"),
    NoticeKind.COMPLETED: ("acceptance_no",),
    NoticeKind.SHIPPED: ("carrier", "tracking_no"),
    NoticeKind.CARD_LOCKED: ("card",),
    NoticeKind.CERTIFICATE_RENEWED: ("card", "not_after"),
    NoticeKind.CARD_FROZEN: ("card",),
    NoticeKind.CARD_REPORTED_LOST: ("card",),
    NoticeKind.RENEWAL_REMINDER: ("card", "not_after"),
}

# Facts an SMS never shortens: a shortened number is a wrong one.
KEPT_WHOLE = frozenset({"acceptance_no", "tracking_no", "not_after", "days_left", "due", "device_no", "hotline"})

# How many parts an SMS of each kind may take (with the longest facts, shortened to fit).
SMS_PARTS: dict[NoticeKind, int] = {kind: 1 for kind in NoticeKind} | {
    NoticeKind.APPLICATION_RETURNED: 2, NoticeKind.READY_FOR_PICKUP: 2, NoticeKind.RENEWAL_REMINDER: 2}


@frozen
class Wording:
    """The templates of one kind: ``{fact}`` placeholders, nothing else (no ``{a.b}``, no format spec)."""

    subject: Text
    body: Text
    sms: Text


@frozen
class Rendered:
    subject: Text
    body: Text
    sms: Text
    sms_params: tuple[tuple[str, ...], tuple[str, ...]]  # (zh, en): the SMS's facts in template order


class WordingProblem(ValueError):
    pass


def placeholders(template: str) -> list[str]:
    """The ``{names}`` in ``template``, in order; a problem for anything but a plain name."""
    names = []
    for _literal, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise WordingProblem(f"placeholder {{{name}}} must be a plain fact name")
        names.append(name)
    return names


def check_wording(kind: NoticeKind, wording: Wording) -> None:
    """Raise :class:`WordingProblem` unless every template uses only the kind's facts and all it requires."""
    allowed = set(FACTS[kind]) | set(COMMON_FACTS)
    for part in ("subject", "body", "sms"):
        text: Text = getattr(wording, part)
        for lang, template in (("zh", text.zh), ("en", text.en)):
            if not template.strip():
                raise WordingProblem(f"{kind} {part} ({lang}) is empty")
            used = placeholders(template)
            if unknown := set(used) - allowed:
                raise WordingProblem(f"{kind} {part} ({lang}) uses facts it does not have: {sorted(unknown)}")
            if part != "subject" and (missing := set(REQUIRED[kind]) - set(used)):
                raise WordingProblem(f"{kind} {part} ({lang}) leaves out {sorted(missing)}")


# ---- SMS length -------------------------------------------------------------------------------------------

# GSM 03.38 basic character set (a text of these only is sent 7-bit, 160 characters a part).
_GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
            "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")


def sms_length(text: str, signature: str = "") -> int:
    """Characters the provider counts: the signature in 【】 plus the text."""
    return (len(signature) + 2 if signature else 0) + len(text)


def sms_parts(text: str, signature: str = "") -> int:
    """Parts (billed messages) an SMS takes: 70 / 67 per part with any Chinese (UCS-2), 160 / 153 in GSM-7."""
    whole = (f"【{signature}】" if signature else "") + text
    single, multi = (160, 153) if set(whole) <= _GSM7 else (70, 67)
    n = len(whole)
    return 1 if n <= single else math.ceil(n / multi)


def _fit(template: str, facts: Mapping[str, str], parts: int, signature: str) -> tuple[str, tuple[str, ...]]:
    """``template`` filled with ``facts``, and the facts it used in order (a template provider gets those);
    while it takes more than ``parts``, the longest fact is shortened."""
    values = dict(facts)
    names = placeholders(template)
    while True:
        text = template.format_map(values)
        used = [name for name in names if name not in KEPT_WHOLE and len(values[name]) > 4]
        if sms_parts(text, signature) <= parts or not used:  # not used: the wording itself is too long
            return text, tuple(values[name] for name in names)
        longest = max(used, key=lambda name: len(values[name]))
        values[longest] = values[longest][: max(4, len(values[longest]) - 8)].rstrip("…") + "…"


def render(kind: NoticeKind, wording: Wording, facts: Mapping[str, Text], signature: str = "") -> Rendered:
    """Every text of the notice in both languages. ``facts`` has every fact of the kind (missing ones are
    blank); a fact without English is shown in Chinese."""
    names = (*COMMON_FACTS, *FACTS[kind])
    by_lang = {lang: {name: facts.get(name, Text("")).get(lang) for name in names} for lang in ("zh", "en")}

    def each(text: Text) -> Text:
        return Text(text.zh.format_map(by_lang["zh"]), text.en.format_map(by_lang["en"]))

    (zh, zh_params), (en, en_params) = (_fit(getattr(wording.sms, lang), by_lang[lang], SMS_PARTS[kind], signature)
                                        for lang in ("zh", "en"))
    return Rendered(subject=each(wording.subject), body=each(wording.body), sms=Text(zh, en),
                    sms_params=(zh_params, en_params))


def _w(subject: tuple[str, str], body: tuple[str, str], sms: tuple[str, str]) -> Wording:
    return Wording(Text(*subject), Text(*body), Text(*sms))


_SIGN_OFF = ("\n\n{centre}  咨询电话 {hotline}", "\n\n{centre}  Hotline {hotline}")

# Core's wording: what every region says unless its plugin says it otherwise (notice_wording).
DEFAULT_WORDING: dict[NoticeKind, Wording] = {
    NoticeKind.APPLICATION_ACCEPTED: _w(
        ("申请已受理：{acceptance_no}", "Application accepted: {acceptance_no}"),
        ("{enterprise}：您的{business}申请（受理编号 {acceptance_no}）已受理，预计 {due} 前办结。" + _SIGN_OFF[0],
         "{enterprise}: your application for {business} ({acceptance_no}) was accepted; it is due by {due}."
         + _SIGN_OFF[1]),
        ("您的申请{acceptance_no}已受理，预计{due}前办结。",
         "{acceptance_no} accepted, due {due}.")),
    NoticeKind.APPLICATION_RETURNED: _w(
        ("申请被退回：{acceptance_no}", "Application returned: {acceptance_no}"),
        ("{enterprise}：您的{business}申请（受理编号 {acceptance_no}）被退回。\n原因：{reasons}\n说明：{note}\n"
         "请在门户修改后重新提交。" + _SIGN_OFF[0],
         "{enterprise}: your application for {business} ({acceptance_no}) was returned.\nReasons: {reasons}\n"
         "Note: {note}\nCorrect it in the portal and submit it again." + _SIGN_OFF[1]),
        ("您的申请{acceptance_no}被退回：{reasons}。请登录门户修改后重新提交。",
         "{acceptance_no} returned: {reasons}. Correct it in the portal.")),
    NoticeKind.READY_FOR_PICKUP: _w(
        ("可以领卡：{acceptance_no}", "Ready for pick-up: {acceptance_no}"),
        ("{enterprise}：您的{business}申请（受理编号 {acceptance_no}）已办结，请到 {outlet} 领取。\n地址：{address}\n"
         "时间：{hours}\n请携带：{bring}" + _SIGN_OFF[0],
         "{enterprise}: your application for {business} ({acceptance_no}) is done; collect it at {outlet}.\n"
         "Address: {address}\nHours: {hours}\nBring: {bring}" + _SIGN_OFF[1]),
        ("您的申请{acceptance_no}已办结，请到{outlet}领取，请携带：{bring}",
         "{acceptance_no} done: collect at {outlet}; bring {bring}")),
    NoticeKind.COMPLETED: _w(
        ("申请已办结：{acceptance_no}", "Application completed: {acceptance_no}"),
        ("{enterprise}：您的{business}申请（受理编号 {acceptance_no}）已办结。" + _SIGN_OFF[0],
         "{enterprise}: your application for {business} ({acceptance_no}) is completed." + _SIGN_OFF[1]),
        ("您的申请{acceptance_no}已办结。", "{acceptance_no} is completed.")),
    NoticeKind.SHIPPED: _w(
        ("卡已寄出：{tracking_no}", "Cards shipped: {tracking_no}"),
        ("{enterprise}：您的申请（受理编号 {acceptance_no}）的卡已由 {carrier} 寄出，运单号 {tracking_no}（到付）。"
         "签收前请当面检查。" + _SIGN_OFF[0],
         "{enterprise}: the cards of application {acceptance_no} were shipped by {carrier}, tracking number "
         "{tracking_no} (cash on delivery). Check them before you sign for them." + _SIGN_OFF[1]),
        ("您的卡已由{carrier}寄出，运单号{tracking_no}，到付。",
         "Cards sent by {carrier}, no. {tracking_no}, COD.")),
    NoticeKind.CARD_LOCKED: _w(
        ("卡已锁定", "Card locked"),
        ("{enterprise}：{card}（设备编号 {device_no}）因密码连续输错已锁定，请按本分中心的解锁业务办理。" + _SIGN_OFF[0],
         "{enterprise}: {card} (device {device_no}) is locked after repeated wrong PINs; apply for an unlock."
         + _SIGN_OFF[1]),
        ("{card}因密码连续输错已锁定，请办理解锁。", "{card} locked (wrong PINs): apply to unlock.")),
    NoticeKind.CERTIFICATE_RENEWED: _w(
        ("证书已更新", "Certificate renewed"),
        ("{enterprise}：{card}（设备编号 {device_no}）的证书已更新，有效期至 {not_after}，密码已重置为初始密码，"
         "请尽快修改。" + _SIGN_OFF[0],
         "{enterprise}: the certificate of {card} (device {device_no}) was renewed, valid until {not_after}; "
         "the PIN is back to the initial one: change it soon." + _SIGN_OFF[1]),
        ("{card}证书已更新，有效期至{not_after}，请修改初始密码。",
         "{card} renewed to {not_after}; change the PIN.")),
    NoticeKind.CARD_FROZEN: _w(
        ("卡已冻结", "Card frozen"),
        ("{enterprise}：{card}（设备编号 {device_no}）已冻结，证书暂停使用。如非本企业操作，请立即致电。" + _SIGN_OFF[0],
         "{enterprise}: {card} (device {device_no}) is frozen and its certificate on hold. If you did not ask "
         "for this, call us at once." + _SIGN_OFF[1]),
        ("{card}已冻结，证书暂停使用。", "{card} frozen, certificate on hold.")),
    NoticeKind.CARD_REPORTED_LOST: _w(
        ("卡已挂失", "Card reported lost"),
        ("{enterprise}：{card}（设备编号 {device_no}）已挂失，证书暂停使用。找回后可解除挂失，否则请办理补办。"
         + _SIGN_OFF[0],
         "{enterprise}: {card} (device {device_no}) is reported lost and its certificate on hold. Found: cancel "
         "the report; otherwise apply for a reissue." + _SIGN_OFF[1]),
        ("{card}已挂失，证书暂停使用。", "{card} reported lost, certificate on hold.")),
    NoticeKind.RENEWAL_REMINDER: _w(
        ("证书将于 {not_after} 到期", "Certificate expires on {not_after}"),
        ("{enterprise}：{card}（设备编号 {device_no}）的证书将于 {not_after} 到期（还有 {days_left} 天），到期后无法"
         "申报。请及时更新：{renew_how}" + _SIGN_OFF[0],
         "{enterprise}: the certificate of {card} (device {device_no}) expires on {not_after} (in {days_left} "
         "days); after that it cannot sign declarations. Renew it: {renew_how}" + _SIGN_OFF[1]),
        ("{card}证书将于{not_after}到期，请及时更新：{renew_how}",
         "{card} expires {not_after}; renew: {renew_how}")),
}

__all__ = ["COMMON_FACTS", "DEFAULT_WORDING", "FACTS", "KEPT_WHOLE", "REQUIRED", "SMS_PARTS", "NoticeKind", "Rendered",
           "Wording", "WordingProblem", "check_wording", "placeholders", "render", "sms_length", "sms_parts"]
