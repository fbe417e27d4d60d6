"""Build requests the way huaweicloudsdkcore does and sign them with its own signers, offline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import DerivationAKSKSigner, Signer

AK = "AKMOORAGE0TEST0KEY01"
SK = "Sk0123456789abcdefghijklmnopqrstuvwxyzAB"
OTHER_SK = "Sk0123456789abcdefghijklmnopqrstuvwxyzAC"
SIGNED_AT = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
JSON = "application/json;charset=UTF-8"
USER_AGENT = "huaweicloud-usdk-python/3.0"


def sdk_date(moment: datetime) -> str:
    """``X-Sdk-Date`` for ``moment``."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def fill_path(template: str, **parameters: object) -> str:
    """Substitute ``{name}`` path parameters as the SDK client does (``quote(str(v), safe='')``)."""
    for name, value in parameters.items():
        template = template.replace("{" + name + "}", quote(str(value), safe=""))
    return template


def build(
    host: str,
    *,
    method: str = "GET",
    path: str = "/v2/manage/namespaces",
    query: Sequence[tuple[str, Any]] = (),
    headers: dict[str, str] | None = None,
    body: str | bytes | None = None,
    content_type: str | None = JSON,
    signed_at: datetime | None = SIGNED_AT,
) -> SdkRequest:
    """An unsigned SdkRequest shaped like the ones the SDK's client builds."""
    header_params = {"User-Agent": USER_AGENT}
    if content_type is not None:
        header_params["Content-Type"] = content_type
    if signed_at is not None:
        header_params["X-Sdk-Date"] = sdk_date(signed_at)
    header_params.update(headers or {})
    return SdkRequest(
        method=method,
        schema="http",
        host=host,
        resource_path=path,
        query_params=list(query),
        header_params=header_params,
        body=body,
    )


def sign(request: SdkRequest, *, ak: str = AK, sk: str = SK, derived: tuple[str, str] | None = None) -> SdkRequest:
    """Sign in place with the SDK's signer (``derived=(service, region)`` for V11) and return it."""
    credentials = BasicCredentials(ak, sk)
    if derived is None:
        Signer(credentials).sign(request)
    else:
        service, region = derived
        DerivationAKSKSigner(credentials).sign(request, derived_auth_service_name=service, region_id=region)
    return request
