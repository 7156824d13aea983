"""Stable codes used by the CLI, the API, the database and plugins (see DESIGN.md); their labels are in
core.labels."""

from __future__ import annotations

from enum import StrEnum


class Business(StrEnum):
    ENROL = "enrol"                          # 新入网 / 新办
    CHANGE_ENTERPRISE = "change_enterprise"  # 企业基本信息变更 / 备案资料变更
    CHANGE_HOLDER = "change_holder"          # 持卡人信息变更 / 变更操作员
    ADD_CARD = "add_card"                    # 新增操作员卡 / 报关员卡
    REISSUE = "reissue"                      # 补办
    RENEW = "renew"                          # 证书更新 / 延期
    UNLOCK = "unlock"                        # 解锁
    RESET_PIN = "reset_pin"                  # 密码初始化 / 密码重置
    CANCEL_CARD = "cancel_card"              # 注销操作员卡 / 报关员卡
    DEREGISTER = "deregister"                # 注销企业 / 退网
    BUY_READER = "buy_reader"                # 购买读卡器 / 自购读卡器领取
    TEMPORARY_CARD = "temporary_card"        # 临时卡


class CardKind(StrEnum):
    LEGAL = "legal"          # 法人卡
    OPERATOR = "operator"    # 操作员卡
    DECLARANT = "declarant"  # 报关员卡 (needs 报关人员备案证明号)


class Medium(StrEnum):
    IC_CARD = "ic_card"              # IC卡
    USB_KEY = "usb_key"              # 智能密码钥匙 (U盾 / Key)
    SHARED_SHIELD = "shared_shield"  # 共享盾


class Pickup(StrEnum):
    COUNTER = "counter"  # 窗口领取
    MAIL = "mail"        # 邮寄 (到付)


class IdType(StrEnum):
    RESIDENT_ID = "resident_id"          # 居民身份证
    PASSPORT = "passport"                # 护照
    HK_MACAO_PERMIT = "hk_macao_permit"  # 港澳居民来往内地通行证
    TAIWAN_PERMIT = "taiwan_permit"      # 台湾居民来往大陆通行证
    FOREIGN_PERMANENT = "foreign_permanent"  # 外国人永久居留身份证


class AppState(StrEnum):
    DRAFT = "draft"                  # 暂存
    SUBMITTED = "submitted"          # 已提交
    ACCEPTED = "accepted"            # 受理中
    NEEDS_MEDIUM = "needs_medium"    # 需提供介质
    MEDIUM_READY = "medium_ready"    # 已具备介质
    IN_PRODUCTION = "in_production"  # 制卡中
    COMPLETED = "completed"          # 已处理
    REJECTED = "rejected"            # 已退单
    DELETED = "deleted"              # 已删除


class Delivery(StrEnum):
    AWAITING_PICKUP = "awaiting_pickup"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    RETURNED = "returned"
    HANDED_OVER = "handed_over"


class CardState(StrEnum):
    BLANK = "blank"
    ACTIVE = "active"
    LOCKED = "locked"
    FROZEN = "frozen"
    REPORTED_LOST = "reported_lost"
    VOIDED = "voided"
    CANCELLED = "cancelled"
    REPLACED = "replaced"
    EXPIRED = "expired"  # derived from the certificate, never stored


class RejectionReason(StrEnum):
    """The standard reasons of the national system (长春 manual 5.4); free text may follow."""

    MATERIALS_INCOMPLETE = "materials_incomplete"  # 证明材料要素不齐全或附件模糊不清
    MATERIALS_MISMATCH = "materials_mismatch"      # 证明材料与录入信息不一致
    AGENT_IDENTITY = "agent_identity"              # 经办人身份核验不通过
    ENTITY_IDENTITY = "entity_identity"            # 市场主体资格或法定代表人身份核验不通过
    REMARKS = "remarks"                            # 备注栏未填写或未按要求填写
    OTHER = "other"                                # 存在其他不符合受理的情形
