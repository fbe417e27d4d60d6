"""The official Huawei SDKs against a running moorage: AK/SK signatures with a project id, project
lookup through the IAM endpoint, and signed requests that were tampered with on the way."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials, Credentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.region.region import Region
from huaweicloudsdkswr.v2 import ListNamespacesRequest, SwrClient

from tests.auth.sdk_requests import build, sign
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.support.accounts import Account, project_id
from tests.support.servers import ServerProcess

ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)


@pytest.fixture(scope="module")
def keys(shared_moorage: ServerProcess, shared_admin_keys: tuple[str, str]) -> tuple[str, str, str]:
    """(AK, SK, project id) of the administrator."""
    access, secret = shared_admin_keys
    return access, secret, project_id(shared_moorage)


@pytest.fixture(autouse=True)
def _clear_sdk_cache() -> Iterator[None]:
    Credentials._CACHE.clear()  # the SDK caches project lookups per AK and region in the class
    yield
    Credentials._CACHE.clear()


def test_swr_sdk_with_project_id(shared_moorage: ServerProcess, keys: tuple[str, str, str]) -> None:
    access, secret, project = keys
    client = (
        SwrClient.new_builder()
        .with_credentials(BasicCredentials(access, secret, project))
        .with_endpoints([shared_moorage.base_url])
        .build()
    )
    response = client.list_namespaces(ListNamespacesRequest())
    assert response.namespaces == [] or all(isinstance(n.name, str) for n in response.namespaces)


def test_swr_sdk_looks_its_project_up_through_iam(shared_moorage: ServerProcess, keys: tuple[str, str, str]) -> None:
    access, secret, _project = keys
    credentials = BasicCredentials(access, secret).with_iam_endpoint(shared_moorage.base_url)
    client = (
        SwrClient.new_builder()
        .with_credentials(credentials)
        .with_region(Region("local-1", shared_moorage.base_url))
        .build()
    )
    client.list_namespaces(ListNamespacesRequest())
    assert credentials.project_id == _project


def test_wrong_secret_key_is_refused(shared_moorage: ServerProcess, keys: tuple[str, str, str]) -> None:
    access, _secret, project = keys
    client = (
        SwrClient.new_builder()
        .with_credentials(BasicCredentials(access, "x" * 40, project))
        .with_endpoints([shared_moorage.base_url])
        .build()
    )
    with pytest.raises(ClientRequestException) as caught:
        client.list_namespaces(ListNamespacesRequest())
    assert caught.value.status_code == 401
    assert caught.value.error_code == "SVCSTG.SWR.4010000"
    assert caught.value.request_id  # X-Request-Id reached the SDK


def _send(
    request: object, *, url: str | None = None, body: str | None = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    """Send a signed SdkRequest as the SDK would, with parts replaced after signing."""
    return httpx.request(
        request.method,
        url or request.url,  # type: ignore[attr-defined]
        headers={**request.header_params, **(headers or {})},  # type: ignore[attr-defined]
        content=(body if body is not None else request.body) or b"",
    )  # type: ignore[attr-defined]


@pytest.mark.parametrize("tamper", ["path", "query", "body", "header", "date", "stale", "secret"])
def test_tampered_requests_are_refused(shared_moorage: ServerProcess, keys: tuple[str, str, str], tamper: str) -> None:
    access, secret, project = keys
    now = datetime.now(UTC)
    body = '{"namespace": "tamper-check"}'

    def signed(*, sk: str = secret, at: datetime = now) -> object:
        return sign(
            build(
                shared_moorage.address,
                method="POST",
                path="/v2/manage/namespaces",
                query=[("x", "1")],
                body=body,
                headers={"X-Project-Id": project},
                signed_at=at,
            ),
            ak=access,
            sk=sk,
        )

    ok = _send(signed())
    assert ok.status_code in (201, 409), ok.text  # the untouched request is accepted
    if tamper == "secret":
        response = _send(signed(sk="y" * 40))
    elif tamper == "stale":
        response = _send(signed(at=now - timedelta(minutes=16)))
    else:
        request = signed()
        url: str = request.url  # type: ignore[attr-defined]
        response = _send(
            request,
            url={
                "path": url.replace("/v2/manage/namespaces", "/v2/manage/utils/secret"),
                "query": url.replace("x=1", "x=2"),
            }.get(tamper),
            body=body.replace("check", "chick") if tamper == "body" else None,
            headers={
                "header": {"X-Project-Id": "0" * 32},
                "date": {"X-Sdk-Date": (now + timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")},
            }.get(tamper),
        )
    assert response.status_code == 401, (tamper, response.status_code, response.text)
    assert response.json()["error_code"] == "SVCSTG.SWR.4010000"
