"""Replays of SDK-signed requests: refused on every node once the repeat window after the first use
has passed, while the signature is still fresh; within the window, the identical requests a client
makes itself go through (the SDK's retries re-sign, but X-Sdk-Date has one-second resolution, so a
retry within the second carries the very same signature). And X-Sdk-Date in the future."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials, Credentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkcore.retry.backoff_strategy import BackoffStrategies
from huaweicloudsdkswr.v2 import (
    CreateNamespaceRequest,
    CreateNamespaceRequestBody,
    ListNamespacesRequest,
    SwrClient,
)

from tests.auth.sdk_requests import build, sdk_date, sign
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, MoorageFactory, _factory
from tests.support.accounts import Account, create_access_key, project_id
from tests.support.servers import ServerProcess, stop_all

ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)
REPEAT_SECONDS = 4.0
REPLAYED = "already accepted: sign each request anew"


@pytest.fixture(scope="module")
def module_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MoorageFactory]:
    factory, started = _factory(request, tmp_path_factory.mktemp("replay"))
    yield factory
    stop_all(started)


@pytest.fixture(scope="module")
def server(module_factory: MoorageFactory) -> ServerProcess:
    return module_factory(
        env={
            "MOORAGE_AUTH__SDK_SIGNATURE_REPEAT_SECONDS": str(REPEAT_SECONDS),
            "MOORAGE_JOBS__EMBEDDED_WORKER": "false",
        }
    )


@pytest.fixture(scope="module")
def keys(server: ServerProcess) -> tuple[str, str, str]:
    access, secret = create_access_key(server, ADMIN)
    return access, secret, project_id(server)


@pytest.fixture(autouse=True)
def _clear_sdk_cache() -> Iterator[None]:
    Credentials._CACHE.clear()
    yield
    Credentials._CACHE.clear()


def signed(
    server: ServerProcess,
    keys: tuple[str, str, str],
    *,
    method: str = "POST",
    path: str = "/v2/manage/namespaces",
    body: str | None = None,
    at: datetime | None = None,
) -> Any:
    access, secret, project = keys
    return sign(
        build(
            server.address,
            method=method,
            path=path,
            body=body,
            headers={"X-Project-Id": project},
            signed_at=at or datetime.now(UTC),
        ),
        ak=access,
        sk=secret,
    )


def send(request: Any) -> httpx.Response:
    """Send a signed SdkRequest as the SDK would."""
    return httpx.request(
        request.method, request.url, headers=dict(request.header_params), content=request.body or b"", timeout=30
    )


def namespace_body(name: str) -> str:
    return f'{{"namespace": "{name}"}}'


def unique(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_replay_after_the_repeat_window_is_refused(
    server: ServerProcess, keys: tuple[str, str, str], method: str
) -> None:
    body = namespace_body(unique("replay")) if method == "POST" else None
    request = signed(server, keys, method=method, body=body)
    assert send(request).status_code in (200, 201)
    time.sleep(REPEAT_SECONDS + 0.5)
    replay = send(request)
    assert replay.status_code == 401, replay.text
    assert replay.json()["error_code"] == "SVCSTG.SWR.4010000"
    assert REPLAYED in replay.json()["error_msg"]


def test_the_same_request_within_the_window_is_answered_as_usual(
    server: ServerProcess, keys: tuple[str, str, str]
) -> None:
    """Signed within one second, two requests a client means to send are identical: the second is
    answered on its merits (409: the organization exists), not refused as a replay. The window is
    short, so a pair counts only if both answers came back within it, measured from before the
    first was sent (on loaded cores one request can take longer than the window); up to five pairs."""
    for _ in range(5):
        request = signed(server, keys, body=namespace_body(unique("twice")))
        started = time.monotonic()
        assert send(request).status_code == 201
        second = send(request)
        if time.monotonic() - started < REPEAT_SECONDS:
            assert second.status_code == 409, second.text
            return
    pytest.fail(f"no two requests were answered within {REPEAT_SECONDS} s in five tries")


def test_the_signature_record_is_shared_by_nodes(
    module_factory: MoorageFactory, tmp_path: Any, pg_database_url: str
) -> None:
    """Two API nodes on one PostgreSQL (and one master key): a request accepted by one is a replay
    for the other."""
    env = {
        "MOORAGE_DATABASE_URL": pg_database_url,
        "MOORAGE_JOBS__EMBEDDED_WORKER": "false",
        "MOORAGE_AUTH__SDK_SIGNATURE_REPEAT_SECONDS": str(REPEAT_SECONDS),
    }
    first = module_factory(database="postgresql", env=env)
    second_dir = tmp_path / "second-node"
    second_dir.mkdir()
    shutil.copy(first.data_dir / "master.key", second_dir / "master.key")
    second = module_factory(database="postgresql", data_dir=second_dir, env=env)
    access, secret = create_access_key(first, ADMIN)
    keys = (access, secret, project_id(first))
    request = signed(first, keys, body=namespace_body(unique("nodes")))
    assert send(request).status_code == 201
    time.sleep(REPEAT_SECONDS + 0.5)
    replay = httpx.request(
        request.method,
        f"{second.base_url}/v2/manage/namespaces",
        headers={**request.header_params},
        content=request.body,
        timeout=30,
    )
    assert replay.status_code == 401 and REPLAYED in replay.json()["error_msg"], replay.text


@pytest.mark.parametrize(("ahead", "accepted"), [(timedelta(minutes=14), False), (timedelta(minutes=4), True)])
def test_signatures_from_the_future(
    server: ServerProcess, keys: tuple[str, str, str], ahead: timedelta, accepted: bool
) -> None:
    response = send(signed(server, keys, method="GET", at=datetime.now(UTC) + ahead))
    assert (response.status_code == 200) is accepted, response.text
    if not accepted:
        assert "ahead of the server's clock" in response.json()["error_msg"]


# --- the official SDK's own retries -------------------------------------------------------------------


def sdk(server: ServerProcess, keys: tuple[str, str, str], seen: list[str]) -> SwrClient:
    """An SwrClient that records the Authorization header of every request it sends."""
    access, secret, project = keys
    handler = HttpHandler().add_request_handler(
        lambda request, logger: seen.append(request.header_params["Authorization"])
    )
    return (
        SwrClient.new_builder()
        .with_credentials(BasicCredentials(access, secret, project))
        .with_endpoints([server.base_url])
        .with_http_handler(handler)
        .build()
    )


def test_the_sdk_retry_of_a_failed_request_is_accepted(server: ServerProcess, keys: tuple[str, str, str]) -> None:
    """The SDK re-signs each attempt; X-Sdk-Date is pinned here so both attempts carry the same
    signature, as two attempts within one second do. (The retry condition sees every attempt but
    the last, whose outcome is the call's.)"""
    name = unique("retried")
    assert (
        send(signed(server, keys, body=namespace_body(name), at=datetime.now(UTC) - timedelta(seconds=30))).status_code
        == 201
    )
    seen: list[str] = []
    first: list[int] = []

    def retry(_response: object, exception: Exception | None) -> bool:
        first.append(getattr(exception, "status_code", 0))
        return True

    create = CreateNamespaceRequest(body=CreateNamespaceRequestBody(namespace=name))
    with pytest.raises(ClientRequestException) as caught:
        sdk(server, keys, seen).create_namespace_invoker(create).add_header(
            "X-Sdk-Date", sdk_date(datetime.now(UTC))
        ).with_retry(retry, 1, BackoffStrategies.NONE).invoke()
    assert len(seen) == 2 and seen[0] == seen[1], "the two attempts should carry one signature"
    assert first == [409] and caught.value.status_code == 409, caught.value


def test_sdk_polls_with_one_signature_are_accepted(server: ServerProcess, keys: tuple[str, str, str]) -> None:
    seen: list[str] = []
    earlier: list[int] = []

    def poll(response: Any, exception: Exception | None) -> bool:
        earlier.append(getattr(exception, "status_code", 0) if exception else 200)
        return True

    answer = (
        sdk(server, keys, seen)
        .list_namespaces_invoker(ListNamespacesRequest())
        .add_header("X-Sdk-Date", sdk_date(datetime.now(UTC)))
        .with_retry(poll, 2, BackoffStrategies.NONE)
        .invoke()
    )
    assert len(seen) == 3 and len(set(seen)) == 1
    assert earlier == [200, 200] and answer.namespaces is not None


def test_an_sdk_call_replayed_later_is_refused(server: ServerProcess, keys: tuple[str, str, str]) -> None:
    """The SDK's own request, captured (its signed headers and body) and sent again later."""
    captured: list[Any] = []
    handler = HttpHandler().add_request_handler(lambda request, logger: captured.append(request))
    access, secret, project = keys
    client = (
        SwrClient.new_builder()
        .with_credentials(BasicCredentials(access, secret, project))
        .with_endpoints([server.base_url])
        .with_http_handler(handler)
        .build()
    )
    client.create_namespace(CreateNamespaceRequest(body=CreateNamespaceRequestBody(namespace=unique("captured"))))
    time.sleep(REPEAT_SECONDS + 0.5)
    replay = send(captured[0])
    assert replay.status_code == 401 and REPLAYED in replay.json()["error_msg"], replay.text
