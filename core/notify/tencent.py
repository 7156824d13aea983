"""Tencent Cloud SMS through its official Python SDK (``tencentcloud-sdk-python-sms``), API 2021-01-11.

``SendSms`` (https://cloud.tencent.com/document/api/382/55981): ``PhoneNumberSet`` in E.164
(``+86`` and the number), ``SmsSdkAppId``, ``SignName`` (the approved signature), ``TemplateId`` (an
approved template) and ``TemplateParamSet`` (the template's ``{1}``, ``{2}`` ... in order). The SDK signs
each request with TC3-HMAC-SHA256 (https://cloud.tencent.com/document/api/382/52072). Chinese SMS
templates are approved in advance, so the wording on the phone is the template's: the deployment
registers each notice's SMS text (``eportcard notify templates`` prints them with their parameters
numbered) and lists the template ids under ``[sms] options.templates``.

``SessionContext`` carries the message's idempotency key (returned as is, at most 512 bytes), so a
provider-side record can be matched to the outbox row. ``endpoint`` and ``protocol`` point the SDK
elsewhere (a local stand-in in the tests; plain HTTP only to this machine).
"""

from __future__ import annotations

from attrs import frozen

from core.notify.base import GatewayContext, Outgoing, SendError
from core.notify.options import read_options, refuse_plain_http, required_secret

NAME = "tencent"
# Error codes of SendStatus.Code / the API that sending again cannot fix (Tencent Cloud SMS error codes,
# https://cloud.tencent.com/document/api/382/55981#6.-.E9.94.99.E8.AF.AF.E7.A0.81).
PERMANENT_PREFIXES = ("InvalidParameterValue.", "FailedOperation.TemplateIncorrectOrUnapproved",
                      "FailedOperation.SignatureIncorrectOrUnapproved", "FailedOperation.PhoneNumberInBlacklist",
                      "UnsupportedOperation.")


@frozen
class TencentOptions:
    secret_id: str
    sdk_app_id: str
    sign_name: str
    templates: dict[str, str]  # notice kind (or "verification_code") -> approved template id
    region: str = "ap-guangzhou"
    endpoint: str = "sms.tencentcloudapi.com"
    protocol: str = "https"
    ca_file: str = ""  # a CA bundle to trust instead of the system's (a private stand-in)
    timeout_seconds: int = 10
    secret_key_file: str = ""  # read by the secret reader, not here


class TencentSms:
    name = NAME
    channel = "sms"
    keeps_text = False

    def __init__(self, options: TencentOptions, secret_key: str) -> None:
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import sms_client

        self.options = options
        http = HttpProfile(protocol=options.protocol, endpoint=options.endpoint, reqTimeout=options.timeout_seconds,
                           certification=options.ca_file or None)
        self._client = sms_client.SmsClient(credential.Credential(options.secret_id, secret_key), options.region,
                                            ClientProfile(httpProfile=http))

    def send(self, message: Outgoing) -> str:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
        from tencentcloud.sms.v20210111 import models

        template = self.options.templates.get(message.kind)
        if not template:
            raise SendError(f"no template id for {message.kind} in [sms] options.templates", permanent=True)
        request = models.SendSmsRequest()
        request.PhoneNumberSet = [f"+86{message.recipient}"]
        request.SmsSdkAppId = self.options.sdk_app_id
        request.SignName = self.options.sign_name
        request.TemplateId = template
        request.TemplateParamSet = list(message.params)
        request.SessionContext = message.key[:200]
        try:
            response = self._client.SendSms(request)
        except TencentCloudSDKException as exc:
            code = exc.get_code() or "ClientNetworkError"
            raise SendError(f"{code}: {exc.get_message()}", permanent=code.startswith(PERMANENT_PREFIXES)) from None
        status = (response.SendStatusSet or [None])[0]
        if status is None:
            raise SendError("the provider answered without a send status")
        if status.Code != "Ok":
            raise SendError(f"{status.Code}: {status.Message}", permanent=status.Code.startswith(PERMANENT_PREFIXES))
        return str(status.SerialNo or "")


def make(context: GatewayContext) -> TencentSms:
    options = read_options(TencentOptions, context, NAME)
    refuse_plain_http(options.endpoint, options.protocol, context, "protocol", NAME)
    return TencentSms(options, required_secret(context, "secret_key", NAME))


__all__ = ["NAME", "TencentOptions", "TencentSms", "make"]
