"""Typed, bilingual card errors. The driver turns status words into these."""

from __future__ import annotations

from core.errors import EportError, InvalidInput


class CardError(EportError):
    """The card answered with a status word the operation did not expect."""

    code = "card_error"

    def __init__(self, sw: int, zh: str | None = None, en: str | None = None, *,
                 field: str | None = "card") -> None:
        self.sw = sw
        super().__init__(zh or f"卡片返回错误状态 {sw:04X}，请重新插卡后再试或联系数据分中心",
                         en or f"the card answered with status {sw:04X}; re-insert the card and retry "
                               "or contact the branch centre", field=field)


class WrongPin(CardError):
    code = "wrong_pin"

    def __init__(self, tries_left: int) -> None:
        self.tries_left = tries_left
        if tries_left:
            zh = f"密码错误，还可尝试 {tries_left} 次；次数用尽后卡将被锁定"
            en = f"wrong PIN; {tries_left} {'try' if tries_left == 1 else 'tries'} left before the card is locked"
        else:  # 63C0: that was the last try
            zh = "密码错误，次数已用尽，卡已锁定，请办理解锁（解锁后密码恢复为8个8）"
            en = "wrong PIN; no tries left: the card is now locked; apply for an unlock (the PIN becomes 88888888)"
        super().__init__(0x63C0 | tries_left, zh, en, field="pin")


class CardBlocked(CardError):
    code = "card_blocked"

    def __init__(self) -> None:
        super().__init__(0x6983, "密码连续输错次数已达上限，卡已锁定，请办理解锁（解锁后密码恢复为8个8）",
                         "the PIN was entered wrongly too many times and the card is locked; apply for "
                         "an unlock (the PIN then returns to 88888888)", field="pin")


class NotPersonalised(CardError):
    code = "not_personalised"

    def __init__(self, sw: int = 0x6A88) -> None:
        super().__init__(sw, "卡片尚未制卡（无密钥或证书），请联系数据分中心",
                         "the card is not personalised yet (no key or certificate); contact the branch "
                         "centre", field="card")


class SecurityStatusNotSatisfied(CardError):
    code = "security_status"

    def __init__(self, sw: int = 0x6982) -> None:
        super().__init__(sw, "安全状态不满足：请先校验密码，或此操作需数据分中心授权",
                         "security status not satisfied: verify the PIN first, or this operation "
                         "needs the branch centre's authorisation", field="card")


class AdminAuthFailed(CardError):
    code = "admin_auth_failed"

    def __init__(self) -> None:
        super().__init__(0x6300, "管理密钥认证失败：此卡不属于本数据分中心或主密钥不符",
                         "admin authentication failed: the card does not belong to this branch centre "
                         "or the master secret does not match", field="admin_key")


class CardRemoved(CardError):
    code = "card_removed"

    def __init__(self, detail: str = "") -> None:
        super().__init__(0, "卡片已被拔出或读卡器无响应，请重新插卡后再试",
                         "the card was removed or the reader stopped answering; insert the card and "
                         "try again" + (f" ({detail})" if detail else ""), field="card")


class NoReader(CardError):
    code = "no_reader"

    def __init__(self, name: str = "") -> None:
        super().__init__(0, f"找不到读卡器{name}，请连接读卡器",
                         f"reader {name or ''} not found; connect a card reader".replace("  ", " "),
                         field="reader")


class PinRefused(InvalidInput):
    """The new PIN breaks the PIN rules (format, initial PIN, unchanged)."""

    code = "pin_refused"


def pin_format_error(field: str = "new_pin") -> PinRefused:
    return PinRefused("密码须为6至16位数字", "the PIN must be 6 to 16 digits", field=field)


def initial_pin_refused() -> PinRefused:
    return PinRefused("新密码不能设为初始密码88888888，请设置其他密码",
                      "the new PIN may not be the initial PIN 88888888; choose another", field="new_pin")


def unchanged_pin_refused() -> PinRefused:
    return PinRefused("新密码不能与原密码相同", "the new PIN must differ from the current PIN",
                      field="new_pin")
